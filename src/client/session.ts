/**
 * A session: one server incarnation as a client process sees it. The
 * region that server created (ring, board, owners), the data file it
 * named (the table this client reads directly, mapped read-only) and its
 * exchange file (eviction hints, the windows' staging blocks), the windows
 * this thread reserved on its board, and the watchdog's view of its
 * liveness.
 *
 * A server restarted at the same path (after SIGTERM, SIGKILL or a crash)
 * always creates a new region file, with a new inode and a new random
 * epoch word: a session is never reused for another server. The data file
 * may be the same one (a warm restart adopts it: same device and inode),
 * whose mapping the new session then shares; otherwise it is mapped anew.
 * So is the exchange file, which an adopting server creates anew.
 *
 * Sessions are per thread (a worker thread builds its own from shared()).
 */
import * as fs from 'node:fs';
import { Region } from '../layout/region';
import { WindowState } from '../layout/board';
import { HEARTBEAT_MS, HEARTBEAT_TIMEOUT_MS, ServerState } from '../layout/region-header';
import { Board } from '../transport/window';
import { Owners } from '../transport/owners';
import { Ring } from '../transport/ring';
import { processAlive } from '../sync/lock';
import { WaitPolicy } from '../sync/waiter';
import { exchangeFileOf, MappedData, MappedExchange, openDataFile, openExchangeFile } from '../layout/data-file';
import { TableReader } from '../store/table-reader';
import { chunkViews } from '../store/table-format';
import { RegionError } from '../errors';

/** A file's identity (device and inode), as fs.statSync gives it. */
export interface FileId {
  dev: number;
  ino: number;
}

export function fileId(file: string): FileId | null {
  try {
    const st = fs.statSync(file);
    return { dev: st.dev, ino: st.ino };
  } catch {
    return null;
  }
}

export function sameFile(a: FileId | null, b: FileId | null): boolean {
  return a !== null && b !== null && a.dev === b.dev && a.ino === b.ino;
}

/** What a worker thread needs to rebuild a session's view (reservations stay with the original). */
export interface SharedSession {
  region: ReturnType<Region['transferable']>;
  regionId: FileId | null;
  data: MappedData;
  dataId: FileId | null;
  xchg: MappedExchange;
  xchgId: FileId | null;
}

export class Session {
  readonly ring: Ring;
  readonly board: Board;
  readonly owners: Owners;
  /** The exchange file's staging arena (staging-io.ts). */
  readonly stagingBuf: Buffer;
  readonly reader: TableReader;
  /** The server's epoch word (layout/region-header.ts, HDR_SERVER_EPOCH). */
  readonly epoch: number;
  /** Reserved runs on this board: first window -> count. */
  private readonly runs = new Map<number, number>();
  /** Every window this session still owns (a run's windows, minus those given back one by one). */
  private readonly owned = new Set<number>();
  private lastBeat = -1;
  private lastBeatAt = 0;

  constructor(
    readonly region: Region,
    readonly regionId: FileId | null,
    readonly data: MappedData,
    readonly dataId: FileId | null,
    readonly xchg: MappedExchange,
    readonly xchgId: FileId | null,
    readonly policy: WaitPolicy,
  ) {
    this.ring = new Ring(region);
    this.board = new Board(region);
    this.owners = new Owners(region);
    this.stagingBuf = Buffer.from(xchg.arena);
    this.reader = this.newReader();
    this.epoch = region.epoch();
  }

  /**
   * The session of the READY region `region` (opened from `regionId`'s
   * path): its data and exchange files mapped, or `reuse`'s mappings of
   * the same files (a warm restart keeps the data file). RegionError for a
   * region that names no data file, or files that cannot be mapped.
   */
  static attach(region: Region, regionId: FileId | null, policy: WaitPolicy, reuse: Session | null = null): Session {
    const ref = region.dataFile();
    if (ref === null) throw new RegionError(`${region.path} names no data file (corrupt header)`);
    // Ids before the maps: a file replaced in between is mapped anew next time, never wrongly kept.
    const dataId = fileId(ref.path);
    const keepData = reuse !== null && sameFile(dataId, reuse.dataId) && reuse.data.header.bytes === ref.bytes;
    const data = keepData ? reuse.data : openDataFile(ref.path, true);
    const xchgPath = exchangeFileOf(ref.path);
    const xchgId = fileId(xchgPath);
    const xchg = keepData && sameFile(xchgId, reuse.xchgId) ? reuse.xchg : openExchangeFile(xchgPath, data.header.chunks);
    return new Session(region, regionId, data, dataId, xchg, xchgId, policy);
  }

