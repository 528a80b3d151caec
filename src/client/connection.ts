/**
 * A client process's attachment to a running server: the region (ring,
 * board) and the data file (the table, read directly), window reservation
 * and the server watchdog. Lanes (lane.ts) do the I/O.
 */
import { Region, resolveRegionPath } from '../layout/region';
import { HEARTBEAT_MS, HEARTBEAT_TIMEOUT_MS, ServerState } from '../layout/layout';
import { Board } from '../transport/board';
import { Ring } from '../transport/ring';
import { processAlive } from '../sync/lock';
import { DEFAULT_WAIT_POLICY, WaitPolicy } from '../sync/waiter';
import { openDataFile } from '../layout/data-file';
import { TableReader } from '../store/table-reader';
import { RegionError, ServerGoneError } from '../errors';

export interface ConnectOptions {
  /** Region file (default $SHMKV_PATH or ./shmem_file). */
  path?: string;
  /** How long to wait for a server that is not (yet) ready, in ms (default 0). */
  waitMs?: number;
  /** Spin/yield/sleep policy for every wait. */
  policy?: WaitPolicy;
}

/** What a worker thread needs to rebuild a Connection's view. */
export interface SharedConnection {
  region: ReturnType<Region['transferable']>;
  data: SharedArrayBuffer;
  policy: WaitPolicy;
}

export class Connection {
  readonly ring: Ring;
  readonly board: Board;
  readonly policy: WaitPolicy;
  /** The data file: direct reads, and the windows' staging blocks. */
  readonly data: SharedArrayBuffer;
  readonly dataBuf: Buffer;
  readonly reader: TableReader;
  private readonly runs = new Map<number, number>();
  private lastBeat = -1;
  private lastBeatAt = 0;
  /** Bound once so it can be handed to waits as their idle callback. */
  readonly check = (): void => this.checkServer();

  private constructor(readonly region: Region, data: SharedArrayBuffer, policy: WaitPolicy) {
    this.ring = new Ring(region);
    this.board = new Board(region);
    this.policy = policy;
    this.data = data;
    this.dataBuf = Buffer.from(data);
    this.reader = new TableReader(data);
  }

  /**
   * Open the region at `path` and check that its server is serving. Throws
   * RegionError (missing, foreign or stale file) or ServerGoneError.
   */
  static open(opts: ConnectOptions = {}): Connection {
    const file = resolveRegionPath(opts.path);
    const deadline = Date.now() + (opts.waitMs ?? 0);
    for (;;) {
      let problem: Error;
      try {
        const region = Region.open(file);
        const state = region.serverState();
        const gone = region.serverProblem();
        if (gone) problem = new ServerGoneError(`${gone} (stale region ${file})`);
        else if (state === ServerState.Ready) {
          const ref = region.dataFile();
          if (ref === null) throw new RegionError(`${file} names no data file (corrupt header)`);
          return new Connection(region, openDataFile(ref.path, ref.bytes), opts.policy ?? DEFAULT_WAIT_POLICY);
        }
        else if (state === ServerState.Stopping) problem = new ServerGoneError(`the server (pid ${region.serverPid()}) is shutting down`);
        else problem = new ServerGoneError(`the server (pid ${region.serverPid()}) is still starting`);
      } catch (e) {
        if (!(e instanceof RegionError)) throw e;
        problem = e;
      }
      if (Date.now() >= deadline) throw problem;
      sleepMs(20);
    }
  }

  /** Rebuild in a worker thread; reservations stay with the original. */
  static fromShared(s: SharedConnection): Connection {
    return new Connection(Region.fromShared(s.region), s.data, s.policy);
  }

  shared(): SharedConnection {
    return { region: this.region.transferable(), data: this.data, policy: this.policy };
  }

  /** Reserve `count` consecutive windows; released by release() or close(). */
  reserve(count: number): number {
    this.checkServer();
    const first = this.board.reserve(count);
    this.runs.set(first, count);
    return first;
  }

  release(first: number): void {
    const count = this.runs.get(first);
    if (count === undefined) return;
    this.runs.delete(first);
    this.board.release(first, count);
  }

  /** Release every reservation. */
  close(): void {
    for (const first of [...this.runs.keys()]) this.release(first);
  }

  /**
   * The liveness check of a direct read, cheap enough for every one: two
   * loads and a compare while the heartbeat moves. While it stands still,
   * the full checkServer() (a pid probe and the clock) runs when either
   * the process's coarse clock (a 50 ms timer: fresh whenever the event
   * loop turns between reads) says a heartbeat timeout has passed since
   * the beat last moved, or every LIVE_CHECK_EVERY reads (a synchronous
   * loop, where timers do not run, reads fast enough for that count to be
   * a short time), and then at most once per heartbeat period (a clock
   * call every LIVE_CHECK_EVERY reads decides). So a direct read after the
   * server died answers from its last table for about
   * HEARTBEAT_TIMEOUT_MS, then throws, at any read rate, without a clock
   * call per read.
   */
  checkLive(): void {
    if (this.gone !== null) throw this.gone;
    const r = this.region;
    if (r.serverState() !== ServerState.Ready) return this.checkServer();
    const beat = r.heartbeat();
    if (beat !== this.lastBeat) {
      const first = this.lastBeat === -1;
      this.lastBeat = beat;
      this.lastBeatAt = Date.now();
      this.stillReads = 0;
      if (first) {
        startCoarseClock();
        this.checkServer();
      }
    } else if (++this.stillReads % LIVE_CHECK_EVERY === 0 || coarseNow - this.lastBeatAt > HEARTBEAT_TIMEOUT_MS) {
      // The full probe is a signal and a read of /proc (~20 us): at most one
      // per heartbeat period, or a tight loop of reads between two beats
      // (100 ms, 100,000 reads) would spend a third of its time probing.
      const now = Date.now();
      if (now - this.lastProbeAt >= HEARTBEAT_MS) {
        this.lastProbeAt = now;
        this.checkServer();
      }
    }
  }
  private stillReads = 0;
  private lastProbeAt = 0;

  /** The server's heartbeat count as the last liveness check saw it (a coarse clock the local cache uses). */
  get beat(): number {
    return this.lastBeat;
  }

  /**
   * Throw ServerGoneError if the server has stopped, died, or stopped
   * beating for HEARTBEAT_TIMEOUT_MS. Cheap enough to call between sleeps.
   */
  checkServer(): void {
    if (this.gone !== null) throw this.gone;
    const problem = this.serverProblem();
    // Sticky: a server found gone stays gone for this connection. Without
    // it, checkLive probes only every LIVE_CHECK_EVERY reads, so the reads
    // after the one that threw would answer again from the dead server's
    // table (the README promises that later calls throw).
    if (problem !== null) throw (this.gone = new ServerGoneError(problem));
  }
  private gone: ServerGoneError | null = null;

  private serverProblem(): string | null {
    const r = this.region;
    const state = r.serverState();
    const pid = r.serverPid();
    if (state === ServerState.Stopped) return `the server (pid ${pid}) has stopped`;
    if (!processAlive(pid)) return `the server (pid ${pid}) died`;
    const beat = r.heartbeat();
    const now = Date.now();
    if (beat !== this.lastBeat) {
      this.lastBeat = beat;
      this.lastBeatAt = now;
    } else if (now - this.lastBeatAt > HEARTBEAT_TIMEOUT_MS) {
      return `the server (pid ${pid}) is not responding (no heartbeat for ${now - this.lastBeatAt} ms)`;
    }
    return null;
  }
}

/** Direct reads between two full liveness checks while the heartbeat stands still. */
const LIVE_CHECK_EVERY = 64;

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
