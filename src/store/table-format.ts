/**
 * The table's options and the layout of a fresh data file
 * (layout/data-meta.ts, layout/chunk-directory.ts, layout/heap.ts): the
 * header, each chunk's header, heap and directory, and one index per
 * segment. Run once by the server before any client maps the file; the
 * magic word is stored last (Atomics.store), so a file that carries it is
 * complete.
 */
import * as fs from 'node:fs';
import { Allocator } from './alloc';
import { Chunk } from './chunk';
import { PrivateState } from './private-state';
import { DataGeometry, dataGeometry, DataHeader, readDataHeader } from '../layout/data-file';
import type { TableParts } from './segments';
import {
  C_DIRECTORY,
  C_HEAP_END,
  C_HEAP_START,
  C_MAGIC,
  CHUNK_MAGIC,
  chunkHeapStart,
  DEFAULT_SEGMENT_BITS,
  MAX_SEGMENT_BITS,
  SEG_INDEX,
  SEGMENT_BYTES,
} from '../layout/chunk-directory';
import {
  BOOT_ID_BYTES,
  D_BOOT_ID,
  D_BYTES,
  D_CHUNK_BYTES,
  D_CHUNKS,
  D_CREATED_AT,
  D_DEFAULT_TTL_MS,
  D_EVICTION,
  D_MAGIC,
  D_MAX_KEY_BYTES,
  D_MAX_VALUE_BYTES,
  D_REGION_PATH,
  D_REGION_PATH_UTF8,
  D_SEED,
  D_SEGMENT_BITS,
  D_STARTED_AT,
  D_VERSION,
  DATA_MAGIC,
  DATA_VERSION,
  Eviction,
  META_BYTES,
  REGION_PATH_MAX_BYTES,
  Stat,
  STATS_LINE_BYTES,
  STATS_MAIN_LINE,
} from '../layout/data-meta';
import { hintBytesOf } from '../layout/exchange';
import { PAGE } from '../layout/fields';
import { entryBytes, indexBlockBytes, indexInBlock, IX_BYTES } from '../layout/heap';
import { DEFAULT_MAX_KEY_BYTES, DEFAULT_MAX_VALUE_BYTES, KEY_KIND_BYTES, MAX_KEY_BYTES_LIMIT, MAX_VALUE_BYTES_LIMIT } from '../layout/keys-values';
import { PRIV_SEG_WORDS, PS_INDEX, PS_INDEX_BLOCK } from '../layout/server-private';

/** What a write that needs memory at the cap does: evict by S3-FIFO (the default) or CLOCK, or refuse (Full). */
export type EvictionPolicy = 's3fifo' | 'clock' | 'none';

/** The header word (layout/data-meta.ts, Eviction) of each policy. */
export const EVICTION_WORDS: Readonly<Record<EvictionPolicy, Eviction>> = { s3fifo: Eviction.S3Fifo, clock: Eviction.Clock, none: Eviction.None };

/** A policy's word, or a RangeError naming the bad value. */
export function evictionWord(policy: EvictionPolicy | undefined): Eviction {
  const p = policy ?? 's3fifo';
  if (!Object.prototype.hasOwnProperty.call(EVICTION_WORDS, p)) throw new RangeError(`eviction must be 's3fifo', 'clock' or 'none', got ${String(policy)}`);
  return EVICTION_WORDS[p];
}

/** The policy of a header word (evictionWord's inverse). */
export function evictionPolicy(word: Eviction): EvictionPolicy {
  return (Object.keys(EVICTION_WORDS) as EvictionPolicy[]).find((p) => EVICTION_WORDS[p] === word) ?? 's3fifo';
}

export interface TableOptions {
  /** At the cap: evict by S3-FIFO (default) or CLOCK, or refuse writes ('none'). */
  eviction?: EvictionPolicy;
  /** Default time to live of writes without one, in ms (0 = none). */
  defaultTtlMs?: number;
  /** Initial total index slots (spread over the segments). */
  initialBuckets: number;
  /** Bytes of the data file: the table's memory cap. */
  dataBytes: number;
  segmentBits?: number;
  /** Chunks (heaps) of the data file: a power of two, more than the fewest the budget needs (layout/data-file.ts, dataGeometry); default the fewest. */
  chunks?: number;
  /** Hash seed; random when omitted. */
  seed?: number;
  maxKeyBytes?: number;
  maxValueBytes?: number;
}

export function log2Ceil(n: number): number {
  let b = 0;
  while (2 ** b < n) b++;
  return b;
}

function checkInt(what: string, v: number, lo: number, hi: number): void {
  if (!Number.isInteger(v) || v < lo || v > hi) throw new RangeError(`${what} must be an integer in ${lo}..${hi}, got ${v}`);
}

/** Initial index capacity of each segment. */
function perSegment(opts: TableOptions, segBits: number): number {
  return 2 ** Math.max(2, log2Ceil(Math.ceil(opts.initialBuckets / 2 ** segBits)));
}

