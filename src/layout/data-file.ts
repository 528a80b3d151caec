/**
 * The data file (the table) and the exchange file (staging and hints) on
 * disk: where they are, how they are mapped, how their headers are checked.
 * Layouts: data-meta.ts, chunk-directory.ts and exchange.ts. What is inside
 * the chunks is the store's business (store/; its records are heap.ts).
 *
 * WHERE. In the data directory: /dev/shm by default (tmpfs: the kernel
 * never writes a tmpfs page back to a disk, whereas a MAP_SHARED mapping of
 * a file on disk is flushed there over and over); $SHMKV_DATA_DIR or the
 * server's dataDir option choose another (one on a disk survives a reboot,
 * and its deadlines are converted through the wall clock: recovery.ts).
 *
 * NAMES are derived from the region path, so that a server started again
 * on the same path finds its cache without trusting anything a client can
 * write: shmkv-<16 hex digits of sha256(absolute region path)>.data and
 * .xchg. The data file records that path (D_REGION_PATH).
 *
 * LIFETIME (the documented rule). A data file is the cache: a stopped or
 * dead server leaves it for the next server on the same region path to
 * adopt. It is removed by `shmkv-server --drop -p PATH`, by a server
 * started with --fresh or --temporary, and by any server starting in the
 * same data directory once it is an orphan: no live server holds it (each
 * holds a flock on its data file) and the region file it names is gone.
 * A reboot empties a tmpfs anyway.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { createHash } from 'node:crypto';
import { lockFile, mapFile, MAP_CREATE, MAP_READONLY, unlink, unlockFile } from '../native/shim';
import { processAlive } from '../sync/lock';
import { RegionError } from '../errors';
import {
  BOOT_ID_BYTES,
  chunkBytesOf,
  chunkCount,
  chunkOffset,
  D_BOOT_ID,
  D_BYTES,
  D_CHUNK_BYTES,
  D_CHUNKS,
  D_DEFAULT_TTL_MS,
  D_EVICTION,
  D_MAGIC,
  D_MAX_KEY_BYTES,
  D_MAX_VALUE_BYTES,
  D_REGION_PATH,
  D_REGION_PATH_UTF8,
  D_SEED,
  D_SEGMENT_BITS,
  D_STATS,
  D_VERSION,
  DATA_MAGIC,
  DATA_VERSION,
  Eviction,
  MAX_DATA_BYTES,
  MAX_EVICTION,
  META_BYTES,
  MIN_DATA_BYTES,
  REGION_PATH_MAX_BYTES,
  STATS_LINE_BYTES,
  STATS_LINES,
} from './data-meta';
import { C_HEAP_END, C_HEAP_START, C_MAGIC, CHUNK_MAGIC, chunkHeapStart, MAX_SEGMENT_BITS } from './chunk-directory';
import { MAX_KEY_BYTES_LIMIT, MAX_VALUE_BYTES_LIMIT } from './keys-values';
import { arenaOffset, X_ARENA_BYTES, X_HINT_BYTES, X_HINTS, X_MAGIC, X_VERSION, XCHG_MAGIC } from './exchange';
import { PAGE } from './fields';

/** $SHMKV_DATA_DIR, else /dev/shm when it is a directory, else the OS temp dir. */
export function defaultDataDir(): string {
  if (process.env.SHMKV_DATA_DIR) return process.env.SHMKV_DATA_DIR;
  try {
    if (fs.statSync('/dev/shm').isDirectory()) return '/dev/shm';
  } catch {
    // no tmpfs at the usual place
  }
  return os.tmpdir();
}

const NAME = /^shmkv-([0-9a-f]{16})\.data$/;
/** Data files of earlier versions: shmkv-<server pid>-<random>.data, never adopted. */
const OLD_NAME = /^shmkv-(\d+)-[0-9a-f]+\.data$/;

/** The data and exchange files of the cache of region `regionPath`, in `dataDir`. */
export function cacheFiles(regionPath: string, dataDir: string): { data: string; xchg: string } {
  const id = createHash('sha256').update(path.resolve(regionPath)).digest('hex').slice(0, 16);
  const base = path.resolve(dataDir, `shmkv-${id}`);
  return { data: `${base}.data`, xchg: `${base}.xchg` };
}

/** The exchange file that goes with a data file. */
export function exchangeFileOf(dataPath: string): string {
  return dataPath.replace(/\.data$/, '.xchg');
}

/** The geometry of a data file of `bytes` bytes. */
export interface DataGeometry {
  bytes: number;
  chunks: number;
  chunkBytes: number;
  segmentBits: number;
}

