/**
 * What the S3-FIFO evictor (s3fifo.ts) and its upkeep (s3fifo-tidy.ts)
 * share: a chunk's queues, S's share, and what the upkeep needs of the
 * evictor. A contract of its own, so that neither imports the other's code
 * for it.
 */
import type { Lock } from '../sync/lock';
import type { ItemRing } from './item-ring';
import type { Ghost } from './ghost';
import type { Segments } from './segments';

/** S's share of a chunk's queued items (the paper's 10%), by count. */
export const SMALL_RATIO = 0.1;
/** One chunk's queues and their lock. */
export interface ChunkQueues {
  lock: Lock;
  small: ItemRing;
  main: ItemRing;
  ghost: Ghost;
}

/** The evictor as its upkeep sees it. */
export interface QueueHost {
  readonly segs: Segments;
  readonly queues: ChunkQueues[];
  /** The slot of the key an item names in segment `seg` (taken under its lock), or -1 when it is gone. */
  locate(seg: number, a: number, b: number, hash: number): number;
}
