/**
 * Creating, validating and opening the region file. The layout itself is in
 * region-header.ts and region-file.ts; this module only applies it.
 *
 * Who writes what: the server writes the identity/geometry line while the
 * state is INIT and nobody else can attach (clients refuse a region that is
 * not READY), then publishes READY with a seq-cst store. A client that reads
 * READY (seq-cst load) therefore sees the whole geometry.
 */
import * as fs from 'node:fs';
import { randomBytes } from 'node:crypto';
import { mapFile, MAP_CREATE, unlink } from '../native/shim';
import { processAlive } from '../sync/lock';
import {
  DATA_PATH_MAX_BYTES,
  HDR_BOARD_OFFSET,
  HDR_DATA_PAGES,
  HDR_DATA_PATH,
  HDR_DATA_PATH_UTF8,
  HDR_HEADER_BYTES,
  HDR_HEARTBEAT,
  HDR_MAGIC,
  HDR_OWNER_OFFSET,
  HDR_REGION_BYTES,
  HDR_RING_CAPACITY,
  HDR_RING_OFFSET,
  HDR_SERVER_EPOCH,
  HDR_SERVER_PID,
  HDR_SERVER_STATE,
  HDR_SERVER_THREADS,
  HDR_VERSION,
  HDR_WINDOW_BYTES,
  HDR_WINDOW_COUNT,
  HEADER_BYTES,
  MAX_SERVER_THREADS,
  REGION_MAGIC,
  REGION_VERSION,
  ServerState,
} from './region-header';
import { computeLayout, RegionGeometry, RegionLayout } from './region-file';
import { PAGE } from './fields';
import { RegionError } from '../errors';

/** The data-file reference of a region header given as bytes, or null. */
export function readDataRef(u8: Uint8Array): { path: string; bytes: number } | null {
  if (u8.length < HDR_DATA_PATH_UTF8 + DATA_PATH_MAX_BYTES) return null;
  const len = u8[HDR_DATA_PATH] | (u8[HDR_DATA_PATH + 1] << 8); // u16 little-endian
  if (len === 0 || len > DATA_PATH_MAX_BYTES) return null;
  const bytes = new DataView(u8.buffer, u8.byteOffset).getUint32(HDR_DATA_PAGES, true) * PAGE;
  return { path: Buffer.from(u8.subarray(HDR_DATA_PATH_UTF8, HDR_DATA_PATH_UTF8 + len)).toString('utf8'), bytes };
}


/** A random nonzero u32 (as an int32 word): a server start's epoch. */
function newEpoch(): number {
  for (;;) {
    const e = randomBytes(4).readInt32LE(0);
    if (e !== 0) return e;
  }
}

export const DEFAULT_REGION_PATH = 'shmem_file';

/** The region path: explicit option, else $SHMKV_PATH, else ./shmem_file. */
export function resolveRegionPath(explicit?: string): string {
  return explicit ?? process.env.SHMKV_PATH ?? DEFAULT_REGION_PATH;
}

/** A mapped region: the buffer, word views over it and its layout. */
export class Region {
  readonly i32: Int32Array;
  readonly u32: Uint32Array;

  private constructor(
    readonly path: string,
    readonly sab: SharedArrayBuffer,
    readonly layout: RegionLayout,
  ) {
    this.i32 = new Int32Array(sab);
    this.u32 = new Uint32Array(sab);
  }

  /** Rebuild a Region in a worker thread from what `transferable()` gave. */
  static fromShared(t: { path: string; sab: SharedArrayBuffer; layout: RegionLayout }): Region {
    return new Region(t.path, t.sab, t.layout);
  }

  transferable(): { path: string; sab: SharedArrayBuffer; layout: RegionLayout } {
    return { path: this.path, sab: this.sab, layout: this.layout };
  }

  /**
   * A private region in memory: no file, never seen by a client. A server
   * worker warms its request path up on one (server/warmup.ts). Zeroed
   * memory is an empty ring and a board of idle, unowned windows.
   */
  static scratch(geometry: RegionGeometry): Region {
    const layout = computeLayout(geometry);
    return new Region('(scratch)', new SharedArrayBuffer(layout.regionBytes), layout);
  }

  /**
   * Create a fresh region at `path` (the caller holds the server lock, see
   * server.ts). Any old file is unlinked first, so that clients still mapping
   * a dead server's region keep their own inode and never see it truncated.
   */
  static create(path: string, geometry: RegionGeometry, serverThreads: number): Region {
    const layout = computeLayout(geometry);
    if (serverThreads < 1 || serverThreads > MAX_SERVER_THREADS)
      throw new RangeError(`server threads must be 1..${MAX_SERVER_THREADS}, got ${serverThreads}`);
    try {
      unlink(path);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw e;
    }
    const sab = mapFile(path, 0, layout.regionBytes, MAP_CREATE);
    const r = new Region(path, sab, layout);
    const h = r.i32;
    const w = (off: number, v: number): void => {
      Atomics.store(h, off >> 2, v);
    };
    w(HDR_VERSION, REGION_VERSION);
    w(HDR_HEADER_BYTES, HEADER_BYTES);
    w(HDR_REGION_BYTES, layout.regionBytes);
    w(HDR_RING_OFFSET, layout.ringOffset);
    w(HDR_RING_CAPACITY, layout.ringCapacity);
    w(HDR_OWNER_OFFSET, layout.ownerOffset);
    w(HDR_BOARD_OFFSET, layout.boardOffset);
    w(HDR_WINDOW_COUNT, layout.windowCount);
    w(HDR_WINDOW_BYTES, layout.windowBytes);
    w(HDR_SERVER_PID, process.pid);
    w(HDR_SERVER_THREADS, serverThreads);
    w(HDR_SERVER_EPOCH, newEpoch());
    w(HDR_SERVER_STATE, ServerState.Init);
    // Magic last: a reader that sees it sees a complete identity line.
    w(HDR_MAGIC, REGION_MAGIC);
    return r;
  }

