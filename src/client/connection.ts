/**
 * A client's attachment to the server at a region path: the current session
 * (session.ts: the region, the data file read directly, windows), the
 * watchdog, and, unless `reconnect: false`, riding through restarts and
 * pauses of the server. Lanes, the sync window and the pipeline do the I/O.
 *
 * RIDING THROUGH. While no server serves (its pid is dead, its state is
 * STOPPING or STOPPED, it has not beaten for HEARTBEAT_TIMEOUT_MS, the
 * region file was replaced or removed), direct reads keep answering from
 * the table this connection has mapped (the mapping outlives the server and
 * its file), and the connection looks at the path at most once per
 * PROBE_MS: a READY region there with another inode or epoch is a new
 * server, which becomes `current` (its data file mapped, or the old mapping
 * kept when it names the same file: a warm restart). Reads use `current`
 * from then on; writers (sync-window.ts, pipeline.ts, lane.ts) move their
 * requests to it themselves, and give up after `reconnectMs` without a
 * serving server. A paused server that beats again simply serves again.
 * With `start`, a look that finds the server dead, stopped or missing also
 * starts one (start.ts).
 *
 * `reconnect: false` keeps the first server for good: once it is found gone,
 * every call throws ServerGoneError (sticky), as before riding through.
 */
import { Region, resolveRegionPath } from '../layout/region';
import { HEARTBEAT_MS, HEARTBEAT_TIMEOUT_MS, ServerState } from '../layout/region-header';
import type { Board } from '../transport/window';
import type { Ring } from '../transport/ring';
import type { Owners } from '../transport/owners';
import { DEFAULT_WAIT_POLICY, WaitPolicy } from '../sync/waiter';
import type { TableReader } from '../store/table-reader';
import type { MappedData } from '../layout/data-file';
import { fileId, sameFile, Session, SharedSession } from './session';
import { Starter, StartOptions, START_MS } from './start';
import { RegionError, ServerGoneError } from '../errors';

export interface ConnectOptions {
  /** Region file (default $SHMKV_PATH or ./shmem_file). */
  path?: string;
  /** How long to wait for a server that is not (yet) ready, in ms (default 0). */
  waitMs?: number;
  /** Spin/yield/sleep policy for every wait. */
  policy?: WaitPolicy;
  /**
   * Ride through restarts and pauses of the server (default true): reads go
   * on from the last table, writes wait for a server. false: the first
   * server found gone fails every later call with ServerGoneError.
   */
  reconnect?: boolean;
  /** How long a write waits for a serving server before it fails, in ms (default 5000). */
  reconnectMs?: number;
  /** Start a server on the path when none is live (now, and whenever one is found dead later). */
  start?: boolean;
  /** Options of the server that `start` spawns. */
  server?: StartOptions;
}

export const DEFAULT_RECONNECT_MS = 5000;

/** What a worker thread needs to rebuild a Connection. */
export interface SharedConnection {
  session: SharedSession;
  policy: WaitPolicy;
  path: string;
  reconnect: boolean;
  reconnectMs: number;
}

/** Direct reads between two full liveness checks while the heartbeat stands still. */
const LIVE_CHECK_EVERY = 64;

export class Connection {
  /** The newest server's session: direct reads use it. */
  current: Session;
  readonly path: string;
  readonly policy: WaitPolicy;
  readonly reconnect: boolean;
  readonly reconnectMs: number;
  /** Set with `start`: starts a server when none is live. */
  readonly starter: Starter | null;
  /** Sessions this connection reserved windows in (released by close()). */
  private readonly reservedIn = new Map<number, Session>();
  private stillReads = 0;
  private reading = false;
  private lastProbeAt = 0;
  private lastLookAt = 0;
  /** reconnect: false only: the first server found gone, for good. */
  private gone: ServerGoneError | null = null;
  /** Bound once so it can be handed to waits as their idle callback (legacy mode). */
  readonly check = (): void => this.checkServer();

  private constructor(path: string, session: Session, reconnect: boolean, reconnectMs: number, starter: Starter | null) {
    this.path = path;
    this.current = session;
    this.policy = session.policy;
    this.reconnect = reconnect;
    this.reconnectMs = reconnectMs;
    this.starter = starter;
  }

  // The current session's parts, for code that needs no more than that.
  get region(): Region {
    return this.current.region;
  }
  get ring(): Ring {
    return this.current.ring;
  }
  get board(): Board {
    return this.current.board;
  }
  get owners(): Owners {
    return this.current.owners;
  }
  /** The data file, mapped read-only: direct reads. */
  get data(): MappedData {
    return this.current.data;
  }
  /** The exchange file's staging arena: the windows' staging blocks. */
  get stagingBuf(): Buffer {
    return this.current.stagingBuf;
  }
  get reader(): TableReader {
    return this.current.reader;
  }

