/**
 * What index-slots.ts needs of the structure it moves slots in: a
 * segment's chunk, index and counts, the writer half of its seqlock, its
 * blocks, and the hooks an insert and a full index call (SlotPolicy). Segments
 * (segments.ts) is the one implementation; this contract keeps
 * index-slots.ts from importing segments.ts, which calls it.
 */
import type { Chunk } from './chunk';

/**
 * What an eviction policy does at the index's two moments (evictor.ts,
 * s3fifo.ts). Methods of a class, not closures a table installs: the
 * insert path then calls one target in every table of a thread, so the
 * server's warm-up table (warmup.ts) trains it for the real one. With a
 * closure per table, the first real insert of a fresh server deoptimized
 * index-slots.ts insert ("wrong call target", --trace-deopt on ./server
 * during its first replay); with methods it does not.
 */
export interface SlotPolicy {
  /** A key was inserted into `entry` (ENTRY_INLINE: u32 `key`), under the segment's lock, after the odd period. Updates are not reported. */
  admit(seg: number, hash: number, entry: number, key: number): void;
  /** Segment `seg` is at its full load and its index cannot grow: remove one of its entries (true), or say no (false: Full). Under its lock. */
  evictIn(seg: number): boolean;
}

export interface IndexHost {
  /** The private words (PS_*) of every segment. */
  readonly priv: Int32Array;
  /** This thread's counter line (Stat). */
  readonly stats: Float64Array;
  /** The eviction policy's hooks: an insert's admit, a full segment's evictIn. */
  readonly policy: SlotPolicy;
  chunkOf(seg: number): Chunk;
  localOf(seg: number): number;
  /** The word index of segment `seg`'s private words in `priv`. */
  pw(seg: number): number;
  indexOf(seg: number): number;
  capacityOf(seg: number): number;
  countOf(seg: number): number;
  setCount(seg: number, n: number): void;
  beginWrite(seg: number): number;
  endWrite(seg: number, v: number): void;
  allocBlock(seg: number, bytes: number): number;
  freeBlock(seg: number, block: number): number;
}
