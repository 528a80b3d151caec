/**
 * The table's options and the layout of a fresh data file (layout.ts,
 * "Data file"): the header words, the allocator's heap and one index per
 * segment. Run once by the server before any client maps the file; the
 * magic word is stored last (Atomics.store), so a file that carries it is
 * complete.
 */
import { Allocator } from './alloc';
import {
  D_BYTES,
  D_COARSE,
  D_DEFAULT_TTL_MS,
  D_DIRECTORY,
  D_EVICTION,
  D_MAGIC,
  D_MAX_KEY_BYTES,
  D_MAX_VALUE_BYTES,
  D_SEED,
  D_SEGMENT_BITS,
  D_STARTED_AT,
  D_VERSION,
  D_VISITED,
  DATA_MAGIC,
  dataHeapStart,
  DEFAULT_MAX_KEY_BYTES,
  DEFAULT_MAX_VALUE_BYTES,
  DEFAULT_SEGMENT_BITS,
  INDEX_SLOT_BYTES,
  indexBlockBytes,
  indexInBlock,
  MAX_DATA_BYTES,
  MAX_KEY_BYTES_LIMIT,
  MAX_SEGMENT_BITS,
  MAX_VALUE_BYTES_LIMIT,
  PAGE,
  REGION_VERSION,
  SEG_CAPACITY,
  SEG_INDEX,
  SEG_INDEX_BLOCK,
  SEGMENT_BYTES,
  VISITED_GRANULE,
  visitedMapStart,
} from '../layout/layout';

export interface TableOptions {
  /** At the cap, evict entries to make room (default) or refuse writes (false). */
  evict?: boolean;
  /** Default time to live of writes without one, in ms (0 = none). */
  defaultTtlMs?: number;
  /** Initial total index slots (spread over the segments). */
  initialBuckets: number;
  /** Bytes of the data file: the table's memory cap. */
  dataBytes: number;
  segmentBits?: number;
  coarse?: boolean;
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

/** Validate options; the data file size they need at least. */
export function tableMinBytes(opts: TableOptions): number {
  const segBits = opts.segmentBits ?? DEFAULT_SEGMENT_BITS;
  checkInt('segment bits', segBits, 0, MAX_SEGMENT_BITS);
  checkInt('initial table size', opts.initialBuckets, 1, 2 ** 30);
  checkInt('max key bytes', opts.maxKeyBytes ?? DEFAULT_MAX_KEY_BYTES, 64, MAX_KEY_BYTES_LIMIT);
  checkInt('max value bytes', opts.maxValueBytes ?? DEFAULT_MAX_VALUE_BYTES, 64, MAX_VALUE_BYTES_LIMIT);
  checkInt('default ttl (ms)', opts.defaultTtlMs ?? 0, 0, 2 ** 32 - 1);
  const perSeg = 2 ** Math.max(2, log2Ceil(Math.ceil(opts.initialBuckets / 2 ** segBits)));
  const need = 2 ** segBits * (indexBlockBytes(perSeg) + 16) + 2 * PAGE;
  return visitedMapStart(segBits) + Math.ceil((need * (VISITED_GRANULE + 1)) / VISITED_GRANULE);
}

/** Lay out a fresh (zeroed) data file of opts.dataBytes bytes. */
export function formatTable(sab: SharedArrayBuffer, opts: TableOptions): void {
  const need = tableMinBytes(opts);
  if (!(opts.dataBytes <= MAX_DATA_BYTES)) throw new RangeError(`table memory cap must be at most ${MAX_DATA_BYTES} bytes`);
  if (!(opts.dataBytes >= need)) throw new RangeError(`table memory cap ${opts.dataBytes} bytes is below the ${need} bytes the initial table needs`);
  if (opts.dataBytes % PAGE !== 0) throw new RangeError(`table memory cap must be a multiple of ${PAGE} bytes`);
  const segBits = opts.segmentBits ?? DEFAULT_SEGMENT_BITS;
  const u32 = new Uint32Array(sab);
  u32[D_VERSION >>> 2] = REGION_VERSION;
  u32[D_BYTES >>> 2] = opts.dataBytes;
  u32[D_SEGMENT_BITS >>> 2] = segBits;
  u32[D_SEED >>> 2] = opts.seed ?? (Math.random() * 2 ** 32) >>> 0;
  u32[D_COARSE >>> 2] = opts.coarse ? 1 : 0;
  u32[D_MAX_KEY_BYTES >>> 2] = opts.maxKeyBytes ?? DEFAULT_MAX_KEY_BYTES;
  u32[D_MAX_VALUE_BYTES >>> 2] = opts.maxValueBytes ?? DEFAULT_MAX_VALUE_BYTES;
  u32[D_DEFAULT_TTL_MS >>> 2] = opts.defaultTtlMs ?? 0;
  new DataView(sab).setFloat64(D_STARTED_AT, Date.now(), true);
  u32[D_VISITED >>> 2] = visitedMapStart(segBits);
  u32[D_EVICTION >>> 2] = opts.evict === false ? 0 : 1;
  Allocator.format(u32, dataHeapStart(segBits, opts.dataBytes), opts.dataBytes);
  const alloc = new Allocator(u32);
  const perSeg = 2 ** Math.max(2, log2Ceil(Math.ceil(opts.initialBuckets / 2 ** segBits)));
  const u8 = new Uint8Array(sab);
  for (let s = 0; s < 2 ** segBits; s++) {
    const block = alloc.alloc(indexBlockBytes(perSeg));
    const index = indexInBlock(block);
    u8.fill(0, index, index + perSeg * INDEX_SLOT_BYTES);
    const d = (D_DIRECTORY + s * SEGMENT_BYTES) >>> 2;
    u32[d + (SEG_CAPACITY >>> 2)] = perSeg;
    u32[d + (SEG_INDEX >>> 2)] = index;
    u32[d + (SEG_INDEX_BLOCK >>> 2)] = block;
  }
  Atomics.store(u32, D_MAGIC >>> 2, DATA_MAGIC);
}
