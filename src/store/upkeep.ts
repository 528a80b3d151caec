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
  INDEX_SLOT_BYTES,
  SEG_CAPACITY,
  SEG_INDEX,
  SLOT_ENTRY,
  Stat,
} from '../layout/layout';

export class Upkeep extends Segments {
  /**
   * Active expiry: visit up to `budget` index slots, round-robin over the
   * segments from where the last sweep stopped, and reclaim the entries
   * whose deadline has passed. Returns how many were reclaimed. Each
   * segment is locked only while its slots are visited.
   */
  sweep(budget: number, now = monoNowMs()): number {
    let reclaimed = 0;
    const segs = 2 ** this.segBits;
    for (let visited = 0; visited < budget; ) {
      const seg = this.sweepSeg;
      const lock = this.locks[seg];
      lock.lock();
      try {
        const d = this.dir(seg);
        const cap = this.u32[d + (SEG_CAPACITY >>> 2)];
        const index = this.u32[d + (SEG_INDEX >>> 2)];
        while (this.sweepSlot < cap && visited < budget) {
          visited++;
          const slot = index + this.sweepSlot * INDEX_SLOT_BYTES;
          const e = this.u32[(slot + SLOT_ENTRY) >>> 2];
          // A removal shifts a later entry into this slot: look at it again.
          if (e !== 0 && expired(this.dv.getFloat64(e + ENTRY_EXPIRES, true), now)) {
            this.removeEntry(seg, slot);
            this.stats[Stat.Expirations]++;
            reclaimed++;
          } else this.sweepSlot++;
        }
        if (this.sweepSlot >= cap) {
          this.sweepSlot = 0;
          this.sweepSeg = (seg + 1) % segs;
          this.sweepLaps += this.sweepSeg === 0 ? 1 : 0;
        }
      } finally {
        lock.unlock();
      }
    }
    return reclaimed;
  }
  protected sweepSeg = 0;
  protected sweepSlot = 0;

  /**
   * Eviction at the cap: CLOCK over the segments' index slots (bench/
   * POLICY.md, "CLOCK-hash": no per-entry metadata beyond the visited
   * map). A hand walks segment after segment; an entry whose visited byte
   * is set gets it cleared and a second chance, one that is clear (or
   * expired) is removed. Stops once `bytes` were freed or after visiting
   * every slot twice; returns the bytes freed. Call it holding no segment
   * lock: it takes each segment's lock in turn.
   */
  evict(bytes: number): number {
    let freed = 0;
    const segs = 2 ** this.segBits;
    const limit = 2 * this.buckets() + segs;
    const now = monoNowMs();
    for (let visited = 0; freed < bytes && visited < limit; ) {
      const seg = this.handSeg;
      const lock = this.locks[seg];
      lock.lock();
      try {
        const d = this.dir(seg);
        const cap = this.u32[d + (SEG_CAPACITY >>> 2)];
        const index = this.u32[d + (SEG_INDEX >>> 2)];
        while (this.handSlot < cap && freed < bytes) {
          visited++;
          const slot = index + this.handSlot * INDEX_SLOT_BYTES;
          const e = this.u32[(slot + SLOT_ENTRY) >>> 2];
          if (e === 0) {
            this.handSlot++;
            continue;
          }
          const mark = this.visited + ((e - this.heapStart) >>> 4);
          if (this.u8[mark] !== 0 && !expired(this.dv.getFloat64(e + ENTRY_EXPIRES, true), now)) {
            this.u8[mark] = 0;
            this.handSlot++;
            continue;
          }
          // Removal shifts a later entry into this slot: look at it again.
          freed += this.alloc.usable(e);
          this.removeEntry(seg, slot);
          this.stats[Stat.Evictions]++;
        }
        if (this.handSlot >= cap) {
          this.handSlot = 0;
          this.handSeg = (seg + 1) % segs;
        }
      } finally {
        lock.unlock();
      }
    }
    return freed;
  }
  protected handSeg = 0;
  protected handSlot = 0;
  /** Completed passes of the sweeper over the whole table (tests). */
  sweepLaps = 0;

}