/**
 * Check a budget and derive its geometry; RangeError names what is wrong.
 * `chunks` asks for more chunks than the fewest the budget needs (a power
 * of two, at most one per segment): more heaps, each with its own
 * allocator and eviction queues (tests use it to have several chunks in a
 * small table).
 */
export function dataGeometry(bytes: number, segmentBits: number, chunks = 0): DataGeometry {
  if (!Number.isSafeInteger(bytes) || bytes < MIN_DATA_BYTES || bytes > MAX_DATA_BYTES || bytes % PAGE !== 0)
    throw new RangeError(`the table's memory must be a multiple of ${PAGE} bytes in ${MIN_DATA_BYTES}..${MAX_DATA_BYTES}, got ${bytes}`);
  const fewest = chunkCount(bytes);
  if (chunks !== 0 && (!Number.isInteger(chunks) || chunks < fewest || (chunks & (chunks - 1)) !== 0 || (bytes - META_BYTES) / chunks < MIN_DATA_BYTES / 2))
    throw new RangeError(`chunks must be a power of two of at least ${fewest} and ${MIN_DATA_BYTES / 2} bytes each, got ${chunks}`);
  const n = Math.max(chunks, fewest);
  if (Math.log2(n) > segmentBits)
    throw new RangeError(`${bytes} bytes in ${n} chunks need more than the ${2 ** segmentBits} segments`);
  return { bytes, chunks: n, chunkBytes: chunkBytesOf(bytes, n), segmentBits };
}

/** What a data file's header says, checked (and the meta area it came from). */
export interface DataHeader extends DataGeometry {
  seed: number;
  maxKeyBytes: number;
  maxValueBytes: number;
  defaultTtlMs: number;
  /** The policy at the memory cap (an unknown word reads as the default, S3-FIFO). */
  eviction: Eviction;
  /** Where each chunk's heap starts (the same in every chunk). */
  heapStart: number;
  regionPath: string;
  bootId: string;
  meta: SharedArrayBuffer;
  /** The server threads' counter lines (f64). */
  stats: Float64Array;
}

/**
 * Read and check the header in a mapped meta area of a file of `fileBytes`
 * bytes. Throws RegionError, naming the file and the first thing wrong.
 */
export function readDataHeader(file: string, meta: SharedArrayBuffer, fileBytes: number): DataHeader {
  const dv = new DataView(meta);
  const u32 = (off: number): number => dv.getUint32(off, true);
  const bad = (what: string): RegionError => new RegionError(`${file} is not a usable data file: ${what}`);
  if (Atomics.load(new Int32Array(meta), D_MAGIC >>> 2) !== DATA_MAGIC) throw bad('bad magic');
  if (u32(D_VERSION) !== DATA_VERSION) throw bad(`layout version ${u32(D_VERSION)}, this build reads version ${DATA_VERSION}`);
  const bytes = dv.getFloat64(D_BYTES, true);
  if (bytes !== fileBytes) throw bad(`its header says ${bytes} bytes, the file has ${fileBytes}`);
  const segmentBits = u32(D_SEGMENT_BITS);
  if (segmentBits > MAX_SEGMENT_BITS) throw bad(`segment bits ${segmentBits}`);
  let geometry: DataGeometry;
  try {
    geometry = dataGeometry(bytes, segmentBits, u32(D_CHUNKS));
  } catch (e) {
    throw bad((e as Error).message);
  }
  if (u32(D_CHUNKS) !== geometry.chunks || u32(D_CHUNK_BYTES) !== geometry.chunkBytes) throw bad('chunk geometry does not match its size');
  const maxKeyBytes = u32(D_MAX_KEY_BYTES);
  const maxValueBytes = u32(D_MAX_VALUE_BYTES);
  if (maxKeyBytes < 1 || maxKeyBytes > MAX_KEY_BYTES_LIMIT || maxValueBytes < 1 || maxValueBytes > MAX_VALUE_BYTES_LIMIT) throw bad('key or value limits out of range');
  const pathLen = dv.getUint16(D_REGION_PATH, true);
  if (pathLen > REGION_PATH_MAX_BYTES) throw bad('region path too long');
  const bootId = Buffer.from(meta, D_BOOT_ID, BOOT_ID_BYTES).toString('hex');
  return {
    ...geometry,
    seed: u32(D_SEED),
    maxKeyBytes,
    maxValueBytes,
    defaultTtlMs: u32(D_DEFAULT_TTL_MS),
    eviction: u32(D_EVICTION) <= MAX_EVICTION ? (u32(D_EVICTION) as Eviction) : Eviction.S3Fifo,
    heapStart: chunkHeapStart(2 ** segmentBits / geometry.chunks),
    regionPath: Buffer.from(meta, D_REGION_PATH_UTF8, pathLen).toString('utf8'),
    bootId,
    meta,
    stats: new Float64Array(meta, D_STATS, STATS_LINES * (STATS_LINE_BYTES / 8)),
  };
}

