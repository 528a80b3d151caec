/**
 * Upkeep of the table by server threads: the expiry sweeper (reclaims
 * expired entries nobody reads) and eviction at the memory cap (CLOCK over
 * the segments' index slots). Both take each segment's lock in turn and
 * never hold two; their stores happen inside the segment's odd version
 * (segments.ts, SEQLOCK) like every writer's.
 */
import { expired, monoNowMs } from './clock';
import { Segments } from './segments';
import {
  ENTRY_EXPIRES,
  ENTRY_INLINE,
  INDEX_SLOT_BYTES,
  SEG_CAPACITY,
  SEG_INDEX,
  SLOT_ENTRY,
  Stat,
} from '../layout/layout';

/** Where a hand is: a segment, and a slot of its index. */
interface Hand {
  seg: number;
  slot: number;
}

export class Upkeep extends Segments {
  private readonly sweepHand: Hand = { seg: 0, slot: 0 };
  private readonly clockHand: Hand = { seg: 0, slot: 0 };
  /** Where evictIn starts its walk next (any slot: it wraps). */
  private localHand = 0;

  /**
   * Move `hand` over up to `budget` index slots, segment after segment,
   * each under its own lock (never two at once), until `enough()`.
   * `visit(seg, slot, entry)` sees each occupied slot and returns true when
   * it removed the entry: the slot is then looked at again, since backward
   * shift moved a later entry into it.
   */
  private walk(hand: Hand, budget: number, enough: () => boolean, visit: (seg: number, slot: number, e: number) => boolean): void {
    const segs = 2 ** this.segBits;
    for (let visited = 0; visited < budget && !enough(); ) {
      const seg = hand.seg;
      const lock = this.locks[seg];
      lock.lock();
      try {
        const d = this.dir(seg);
        const cap = this.u32[d + (SEG_CAPACITY >>> 2)];
        const index = this.u32[d + (SEG_INDEX >>> 2)];
        while (hand.slot < cap && visited < budget && !enough()) {
          visited++;
          const slot = index + hand.slot * INDEX_SLOT_BYTES;
          const e = this.u32[(slot + SLOT_ENTRY) >>> 2];
          if (e === 0 || !visit(seg, slot, e)) hand.slot++;
        }
        if (hand.slot >= cap) {
          hand.slot = 0;
          hand.seg = (seg + 1) % segs;
        }
      } finally {
        lock.unlock();
      }
    }
  }

  /**
   * Active expiry: visit up to `budget` index slots, round-robin over the
   * segments from where the last sweep stopped, and reclaim the entries
   * whose deadline has passed. Returns how many were reclaimed.
   */
  sweep(budget: number, now = monoNowMs()): number {
    let reclaimed = 0;
    this.walk(this.sweepHand, budget, () => false, (seg, slot, e) => {
      // An inline slot has no deadline.
      if (e === ENTRY_INLINE || !expired(this.dv.getFloat64(e + ENTRY_EXPIRES, true), now)) return false;
      this.removeEntry(seg, slot);
      this.stats[Stat.Expirations]++;
      reclaimed++;
      return true;
    });
    return reclaimed;
  }

  /**
   * A segment at its full load whose index cannot grow: the doubled index
   * needs one contiguous block, and evict() frees entries anywhere in the
   * table, which need not coalesce (measured: with 1 KiB values at a 16 MiB
   * cap, ~110 inserts per run met this, and under load a write could stay
   * Full through every eviction round). So evict one entry of this very
   * segment, CLOCK within it (a set visited byte is cleared: a second
   * chance; an expired entry goes first). Two passes at most, under the
   * segment's lock, which the caller holds. Only when the table evicts.
   */
  protected override evictIn(seg: number): boolean {
    if (!this.evicts) return false;
    const d = this.dir(seg);
    const cap = this.u32[d + (SEG_CAPACITY >>> 2)];
    const index = this.u32[d + (SEG_INDEX >>> 2)];
    const now = monoNowMs();
    const start = this.localHand;
    this.localHand = (start + 1) | 0;
    for (let n = 0; n < 2 * cap; n++) {
      const slot = index + ((start + n) & (cap - 1)) * INDEX_SLOT_BYTES;
      const e = this.u32[(slot + SLOT_ENTRY) >>> 2];
      if (e === 0) continue;
      const mark = this.markOf(slot, e);
      if (this.u8[mark] !== 0 && (e === ENTRY_INLINE || !expired(this.dv.getFloat64(e + ENTRY_EXPIRES, true), now))) {
        this.u8[mark] = 0;
        continue;
      }
      this.removeEntry(seg, slot);
      this.stats[Stat.Evictions]++;
      return true;
    }
    return false;
  }

  /**
   * Eviction at the cap: CLOCK over the segments' index slots (bench/
   * POLICY.md, "CLOCK-hash": no per-entry metadata beyond the visited
   * map). An entry whose visited byte is set gets it cleared and a second
   * chance; one that is clear (or expired) is removed. Stops once `bytes`
   * were freed or after visiting every slot twice; returns the bytes freed.
   * A u32 held in its slot frees no heap block but counts INDEX_SLOT_BYTES:
   * its removal is room in an index that can no longer grow.
   * Call it holding no segment lock.
   */
  evict(bytes: number): number {
    let freed = 0;
    const now = monoNowMs();
    this.walk(this.clockHand, 2 * this.buckets() + 2 ** this.segBits, () => freed >= bytes, (seg, slot, e) => {
      const inline = e === ENTRY_INLINE;
      const mark = this.markOf(slot, e);
      if (this.u8[mark] !== 0 && (inline || !expired(this.dv.getFloat64(e + ENTRY_EXPIRES, true), now))) {
        this.u8[mark] = 0;
        return false;
      }
      freed += inline ? INDEX_SLOT_BYTES : this.alloc.usable(e);
      this.removeEntry(seg, slot);
      this.stats[Stat.Evictions]++;
      return true;
    });
    return freed;
  }
}
