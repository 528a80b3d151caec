/**
 * The server's lock-free u32 get (Table.getU32): a visitor of the one
 * seqlock reader (seqlock.ts), which validates the segment and its version
 * around it. It answers only what a probe of the index alone can tell: a
 * u32 key held in its slot (ENTRY_INLINE), or no such key. Anything else
 * (the key's entry in the heap, a slot that makes no sense) is Torn, and
 * the caller reads under the segment's lock instead: the probe follows no
 * entry offset, so it needs no bounds check beyond the reader's.
 *
 * One instance per Table, reused for every get (its fields carry the
 * question and the answer): no allocation per request.
 */
import { Chunk } from './chunk';
import { SegmentVisitor, Visit } from './seqlock';
import { ENTRY_INLINE, IX_ENTRY, IX_HASH, IX_KEY, IX_VALUE, IX_WORDS } from '../layout/heap';

export class U32Peek implements SegmentVisitor {
  hash = 0;
  key = 0;
  value = 0;

  /** Found: the key is inline (value in `value`); Absent; Torn: anything else (take the lock). */
  visit(ch: Chunk, index: number, mask: number): Visit {
    const u32 = ch.u32;
    for (let n = 0, i = this.hash & mask; n <= mask; n++, i = (i + 1) & mask) {
      const s = (index >>> 2) + IX_WORDS * i;
      const e = u32[s + (IX_ENTRY >>> 2)];
      if (e === 0) return Visit.Absent;
      if (u32[s + (IX_HASH >>> 2)] !== this.hash) continue;
      if (e !== ENTRY_INLINE) return Visit.Torn;
      if (u32[s + (IX_KEY >>> 2)] === this.key) {
        this.value = u32[s + (IX_VALUE >>> 2)];
        return Visit.Found;
      }
    }
    return Visit.Torn;
  }
}