/** Check a mapped chunk's header against the geometry (the store never trusts it afterwards). */
export function checkChunk(file: string, sab: SharedArrayBuffer, c: number, header: DataHeader): void {
  const u32 = new Uint32Array(sab, 0, 4);
  if (u32[C_MAGIC >>> 2] !== (CHUNK_MAGIC ^ c) >>> 0 || u32[C_HEAP_START >>> 2] !== header.heapStart || u32[C_HEAP_END >>> 2] !== header.chunkBytes)
    throw new RegionError(`${file} is not a usable data file: chunk ${c} has a bad header`);
}

/** A mapped data file. */
export interface MappedData {
  path: string;
  header: DataHeader;
  chunks: SharedArrayBuffer[];
}

/**
 * Map an existing data file, checked: read-only for clients, read-write for
 * a server adopting it. Throws RegionError.
 */
export function openDataFile(file: string, readonly: boolean): MappedData {
  const flags = readonly ? MAP_READONLY : 0;
  let size: number;
  let meta: SharedArrayBuffer;
  try {
    const st = fs.statSync(file);
    if (!st.isFile()) throw new RegionError(`${file} is not a regular file`);
    size = st.size;
    if (size < META_BYTES) throw new RegionError(`${file} is not a usable data file (${size} bytes)`);
    meta = mapFile(file, 0, META_BYTES, flags);
  } catch (e) {
    if (e instanceof RegionError) throw e;
    const err = e as NodeJS.ErrnoException;
    throw new RegionError(`cannot map the data file ${file}: ${err.code ?? err.message}`);
  }
  const header = readDataHeader(file, meta, size);
  const chunks: SharedArrayBuffer[] = [];
  for (let c = 0; c < header.chunks; c++) {
    const sab = mapFile(file, chunkOffset(header.chunkBytes, c), header.chunkBytes, flags);
    checkChunk(file, sab, c, header);
    chunks.push(sab);
  }
  return { path: file, header, chunks };
}

/**
 * Create a data file of `g.bytes` (sparse) under a temporary name, locked,
 * and map its pieces read-write; the store formats it, then publish() gives
 * it its name (a rename: the flock goes with the inode, so no orphan
 * cleaner of another server can take it meanwhile).
 */
export function createDataFile(file: string, g: DataGeometry): { meta: SharedArrayBuffer; chunks: SharedArrayBuffer[]; lock: number; publish: () => void } {
  const tmp = `${file}.new-${process.pid}`;
  try {
    unlink(tmp);
  } catch {
    // none there
  }
  const meta = mapFile(tmp, 0, META_BYTES, MAP_CREATE);
  const lock = lockFile(tmp);
  fs.truncateSync(tmp, g.bytes);
  const chunks: SharedArrayBuffer[] = [];
  for (let c = 0; c < g.chunks; c++) chunks.push(mapFile(tmp, chunkOffset(g.chunkBytes, c), g.chunkBytes, 0));
  return { meta, chunks, lock, publish: () => fs.renameSync(tmp, file) };
}

/** The exchange file's pieces: each chunk's hint map, and the staging arena. */
export interface MappedExchange {
  path: string;
  hints: SharedArrayBuffer[];
  arena: SharedArrayBuffer;
  hintBytes: number;
}

/** Create a fresh exchange file for `chunks` chunks (server). */
export function createExchangeFile(file: string, chunks: number, hintBytes: number, arenaBytes: number): MappedExchange {
  try {
    unlink(file);
  } catch {
    // none there
  }
  const head = mapFile(file, 0, X_HINTS, MAP_CREATE);
  fs.truncateSync(file, arenaOffset(chunks, hintBytes) + arenaBytes);
  const u32 = new Uint32Array(head);
  u32[X_VERSION >>> 2] = DATA_VERSION;
  u32[X_HINT_BYTES >>> 2] = hintBytes;
  u32[X_ARENA_BYTES >>> 2] = arenaBytes;
  Atomics.store(u32, X_MAGIC >>> 2, XCHG_MAGIC);
  return mapExchange(file, chunks, hintBytes, arenaBytes);
}

