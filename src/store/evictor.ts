/**
 * Eviction at the memory cap: what the table asks of a policy (Evictor),
 * and CLOCK over each chunk's index slots (bench/studies/POLICY.md,
 * "CLOCK-hash", `--eviction clock`): a key whose slot's hint byte (set by
 * the readers that found it, table-reader.ts) is not zero gets it cleared
 * and a second chance; one whose hint is zero, or that expired, is removed.
 * Each chunk is its own heap, so a write that cannot allocate evicts in the
 * chunk of its key's segment, with that chunk's own hand. The library's
 * own keys (KeyKind.System) are never evicted. S3-FIFO (s3fifo.ts, the
 * default) uses this hand for what its queues cannot free, and evictIn()
 * for a full segment.
 */
import { expired, monoNowMs } from './clock';
import { Hand, walk } from './hand';
import { Segments } from './segments';
import { Chunk } from './chunk';
import type { SlotPolicy } from './index-host';
import { INDEX_LOG2_MASK } from '../layout/chunk-directory';
import { Stat } from '../layout/data-meta';
import { ENTRY_EXPIRES, ENTRY_HEADER_BYTES, ENTRY_INLINE, IX_BYTES, IX_ENTRY } from '../layout/heap';
import { KeyKind } from '../layout/keys-values';

/** An eviction policy, as the table uses it (Table.roomy, the index's hooks: index-host.ts, the server's tick). */
export interface Evictor extends SlotPolicy {
  /**
   * Free about `bytes` in the chunk of segment `seg`; returns the bytes
   * freed (an inline u32 counts IX_BYTES). Called holding no segment lock.
   */
  evict(seg: number, bytes: number): number;
  /** Upkeep off the request path (the server's main thread): at most `budget` units of work; returns how many were done. */
  tidy(budget: number): number;
}

export class ClockEvictor implements Evictor {
  /** One hand per chunk, over that chunk's segments. */
  private readonly hands: Hand[];
  /** Where evictIn starts its walk next (any slot: it wraps). */
  private localHand = 0;

  constructor(private readonly segs: Segments) {
    const n = segs.chunks.length;
    this.hands = segs.chunks.map((_, c) => ({ first: c, step: n, seg: c, slot: 0 }));
  }

  /** Whether the entry in `slot` (entry `e`) keeps its place this pass: visited (its hint is cleared) or the library's own. */
  private spare(ch: Chunk, slot: number, e: number, now: number): boolean {
    if (e !== ENTRY_INLINE) {
      if (ch.u8[e + ENTRY_HEADER_BYTES] === KeyKind.System) return true;
      if (expired(ch.dv.getFloat64(e + ENTRY_EXPIRES, true), now)) return false;
    }
    const h = ch.hintOf(slot);
    if (h >= ch.hints.length || ch.hints[h] === 0) return false;
    ch.hints[h] = 0;
    return true;
  }

  /**
   * Free about `bytes` in the chunk of segment `seg`: stops once freed or
   * after visiting every slot of the chunk twice; returns the bytes freed.
   * A u32 held in its slot frees no heap block but counts IX_BYTES: its
   * removal is room in an index that can no longer grow. Call it holding
   * no segment lock.
   */
  evict(seg: number, bytes: number): number {
    const c = seg & (this.segs.chunks.length - 1);
    const ch = this.segs.chunks[c];
    let slots = 0;
    for (let s = c; s < this.segs.segments; s += this.segs.chunks.length) slots += this.segs.capacityOf(s);
    let freed = 0;
    const now = monoNowMs();
    walk(this.segs, this.hands[c], 2 * slots + this.segs.segments, () => freed >= bytes, (s, slot, e) => {
      if (this.spare(ch, slot, e, now)) return false;
      freed += this.segs.removeEntry(s, slot) || IX_BYTES;
      this.segs.stats[Stat.Evictions]++;
      return true;
    });
    return freed;
  }

  /** CLOCK keeps no queue: a new key has its slot's hint, cleared at insert. */
  admit(): void {}

  /** The hand needs no upkeep. */
  tidy(): number {
    return 0;
  }

  /**
   * A segment at its full load whose index cannot grow: the doubled index
   * needs one contiguous block, and evict() frees entries anywhere in the
   * chunk, which need not coalesce (measured: with 1 KiB values at a 16 MiB
   * cap, ~110 inserts per run met this, and under load a write could stay
   * Full through every eviction round). So evict one entry of this very
   * segment, CLOCK within it, two passes at most, under the segment's lock,
   * which the caller holds. Only when the table evicts.
   */
  evictIn(seg: number): boolean {
    if (!this.segs.evicts) return false;
    const ch = this.segs.chunkOf(seg);
    const cap = this.segs.capacityOf(seg);
    const index = this.segs.indexWord(seg) & ~INDEX_LOG2_MASK;
    const now = monoNowMs();
    const start = this.localHand;
    this.localHand = (start + 1) | 0;
    for (let n = 0; n < 2 * cap; n++) {
      const slot = index + ((start + n) & (cap - 1)) * IX_BYTES;
      const e = ch.u32[(slot + IX_ENTRY) >>> 2];
      if (e === 0 || (e !== ENTRY_INLINE && !ch.entryOk(e)) || this.spare(ch, slot, e, now)) continue;
      this.segs.removeEntry(seg, slot);
      this.segs.stats[Stat.Evictions]++;
      return true;
    }
    return false;
  }
}
