/**
 * The exchange file: its header, then each data chunk's eviction-hint map,
 * then the staging arena that carries request and response bytes, and the
 * sizes of both. data-file.ts creates and maps it; server/staging.ts
 * allocates staging blocks in the arena (store/buddy.ts).
 */
import { alignUp, Fields, PAGE } from './fields';
import { IX_BYTES } from './heap';
import { KEY_KIND_BYTES } from './keys-values';

// ---- Exchange file: what clients write (staging) and eviction hints ---------
/*
 * The exchange file is the one shared mapping besides the region that
 * clients write: request and response bytes (staging blocks, one per window
 * that carries bytes) and eviction hints (readers mark what they read). The
 * server trusts nothing in it: every length it reads there is checked
 * against its own records, and a forged hint only changes which entry is
 * evicted. A new one is made at every start (nothing in it is worth keeping).
 *
 * EXCHANGE FILE: header, then one hint map per data chunk, then the staging arena
 *   offset    bytes  field
 *        0        4  X_MAGIC
 *        4        4  X_VERSION
 *        8        4  X_HINT_BYTES              of each chunk (page-aligned)
 *       12        4  X_ARENA_BYTES
 *     4096        0  X_HINTS                   the hint maps, then the staging arena
 */
export const XCHG_MAGIC = 0x47484358; // "XCHG"
export const exchangeHeaderRecord = new Fields('EXCHANGE FILE: header, then one hint map per data chunk, then the staging arena');
export const X_MAGIC = exchangeHeaderRecord.field('X_MAGIC', 4);
export const X_VERSION = exchangeHeaderRecord.field('X_VERSION', 4);
export const X_HINT_BYTES = exchangeHeaderRecord.field('X_HINT_BYTES', 4, 'of each chunk (page-aligned)');
export const X_ARENA_BYTES = exchangeHeaderRecord.field('X_ARENA_BYTES', 4);
export const X_HINTS = exchangeHeaderRecord.field('X_HINTS', 0, 'the hint maps, then the staging arena', PAGE);
/**
 * Heap bytes per hint byte: one index slot. A key's hint is its slot's, for
 * an inline u32 and a heap entry alike, so only the hint pages that cover
 * indexes are ever touched (about two bytes per key), and an update (a new
 * entry in the same slot) keeps what readers marked.
 */
export const HINT_GRANULE = IX_BYTES;
/** Staging arena: at least this, else room for four requests at the largest value. */
export const MIN_ARENA_BYTES = 64 * 1024 * 1024;
export const MAX_ARENA_BYTES = 2 ** 30;

/** Hint bytes covering a chunk of `chunkBytes`. */
export function hintBytesOf(chunkBytes: number): number {
  return alignUp(Math.ceil(chunkBytes / HINT_GRANULE), PAGE);
}

/** Bytes of the staging arena for these limits: four of the largest requests, within bounds. */
export function arenaBytesOf(maxKeyBytes: number, maxValueBytes: number): number {
  let n = MIN_ARENA_BYTES;
  while (n < 4 * (maxKeyBytes + KEY_KIND_BYTES + maxValueBytes) && n < MAX_ARENA_BYTES) n *= 2;
  return n;
}

/** Where the staging arena starts in an exchange file for `chunks` chunks of `hintBytes` each. */
export function arenaOffset(chunks: number, hintBytes: number): number {
  return X_HINTS + chunks * hintBytes;
}

/** Staging block every window gets at its first byte request, enough for small requests. */
export const STAGING_DEFAULT_BYTES = 256;