/** Map a server's exchange file (client), checked against the data file's chunk count. */
export function openExchangeFile(file: string, chunks: number): MappedExchange {
  let head: Uint32Array;
  try {
    if (!fs.statSync(file).isFile()) throw new RegionError(`${file} is not a regular file`);
    head = new Uint32Array(mapFile(file, 0, X_HINTS, 0));
  } catch (e) {
    if (e instanceof RegionError) throw e;
    const err = e as NodeJS.ErrnoException;
    throw new RegionError(`cannot map the exchange file ${file}: ${err.code ?? err.message}`);
  }
  const hintBytes = head[X_HINT_BYTES >>> 2];
  const arenaBytes = head[X_ARENA_BYTES >>> 2];
  const size = fs.statSync(file).size;
  if (Atomics.load(head, X_MAGIC >>> 2) !== XCHG_MAGIC || head[X_VERSION >>> 2] !== DATA_VERSION || hintBytes % PAGE !== 0 || arenaBytes % PAGE !== 0 || arenaBytes === 0 || size !== arenaOffset(chunks, hintBytes) + arenaBytes)
    throw new RegionError(`${file} is not this server's exchange file (bad magic, version or size)`);
  return mapExchange(file, chunks, hintBytes, arenaBytes);
}

function mapExchange(file: string, chunks: number, hintBytes: number, arenaBytes: number): MappedExchange {
  const hints: SharedArrayBuffer[] = [];
  for (let c = 0; c < chunks; c++) hints.push(mapFile(file, X_HINTS + c * hintBytes, hintBytes, 0));
  return { path: file, hints, arena: mapFile(file, arenaOffset(chunks, hintBytes), arenaBytes, 0), hintBytes };
}

/**
 * Take the flock a serving server holds on its data file (held until
 * unlockDataFile or the process ends); null when a live server holds it.
 */
export function lockDataFile(file: string): number | null {
  try {
    return lockFile(file);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'EAGAIN' || code === 'EWOULDBLOCK') return null;
    throw e;
  }
}

export function unlockDataFile(fd: number): void {
  unlockFile(fd);
}

/** Remove `file` if it is a regular file (gone already is fine). */
export function removeRegularFile(file: string): void {
  try {
    if (fs.lstatSync(file).isFile()) unlink(file);
  } catch {
    // gone already
  }
}

/** Remove a cache's files: its data file and its exchange file. */
export function removeCacheFiles(dataPath: string): void {
  removeRegularFile(dataPath);
  removeRegularFile(exchangeFileOf(dataPath));
}

/** The region path a data file names (read through a descriptor, not mapped), or null. */
function regionPathOf(file: string): string | null {
  let fd = -1;
  try {
    fd = fs.openSync(file, fs.constants.O_RDONLY | fs.constants.O_NONBLOCK);
    const head = Buffer.alloc(D_REGION_PATH_UTF8 + REGION_PATH_MAX_BYTES);
    fs.readSync(fd, head, 0, head.length, 0);
    if (head.readUInt32LE(D_MAGIC) !== DATA_MAGIC) return null;
    const len = head.readUInt16LE(D_REGION_PATH);
    return len > REGION_PATH_MAX_BYTES ? null : head.toString('utf8', D_REGION_PATH_UTF8, D_REGION_PATH_UTF8 + len);
  } catch {
    return null;
  } finally {
    if (fd >= 0) fs.closeSync(fd);
  }
}

/**
 * Remove the orphans in `dir` (the rule in this file's header): data files
 * no live server holds whose region file is gone, their exchange files,
 * and data files of earlier versions whose server is dead. Files of other
 * users (the sticky /dev/shm refuses) and of any other name are left alone.
 */
export function removeOrphans(dir: string, keep: string): void {
  let names: string[];
  try {
    names = fs.readdirSync(dir);
  } catch {
    return;
  }
  for (const name of names) {
    const file = path.join(dir, name);
    if (file === keep) continue;
    const old = OLD_NAME.exec(name);
    if (old) {
      if (!processAlive(Number(old[1]))) removeCacheFiles(file);
      continue;
    }
    if (!NAME.test(name)) continue;
    const region = regionPathOf(file);
    if (region !== null && fs.existsSync(region)) continue;
    const fd = lockDataFile(file);
    if (fd === null) continue; // a live server holds it
    try {
      removeCacheFiles(file);
    } finally {
      unlockDataFile(fd);
    }
  }
}
