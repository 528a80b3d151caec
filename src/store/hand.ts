/**
 * A hand: a cursor over the index slots of some segments, which the
 * sweeper (sweeper.ts: every segment) and the CLOCK evictor (evictor.ts:
 * one hand per chunk, over that chunk's segments) move a bounded number of
 * slots at a time, from where they stopped last.
 *
 * LOCKS. A hand holds one segment's lock at a time, never two (segments.ts,
 * LOCKS), and lets it go between segments, so a writer of another segment
 * never waits for a walk. What the visitor removes is removed by a writer
 * of that segment, inside its odd period (segments.ts, SEQLOCK).
 *
 * TRUST. Each slot's entry word is bounds-checked (Chunk.entryOk) before
 * the visitor sees it; a slot that fails marks its chunk suspect (repair.ts
 * rebuilds it) and is stepped over.
 */
import type { Segments } from './segments';
import { ENTRY_INLINE, IX_BYTES, IX_ENTRY } from '../layout/heap';

/**
 * Where a hand (the sweeper's, an evictor's) is: walking the segments
 * first, first + step, first + 2 step... and a slot of the current one.
 */
export interface Hand {
  first: number;
  step: number;
  seg: number;
  slot: number;
}

/**
 * Move `hand` over up to `budget` index slots, segment after segment,
 * each under its own lock (never two at once), until `enough()`.
 * `visit(seg, slot, entry)` sees each occupied slot whose entry passed
 * the bounds checks (a slot that fails them marks its chunk suspect and
 * is skipped) and returns true when it removed the entry: the slot is
 * then looked at again, since backward shift moved a later entry into it.
 */
export function walk(segs: Segments, hand: Hand, budget: number, enough: () => boolean, visit: (seg: number, slot: number, e: number) => boolean): void {
  for (let visited = 0; visited < budget && !enough(); ) {
    const seg = hand.seg;
    const lock = segs.locks[seg];
    lock.lock();
    try {
      const ch = segs.chunkOf(seg);
      const cap = segs.capacityOf(seg);
      const index = segs.indexOf(seg);
      while (hand.slot < cap && visited < budget && !enough()) {
        visited++;
        const slot = index + hand.slot * IX_BYTES;
        const e = ch.u32[(slot + IX_ENTRY) >>> 2];
        if (e === 0) hand.slot++;
        else if (e !== ENTRY_INLINE && !ch.entryOk(e)) {
          segs.suspects.add(seg & segs.chunkMask);
          hand.slot++;
        } else if (!visit(seg, slot, e)) hand.slot++;
      }
      if (hand.slot >= cap) {
        hand.slot = 0;
        hand.seg = hand.seg + hand.step < segs.segments ? hand.seg + hand.step : hand.first;
      }
    } finally {
      lock.unlock();
    }
  }
}