  /**
   * Open and validate an existing region. Throws RegionError with a one-line
   * reason for a missing, foreign, stale or corrupt file.
   */
  static open(path: string): Region {
    let size: number;
    try {
      const st = fs.statSync(path);
      if (!st.isFile()) throw new RegionError(`${path} is not a regular file, so not a key-value region`);
      size = st.size;
    } catch (e) {
      if (e instanceof RegionError) throw e;
      const code = (e as NodeJS.ErrnoException).code;
      if (code === 'ENOENT') throw new RegionError(`no server region at ${path} (is the server running?)`);
      throw new RegionError(`cannot stat region ${path}: ${code ?? String(e)}`);
    }
    if (size < HEADER_BYTES) throw new RegionError(`${path} is not a key-value region (${size} bytes)`);
    let sab: SharedArrayBuffer;
    try {
      sab = mapFile(path, 0, size, 0);
    } catch (e) {
      const err = e as NodeJS.ErrnoException;
      throw new RegionError(`cannot map region ${path}: ${err.code ?? err.message}`);
    }
    const h = new Int32Array(sab);
    const r = (off: number): number => Atomics.load(h, off >> 2);
    if (r(HDR_MAGIC) !== REGION_MAGIC) throw new RegionError(`${path} is not a key-value region (bad magic)`);
    if (r(HDR_VERSION) !== REGION_VERSION)
      throw new RegionError(`${path} has layout version ${r(HDR_VERSION)}, this build speaks version ${REGION_VERSION}`);
    const geometry: RegionGeometry = {
      ringCapacity: r(HDR_RING_CAPACITY),
      windowCount: r(HDR_WINDOW_COUNT),
      windowBytes: r(HDR_WINDOW_BYTES),
    };
    let layout: RegionLayout;
    try {
      layout = computeLayout(geometry);
    } catch (e) {
      throw new RegionError(`${path} has a corrupt header: ${(e as Error).message}`);
    }
    if (
      r(HDR_HEADER_BYTES) !== HEADER_BYTES ||
      r(HDR_REGION_BYTES) !== layout.regionBytes ||
      r(HDR_RING_OFFSET) !== layout.ringOffset ||
      r(HDR_OWNER_OFFSET) !== layout.ownerOffset ||
      r(HDR_BOARD_OFFSET) !== layout.boardOffset ||
      size !== layout.regionBytes
    )
      throw new RegionError(`${path} has a corrupt header (offsets or size do not match its geometry)`);
    return new Region(path, sab, layout);
  }

  headerGet(offset: number): number {
    return Atomics.load(this.i32, offset >> 2);
  }

  headerSet(offset: number, value: number): void {
    Atomics.store(this.i32, offset >> 2, value);
  }

  /** Record the data file (the table's mapping) in the header (server, during INIT). */
  setDataFile(file: string, bytes: number): void {
    const enc = Buffer.from(file, 'utf8');
    if (enc.length > DATA_PATH_MAX_BYTES) throw new RangeError(`data file path is over ${DATA_PATH_MAX_BYTES} bytes: ${file}`);
    const u8 = new Uint8Array(this.sab);
    u8.set(enc, HDR_DATA_PATH_UTF8);
    u8[HDR_DATA_PATH] = enc.length & 0xff;
    u8[HDR_DATA_PATH + 1] = enc.length >>> 8;
    this.u32[HDR_DATA_PAGES >>> 2] = bytes / PAGE;
  }

  /** The data file recorded in the header, or null when none is (or it is garbage). */
  dataFile(): { path: string; bytes: number } | null {
    return readDataRef(new Uint8Array(this.sab));
  }

  serverPid(): number {
    return this.headerGet(HDR_SERVER_PID);
  }

  serverState(): ServerState {
    return this.headerGet(HDR_SERVER_STATE);
  }

  heartbeat(): number {
    return this.headerGet(HDR_HEARTBEAT);
  }

  /** The random word the server wrote at creation (region-header.ts, HDR_SERVER_EPOCH). */
  epoch(): number {
    return this.headerGet(HDR_SERVER_EPOCH) >>> 0;
  }

  /** Why the server cannot serve, or null while it is alive and serving. */
  serverProblem(): string | null {
    const state = this.serverState();
    const pid = this.serverPid();
    if (state === ServerState.Stopped) return `the server (pid ${pid}) has stopped`;
    // The liveness line is writable by any same-user process (a live server
    // puts it back within a heartbeat): name a corrupt word as such.
    if (pid <= 0) return `the region names no server (pid word ${pid}): it was overwritten`;
    if (state < ServerState.Init || state > ServerState.Stopped) return `the region's server state word holds ${state}: it was overwritten`;
    if (!processAlive(pid)) return `the server (pid ${pid}) died`;
    if (state === ServerState.Init && this.heartbeat() !== 0)
      return `the region says its server (pid ${pid}) is starting, but it has been beating (${this.heartbeat()} beats): the state word was overwritten`;
    return null;
  }
}