  /** Another direct reader of this session's table (a reader keeps the last value it read: one per user). */
  newReader(): TableReader {
    return new TableReader(this.data.header, chunkViews(this.data.header, this.data.chunks, this.xchg.hints));
  }

  static fromShared(s: SharedSession, policy: WaitPolicy): Session {
    return new Session(Region.fromShared(s.region), s.regionId, s.data, s.dataId, s.xchg, s.xchgId, policy);
  }

  shared(): SharedSession {
    return { region: this.region.transferable(), regionId: this.regionId, data: this.data, dataId: this.dataId, xchg: this.xchg, xchgId: this.xchgId };
  }

  /** True when `other` is another server's region (another inode or another epoch). */
  differs(regionId: FileId | null, epoch: number): boolean {
    return !sameFile(regionId, this.regionId) || epoch !== this.epoch;
  }

  // ---- liveness ------------------------------------------------------------------------

  /**
   * Why this session's server cannot serve now, or null while it serves:
   * stopped, dead, or not beating for HEARTBEAT_TIMEOUT_MS
   * (paused or hung: it may come back). Not sticky: a paused server that
   * beats again serves again.
   */
  problem(now = Date.now()): string | null {
    const r = this.region;
    const state = r.serverState();
    const pid = r.serverPid();
    if (state === ServerState.Stopped) return `the server (pid ${pid}) has stopped`;
    if (!processAlive(pid)) return `the server (pid ${pid}) died`;
    // STOPPING is not a problem yet: the server answers what it took, then
    // says STOPPED (or dies).
    const beat = r.heartbeat();
    if (beat !== this.lastBeat) {
      this.lastBeat = beat;
      this.lastBeatAt = now;
    } else if (now - this.lastBeatAt > HEARTBEAT_TIMEOUT_MS) {
      return `the server (pid ${pid}) is not responding (no heartbeat for ${now - this.lastBeatAt} ms)`;
    }
    return null;
  }

  /**
   * The cheap half of the direct reads' liveness check (connection.ts):
   * note heartbeat value `beat`, just loaded; true when it moved since the
   * last look (then the clock is read once), false when it stands still.
   * problem() judges the heartbeat's age from the same record.
   */
  noteBeat(beat: number): boolean {
    if (beat === this.lastBeat) return false;
    this.lastBeat = beat;
    this.lastBeatAt = Date.now();
    return true;
  }

  /** When the heartbeat was last seen to move (ms; 0 before the first look). */
  get beatSeenAt(): number {
    return this.lastBeatAt;
  }

  static readonly PROBE_MS = HEARTBEAT_MS;

  // ---- windows ---------------------------------------------------------------------------

  /** Reserve `count` consecutive windows (owners.ts, CLAIM); BoardFullError when none. */
  reserve(count: number): number {
    const first = this.owners.reserve(count);
    this.runs.set(first, count);
    for (let w = first; w < first + count; w++) this.owned.add(w);
    return first;
  }

  /**
   * Give back the run starting at `first`: windows with no request a server
   * thread may hold (IDLE, DONE) are released; any other is retracted if it
   * still can be, else abandoned to the server's reaper (owners.ts), which
   * frees it once no server thread can write to it any more.
   */
  release(first: number): void {
    const count = this.runs.get(first);
    if (count === undefined) return;
    this.runs.delete(first);
    for (let w = first; w < first + count; w++) this.giveBack(w);
  }

  /** Give back one window of a run (the run keeps the others): see release(). */
  giveBack(win: number): void {
    if (!this.owned.delete(win)) return;
    const b = this.board;
    const st = b.state(win);
    if (st === WindowState.Idle || st === WindowState.Done || b.retract(win)) this.owners.release(win);
    else this.owners.abandon(win);
  }

  /** Give back every window this session reserved. */
  close(): void {
    for (const first of [...this.runs.keys()]) this.release(first);
  }

  /** Windows this session owns. */
  get reserved(): number {
    return this.owned.size;
  }
}