/** The key and value limits a table gets: the options', else the defaults, the value's cut to a quarter of a chunk's heap when it would not fit. */
export function tableLimits(opts: TableOptions, g: DataGeometry): { maxKeyBytes: number; maxValueBytes: number } {
  const maxKeyBytes = opts.maxKeyBytes ?? DEFAULT_MAX_KEY_BYTES;
  const heap = g.chunkBytes - chunkHeapStart(2 ** g.segmentBits / g.chunks);
  const maxValueBytes = opts.maxValueBytes ?? Math.max(64, Math.min(DEFAULT_MAX_VALUE_BYTES, Math.floor(heap / 4 / 8) * 8));
  return { maxKeyBytes, maxValueBytes };
}

/**
 * Validate options (RangeError naming the first problem) and derive the
 * data file's geometry. The segment count is raised to the chunk count when
 * the budget needs more chunks than segments. A value limit left to its
 * default is cut to what a small budget holds; one given that does not fit
 * is an error.
 */
export function tableGeometry(opts: TableOptions): DataGeometry {
  let segBits = opts.segmentBits ?? DEFAULT_SEGMENT_BITS;
  checkInt('segment bits', segBits, 0, MAX_SEGMENT_BITS);
  checkInt('initial table size', opts.initialBuckets, 1, 2 ** 30);
  checkInt('max key bytes', opts.maxKeyBytes ?? DEFAULT_MAX_KEY_BYTES, 64, MAX_KEY_BYTES_LIMIT);
  checkInt('max value bytes', opts.maxValueBytes ?? DEFAULT_MAX_VALUE_BYTES, 64, MAX_VALUE_BYTES_LIMIT);
  let g = dataGeometry(opts.dataBytes, MAX_SEGMENT_BITS, opts.chunks);
  segBits = Math.max(segBits, Math.log2(g.chunks));
  g = dataGeometry(opts.dataBytes, segBits, opts.chunks);
  const { maxKeyBytes: maxKey, maxValueBytes: maxValue } = tableLimits(opts, g);
  checkInt('default ttl (ms)', opts.defaultTtlMs ?? 0, 0, 2 ** 32 - 1);
  evictionWord(opts.eviction);
  const heapStart = chunkHeapStart(2 ** segBits / g.chunks);
  const heap = g.chunkBytes - heapStart;
  const indexes = (2 ** segBits / g.chunks) * (indexBlockBytes(perSegment(opts, segBits)) + 16);
  if (indexes + PAGE > heap)
    throw new RangeError(`a table memory of ${opts.dataBytes} bytes leaves ${heap} bytes per chunk, below the ${indexes + PAGE} its initial indexes need: raise the memory or lower the initial size`);
  const largest = entryBytes(maxKey + KEY_KIND_BYTES, maxValue);
  if (largest + indexes + PAGE > heap)
    throw new RangeError(`the largest value (${maxValue} bytes) does not fit in the table's memory (${heap - indexes} bytes per chunk): raise the memory or lower the max value bytes`);
  return g;
}

/** This boot's id (/proc/sys/kernel/random/boot_id) as 16 bytes, or zeros where there is none. */
export function bootId(): Buffer {
  try {
    const text = fs.readFileSync('/proc/sys/kernel/random/boot_id', 'latin1').trim().replace(/-/g, '');
    if (/^[0-9a-f]{32}$/.test(text)) return Buffer.from(text, 'hex');
  } catch {
    // not Linux, or no /proc
  }
  return Buffer.alloc(BOOT_ID_BYTES);
}

/**
 * Lay out a fresh (zeroed) data file: the header, every chunk's header and
 * heap, and one index per segment; returns its checked header.
 */