  /**
   * Open the region at `path` and check that its server is serving. Throws
   * RegionError (missing, foreign or stale file) or ServerGoneError; with
   * `start`, first starts a server when none is live (ServerError when it
   * fails to start).
   */
  static open(opts: ConnectOptions = {}): Connection {
    const file = resolveRegionPath(opts.path);
    const reconnect = opts.reconnect ?? true;
    if (typeof reconnect !== 'boolean') throw new TypeError(`reconnect must be a boolean, got ${String(reconnect)}`);
    const reconnectMs = opts.reconnectMs ?? DEFAULT_RECONNECT_MS;
    if (typeof reconnectMs !== 'number' || !(reconnectMs >= 0) || reconnectMs > 2 ** 31) throw new RangeError(`reconnectMs must be a number of ms from 0 to 2^31, got ${String(reconnectMs)}`);
    const waitMs = opts.waitMs ?? 0;
    if (typeof waitMs !== 'number' || !(waitMs >= 0)) throw new RangeError(`waitMs must be a non-negative number of ms, got ${String(waitMs)}`);
    const policy = opts.policy ?? DEFAULT_WAIT_POLICY;
    let starter: Starter | null = null;
    if (opts.start) {
      starter = new Starter(file, opts.server ?? {});
      starter.ensure(Math.max(waitMs, START_MS));
    } else if (opts.server !== undefined) throw new TypeError('the server option needs start: true');
    const deadline = Date.now() + waitMs;
    for (;;) {
      let problem: Error;
      try {
        const before = fileId(file);
        const region = Region.open(file);
        const state = region.serverState();
        const gone = region.serverProblem();
        if (gone) problem = new ServerGoneError(`${gone} (stale region ${file})`);
        else if (state === ServerState.Ready) {
          const session = Session.attach(region, before, policy);
          return new Connection(file, session, reconnect, reconnectMs, starter);
        } else if (state === ServerState.Stopping) problem = new ServerGoneError(`the server (pid ${region.serverPid()}) is shutting down`);
        else problem = new ServerGoneError(`the server (pid ${region.serverPid()}) is still starting`);
      } catch (e) {
        if (!(e instanceof RegionError)) throw e;
        problem = e;
      }
      if (Date.now() >= deadline) throw problem;
      sleepMs(20);
    }
  }

  /**
   * Rebuild in a worker thread, on the session `s` names (its reservations
   * stay with the original; the thread reserves on later sessions itself).
   */
  static fromShared(s: SharedConnection): Connection {
    return new Connection(s.path, Session.fromShared(s.session, s.policy), s.reconnect, s.reconnectMs, null);
  }

  shared(session: Session = this.current): SharedConnection {
    return { session: session.shared(), policy: this.policy, path: this.path, reconnect: this.reconnect, reconnectMs: this.reconnectMs };
  }

  /** Reserve `count` consecutive windows in the current session; released by release() or close(). */
  reserve(count: number): number {
    this.checkServer();
    const first = this.current.reserve(count);
    this.reservedIn.set(first, this.current);
    return first;
  }

  release(first: number): void {
    const s = this.reservedIn.get(first);
    if (s === undefined) return;
    this.reservedIn.delete(first);
    s.release(first);
  }

  /** Release every reservation made through reserve(). */
  close(): void {
    for (const first of [...this.reservedIn.keys()]) this.release(first);
  }

  /**
   * The liveness check of a direct read, cheap enough for every one: two
   * loads and a compare while the heartbeat moves. While it stands still,
   * the full check (a pid probe and the clock) runs when either the
   * process's coarse clock (a 50 ms timer: fresh whenever the event loop
   * turns between reads) says a heartbeat timeout has passed since the beat
   * last moved, or every LIVE_CHECK_EVERY reads (a synchronous loop, where
   * timers do not run, reads fast enough for that count to be a short
   * time), and then at most once per heartbeat period (a clock call every
   * LIVE_CHECK_EVERY reads decides).
   *
   * reconnect: false: a direct read after the server died answers from its
   * last table for about HEARTBEAT_TIMEOUT_MS, then throws, at any read
   * rate, without a clock call per read. Otherwise it never throws for a
   * missing server: it keeps answering from the table it has, and the full
   * check also looks for a new server at the path (look()).
   */
  checkLive(): void {
    if (this.gone !== null) throw this.gone;
    const s = this.current;
    const r = s.region;
    const ready = r.serverState() === ServerState.Ready;
    if (!ready && !this.reconnect) return this.checkServer();
    if (!this.reading) {
      // The connection's first read: start the coarse clock, probe once.
      this.reading = true;
      startCoarseClock();
      this.probe();
    }
    if (ready && s.noteBeat(r.heartbeat())) this.stillReads = 0;
    else if (++this.stillReads % LIVE_CHECK_EVERY === 0 || coarseNow - s.beatSeenAt > HEARTBEAT_TIMEOUT_MS || !ready) {
      // The full probe is a signal and a read of /proc (~20 us): at most one
      // per heartbeat period, or a tight loop of reads between two beats
      // (100 ms, 100,000 reads) would spend a third of its time probing.
      const now = Date.now();
      if (now - this.lastProbeAt >= HEARTBEAT_MS) {
        this.lastProbeAt = now;
        this.probe();
      }
    }
  }

