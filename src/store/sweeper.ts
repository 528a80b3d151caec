/**
 * Active expiry: the server's main thread reclaims expired entries that
 * nobody reads, a bounded number of index slots per heartbeat tick (like
 * Redis's active expiry), round-robin over the segments from where the last
 * sweep stopped. Each segment is visited under its own lock, never two at
 * once, and every removal is a writer's (segments.ts, SEQLOCK).
 */
import { expired, monoNowMs } from './clock';
import { Hand, walk } from './hand';
import { Segments } from './segments';
import { Stat } from '../layout/data-meta';
import { ENTRY_EXPIRES, ENTRY_INLINE } from '../layout/heap';

export class Sweeper {
  private readonly hand: Hand;

  constructor(private readonly segs: Segments) {
    this.hand = { first: 0, step: 1, seg: 0, slot: 0 };
  }

  /** Visit up to `budget` index slots and reclaim the expired entries; returns how many. */
  sweep(budget: number, now = monoNowMs()): number {
    let reclaimed = 0;
    walk(this.segs, this.hand, budget, () => false, (seg, slot, e) => {
      // An inline slot has no deadline.
      if (e === ENTRY_INLINE || !expired(this.segs.chunkOf(seg).dv.getFloat64(e + ENTRY_EXPIRES, true), now)) return false;
      this.segs.removeEntry(seg, slot);
      this.segs.stats[Stat.Expirations]++;
      reclaimed++;
      return true;
    });
    return reclaimed;
  }
}