export function formatTable(file: string, meta: SharedArrayBuffer, chunks: readonly SharedArrayBuffer[], priv: PrivateState, opts: TableOptions, g: DataGeometry, regionPath: string): DataHeader {
  const dv = new DataView(meta);
  const u32 = (off: number, v: number): void => dv.setUint32(off, v, true);
  u32(D_VERSION, DATA_VERSION);
  dv.setFloat64(D_BYTES, g.bytes, true);
  u32(D_CHUNK_BYTES, g.chunkBytes);
  u32(D_CHUNKS, g.chunks);
  u32(D_SEGMENT_BITS, g.segmentBits);
  u32(D_SEED, opts.seed ?? (Math.random() * 2 ** 32) >>> 0);
  const limits = tableLimits(opts, g);
  u32(D_MAX_KEY_BYTES, limits.maxKeyBytes);
  u32(D_MAX_VALUE_BYTES, limits.maxValueBytes);
  dv.setFloat64(D_CREATED_AT, Date.now(), true);
  dv.setFloat64(D_STARTED_AT, Date.now(), true);
  bootId().copy(Buffer.from(meta), D_BOOT_ID);
  u32(D_DEFAULT_TTL_MS, opts.defaultTtlMs ?? 0);
  u32(D_EVICTION, evictionWord(opts.eviction));
  writeRegionPath(meta, regionPath);
  const segsPerChunk = 2 ** g.segmentBits / g.chunks;
  const heapStart = chunkHeapStart(segsPerChunk);
  const cap = perSegment(opts, g.segmentBits);
  for (let c = 0; c < g.chunks; c++) {
    const cu32 = new Uint32Array(chunks[c]);
    cu32[C_HEAP_START >>> 2] = heapStart;
    cu32[C_HEAP_END >>> 2] = g.chunkBytes;
    cu32[C_MAGIC >>> 2] = (CHUNK_MAGIC ^ c) >>> 0;
    const alloc = new Allocator(cu32, priv.i32, priv.heapBase(c), heapStart, g.chunkBytes);
    alloc.format();
    const u8 = new Uint8Array(chunks[c]);
    for (let local = 0; local < segsPerChunk; local++) {
      const seg = c + local * g.chunks;
      const block = alloc.alloc(indexBlockBytes(cap));
      const index = indexInBlock(block);
      u8.fill(0, index, index + cap * IX_BYTES);
      const word = index + Math.log2(cap);
      priv.i32[seg * PRIV_SEG_WORDS + (PS_INDEX >>> 2)] = word;
      priv.i32[seg * PRIV_SEG_WORDS + (PS_INDEX_BLOCK >>> 2)] = block;
      const dir = new BigInt64Array(chunks[c]);
      dir[(C_DIRECTORY + local * SEGMENT_BYTES + SEG_INDEX) >>> 3] = BigInt(word) | (BigInt(block) << 32n);
    }
  }
  Atomics.store(new Int32Array(meta), D_MAGIC >>> 2, DATA_MAGIC);
  const header = readDataHeader(file, meta, g.bytes);
  // The index blocks are the table's first bytes in use: counted on the main thread's line.
  let used = 0;
  for (let c = 0; c < g.chunks; c++) used += new Allocator(new Uint32Array(chunks[c]), priv.i32, priv.heapBase(c), heapStart, g.chunkBytes).usedBytes();
  header.stats[STATS_MAIN_LINE * (STATS_LINE_BYTES / 8) + Stat.UsedBytes] = used;
  return header;
}

/** Record the region path a data file belongs to (its orphan rule, layout/data-file.ts). */
export function writeRegionPath(meta: SharedArrayBuffer, regionPath: string): void {
  const enc = Buffer.from(regionPath, 'utf8');
  if (enc.length > REGION_PATH_MAX_BYTES) throw new RangeError(`region path is over ${REGION_PATH_MAX_BYTES} bytes: ${regionPath}`);
  const b = Buffer.from(meta);
  b.writeUInt16LE(enc.length, D_REGION_PATH);
  enc.copy(b, D_REGION_PATH_UTF8);
}

/** The chunks of a mapped data file as the store's views, with their hint maps (an empty map: none). */
export function chunkViews(header: DataHeader, chunks: readonly SharedArrayBuffer[], hints: readonly SharedArrayBuffer[] | null): Chunk[] {
  return chunks.map((sab, c) => new Chunk(sab, c, header.heapStart, header.chunkBytes, hints ? new Uint8Array(hints[c]) : new Uint8Array(0)));
}

/** What a worker thread needs to rebuild a table's views (server/worker-data.ts). */
export interface TableTransfer {
  path: string;
  meta: SharedArrayBuffer;
  chunks: SharedArrayBuffer[];
  hints: SharedArrayBuffer[] | null;
  priv: ReturnType<PrivateState['transferable']>;
}

/** A table's parts from what another thread transferred (the header is checked again). */
export function partsOf(t: TableTransfer): TableParts {
  const header = readDataHeader(t.path, t.meta, new DataView(t.meta).getFloat64(D_BYTES, true));
  return { header, chunks: chunkViews(header, t.chunks, t.hints), priv: PrivateState.fromShared(t.priv) };
}

/**
 * A table in private memory, no file: what a worker warms up on
 * (server/warmup.ts), and what tests and benchmarks use without a server.
 * Every chunk gets a hint map of its own.
 */
export function memoryTable(opts: TableOptions): TableParts & { transfer: TableTransfer } {
  const g = tableGeometry(opts);
  const meta = new SharedArrayBuffer(META_BYTES);
  const chunks: SharedArrayBuffer[] = [];
  const hints: SharedArrayBuffer[] = [];
  for (let c = 0; c < g.chunks; c++) {
    chunks.push(new SharedArrayBuffer(g.chunkBytes));
    hints.push(new SharedArrayBuffer(hintBytesOf(g.chunkBytes)));
  }
  const priv = PrivateState.forGeometry(g);
  const header = formatTable('(memory)', meta, chunks, priv, opts, g, '(memory)');
  return { header, chunks: chunkViews(header, chunks, hints), priv, transfer: { path: '(memory)', meta, chunks, hints, priv: priv.transferable() } };
}