  private probe(): void {
    if (!this.reconnect) return this.checkServer();
    this.look(this.current);
  }

  /** The current server's heartbeat count (a coarse clock the local cache uses: one load). */
  get beat(): number {
    return this.current.region.heartbeat();
  }

  /**
   * Throw ServerGoneError if the current server has stopped, died, or
   * stopped beating for HEARTBEAT_TIMEOUT_MS. Sticky with `reconnect:
   * false`: once gone, gone for good (the waits of lanes use this as their
   * idle callback then). With reconnect, it only says how things are now.
   */
  checkServer(): void {
    if (this.gone !== null) throw this.gone;
    const problem = this.current.problem();
    if (problem === null) return;
    const e = new ServerGoneError(problem);
    if (!this.reconnect) this.gone = e;
    throw e;
  }

  /**
   * Riding through: why session `s`'s server does not serve now (null while
   * it serves). When it does not, also looks for a new server at the path
   * (at most once per PROBE_MS; with `start`, starts one when none is
   * live: client/start.ts), which then becomes `current`: a writer on `s` sees
   * `current !== s` and moves.
   */
  look(s: Session, now = Date.now()): string | null {
    const problem = s.problem(now);
    if (problem === null) return null;
    if (s === this.current && now - this.lastLookAt >= Session.PROBE_MS) {
      this.lastLookAt = now;
      this.newer();
      // Also when a new server was found: one this process started is let
      // go of (its start lock) as soon as it is READY, or no one else
      // could start the next one after a crash.
      this.starter?.poke(now);
    }
    return problem;
  }

  /** A READY region at the path that is not the current session's becomes current; true if one did. */
  private newer(): boolean {
    const id = fileId(this.path);
    if (id === null || sameFile(id, this.current.regionId)) return false;
    let region: Region;
    try {
      region = Region.open(this.path);
    } catch (e) {
      if (e instanceof RegionError) return false; // not (yet) a region there: look again later
      throw e;
    }
    // The path may have been replaced between the stat and the open: then
    // the id is not this region's; the next look sees the right one.
    if (!sameFile(fileId(this.path), id)) return false;
    if (region.serverState() !== ServerState.Ready || region.serverProblem() !== null || !this.current.differs(id, region.epoch())) return false;
    try {
      this.install(Session.attach(region, id, this.policy, this.current));
    } catch (e) {
      if (e instanceof RegionError) return false;
      throw e;
    }
    return true;
  }

  private install(s: Session): void {
    this.current = s;
    this.stillReads = 0;
  }

  /** With reconnect, the message of a write that waited reconnectMs for a server in vain. */
  goneMessage(problem: string): string {
    const failure = this.starter?.lastFailure;
    return `${problem}; no server served ${this.path} for ${this.reconnectMs} ms${failure ? ` (${failure})` : ''}`;
  }
}

/** Internal signal of a wait: a newer session than the waiter's is current (it must move). */
export const MOVED = new Error('the server at the path was replaced');

/**
 * One waiter's view of an outage: when it began, and what to do about it.
 * check() is the idle callback of a wait on session `s` with reconnect:
 * it returns while the server serves, or may still come back within
 * reconnectMs of the outage's start; it throws MOVED when a new server is
 * current, and ServerGoneError once reconnectMs passed without one.
 */
export class Outage {
  /** When the outage began (ms), 0 while the server serves. */
  since = 0;

  constructor(private readonly conn: Connection) {}

  check(s: Session, now = Date.now()): void {
    const problem = this.conn.look(s, now);
    if (problem === null) {
      this.since = 0;
      return;
    }
    if (this.conn.current !== s) throw MOVED;
    if (this.since === 0) this.since = now;
    else if (now - this.since > this.conn.reconnectMs) {
      this.since = 0;
      throw new ServerGoneError(this.conn.goneMessage(problem));
    }
  }
}

/** Date.now() as of the last tick of a 50 ms timer (unref'd: it keeps nobody alive). */
let coarseNow = Date.now();
let coarseTimer: NodeJS.Timeout | null = null;
function startCoarseClock(): void {
  if (coarseTimer) return;
  coarseTimer = setInterval(() => {
    coarseNow = Date.now();
  }, 50);
  coarseTimer.unref();
}

const sleeper = new Int32Array(new SharedArrayBuffer(4));
function sleepMs(ms: number): void {
  Atomics.wait(sleeper, 0, 0, ms);
}
