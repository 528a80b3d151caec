/**
 * What index-slots.ts needs of the structure it moves slots in: a
 * segment's chunk, index and counts, the writer half of its seqlock, its
 * blocks, and the hooks an insert and a full heap call. Segments
 * (segments.ts) is the one implementation; this contract keeps
 * index-slots.ts from importing segments.ts, which calls it.
 */
import type { Chunk } from './chunk';

export interface IndexHost {
  /** The private words (PS_*) of every segment. */
  readonly priv: Int32Array;
  /** This thread's counter line (Stat). */
  readonly stats: Float64Array;
  /** Called when a new index cannot be allocated: true when eviction made room. */
  onFull: (seg: number) => boolean;
  /** Called for every key inserted (the eviction policy's queue). */
  onInsert: (seg: number, hash: number, entry: number, key: number) => void;
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
