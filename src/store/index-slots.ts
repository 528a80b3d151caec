/**
 * Where keys sit in a segment's index, and how they move: a new key's slot
 * (insert; roomFor first, which grows the index when due), the backward
 * shift of a delete (removeSlot), the doubling of an index (grow), the
 * emptying of a segment (clearSegment), and a key's hint, which follows
 * it (moveHint). The lookup, find(), belongs to the structure
 * (segments.ts); everything here writes, under the segment's lock
 * (segments.ts: LOCKS, SEQLOCK). Layout: layout/heap.ts, INDEX SLOT.
 *
 * INVARIANT (linear probing, no tombstones): every key sits in the run of
 * occupied slots that starts at its home slot (its hash's low bits): no
 * slot between its home and its own is empty, since find() stops at the
 * first empty slot. insert keeps it by taking the first empty slot from
 * the home on; a delete by moving each later slot j of the run into the
 * hole when j's home is not in (hole, j]; grow and clear by placing every
 * key anew in an empty index.
 *
 * LOAD. An index doubles before an insert takes it past GROW_NUM/GROW_DEN
 * full; when the heap cannot supply the bigger index it fills on up to
 * FULL_NUM/FULL_DEN, and past that a new key needs the evictor to remove
 * one (SlotPolicy.evictIn), or the write answers Full. So a probe always
 * meets an empty slot.
 *
 * SLOT MOVES, for crash safety (segments.ts, COPY ON WRITE): a slot is
 * filled entry word last and emptied entry word first. A move fills the
 * hole's other words, then its entry word, then zeroes the source's entry
 * word: a process killed between the last two leaves the key in two
 * slots, which recovery drops to one (repair.ts); never a mixed slot.
 *
 * INDEX REPLACEMENT. A new index is built in a fresh heap block that no
 * reader can reach (readers keep using the old one), then published by
 * one store of its word inside an odd period (the mirror's word and block
 * by one 8-byte store: Chunk.storeIndex), and the old block is freed after
 * that period: readers see the old index or the new one, and a crash
 * keeps one of them whole. Only clearSegment, when the heap cannot supply
 * a fresh index, rewrites the index in place, inside one odd period
 * (readers retry meanwhile; a crash in it loses the keys it keeps).
 *
 * HINTS. A hint byte (exchange file) belongs to a slot, not to a key
 * (table-reader.ts): a new key's slot starts unvisited, and when a key
 * moves, its hint moves with it.
 */
import type { Chunk } from './chunk';
import type { IndexHost } from './index-host';
import { NO_MEMORY } from './alloc';
import { INDEX_LOG2_MASK } from '../layout/chunk-directory';
import { Stat } from '../layout/data-meta';
import { ENTRY_INLINE, FULL_DEN, FULL_NUM, GROW_DEN, GROW_NUM, indexBlockBytes, indexInBlock, IX_BYTES, IX_ENTRY, IX_HASH, IX_KEY, IX_VALUE, IX_WORDS, MAX_INDEX_LOG2 } from '../layout/heap';
import { PS_INDEX, PS_INDEX_BLOCK } from '../layout/server-private';

/** Make room for one more key in `seg`: grow its index if due; false when full. */
export function roomFor(segs: IndexHost, seg: number): boolean {
  const count = segs.countOf(seg);
  const cap = segs.capacityOf(seg);
  if ((count + 1) * GROW_DEN <= cap * GROW_NUM) return true;
  if (grow(segs, seg)) return true;
  return (count + 1) * FULL_DEN <= cap * FULL_NUM || segs.policy.evictIn(seg);
}

/** Link `entry` (or ENTRY_INLINE with `key` and `value`) into a free slot; the entry word goes last. */
export function insert(segs: IndexHost, seg: number, hash: number, entry: number, key: number, value: number): void {
  const ch = segs.chunkOf(seg);
  const u32 = ch.u32;
  const index = segs.indexOf(seg);
  const mask = segs.capacityOf(seg) - 1;
  let i = hash & mask;
  while (u32[(index + i * IX_BYTES + IX_ENTRY) >>> 2] !== 0) i = (i + 1) & mask;
  const slot = index + i * IX_BYTES;
  // A new key starts unvisited.
  const h = ch.hintOf(slot);
  if (h < ch.hints.length) ch.hints[h] = 0;
  const v = segs.beginWrite(seg);
  u32[(slot + IX_HASH) >>> 2] = hash;
  u32[(slot + IX_KEY) >>> 2] = key;
  u32[(slot + IX_VALUE) >>> 2] = value;
  u32[(slot + IX_ENTRY) >>> 2] = entry;
  segs.setCount(seg, segs.countOf(seg) + 1);
  segs.endWrite(seg, v);
  segs.stats[Stat.Entries]++;
  segs.policy.admit(seg, hash, entry, key);
}

/**
 * Backward-shift deletion, in one odd period: the deleted slot's entry
 * word is zeroed first (the delete takes effect there), then later slots
 * of the run move up into the hole (SLOT MOVES), no tombstone.
 */
export function removeSlot(segs: IndexHost, seg: number, slot: number): void {
  const ch = segs.chunkOf(seg);
  const u32 = ch.u32;
  const index = segs.indexOf(seg);
  const mask = segs.capacityOf(seg) - 1;
  const base = index >>> 2;
  const W = IX_WORDS;
  const E = IX_ENTRY >>> 2;
  const v = segs.beginWrite(seg);
  let hole = (slot - index) / IX_BYTES;
  u32[base + W * hole + E] = 0;
  for (let n = 0, j = (hole + 1) & mask; n <= mask; n++, j = (j + 1) & mask) {
    const sj = base + W * j;
    const e = u32[sj + E];
    if (e === 0) break;
    const home = u32[sj + (IX_HASH >>> 2)] & mask;
    // Slot j may move to the hole when its home is not in (hole, j].
    if (((j - home) & mask) >= ((j - hole) & mask)) {
      const sh = base + W * hole;
      u32[sh + (IX_HASH >>> 2)] = u32[sj + (IX_HASH >>> 2)];
      u32[sh + (IX_KEY >>> 2)] = u32[sj + (IX_KEY >>> 2)];
      u32[sh + (IX_VALUE >>> 2)] = u32[sj + (IX_VALUE >>> 2)];
      u32[sh + E] = e;
      u32[sj + E] = 0;
      moveHint(ch, sj << 2, sh << 2);
      hole = j;
    }
  }
  segs.setCount(seg, segs.countOf(seg) - 1);
  segs.endWrite(seg, v);
  segs.stats[Stat.Entries]--;
}

/** Publish a new index for `seg` (one store of its word), then free the old block. */
export function swapIndex(segs: IndexHost, seg: number, word: number, block: number): void {
  const pw = segs.pw(seg);
  const old = segs.priv[pw + (PS_INDEX_BLOCK >>> 2)];
  const v = segs.beginWrite(seg);
  publishIndex(segs, seg, word, block);
  segs.endWrite(seg, v);
  segs.freeBlock(seg, old);
}

/** Set segment `seg`'s index word and block, private and mirrored (the mirror by one 8-byte store). Inside an odd period. */
export function publishIndex(segs: IndexHost, seg: number, word: number, block: number): void {
  const pw = segs.pw(seg);
  segs.priv[pw + (PS_INDEX >>> 2)] = word;
  segs.priv[pw + (PS_INDEX_BLOCK >>> 2)] = block;
  segs.chunkOf(seg).storeIndex(segs.localOf(seg), word, block);
}

/** A zeroed index of 2^log2 slots in a new block: its block and word, or null when the heap cannot supply it. */
export function newIndex(segs: IndexHost, seg: number, log2: number): { block: number; word: number } | null {
  if (log2 > MAX_INDEX_LOG2) return null;
  const block = segs.allocBlock(seg, indexBlockBytes(1 << log2));
  if (block === NO_MEMORY) return null;
  const index = indexInBlock(block);
  segs.chunkOf(seg).u8.fill(0, index, index + (1 << log2) * IX_BYTES);
  return { block, word: index + log2 };
}

/**
 * Double a segment's index; false when the heap cannot supply it. The new
 * index is built in fresh memory (readers keep using the old one), then
 * swapped in by one store.
 */
export function grow(segs: IndexHost, seg: number): boolean {
  const cap = segs.capacityOf(seg);
  const fresh = newIndex(segs, seg, Math.log2(cap) + 1);
  if (fresh === null) return false;
  const ch = segs.chunkOf(seg);
  const u32 = ch.u32;
  const index = segs.indexOf(seg);
  const nindex = fresh.word - (fresh.word & INDEX_LOG2_MASK);
  const nmask = cap * 2 - 1;
  const W = IX_WORDS;
  // Slot words are copied one by one rather than by a copyWithin call per
  // slot: 100,000 u32 inserts from 1,024 buckets (~1,950 doublings) spent
  // 9.0-9.6 ms growing with the calls, 7.3-7.6 ms without.
  for (let i = 0; i < cap; i++) {
    const si = (index >>> 2) + W * i;
    if (u32[si + (IX_ENTRY >>> 2)] === 0) continue;
    let j = u32[si + (IX_HASH >>> 2)] & nmask;
    while (u32[(nindex >>> 2) + W * j + (IX_ENTRY >>> 2)] !== 0) j = (j + 1) & nmask;
    const sj = (nindex >>> 2) + W * j;
    for (let k = 0; k < W; k++) u32[sj + k] = u32[si + k];
    moveHint(ch, si << 2, sj << 2);
  }
  swapIndex(segs, seg, fresh.word, fresh.block);
  return true;
}

/** A key's hint follows it when its slot moves (a hint belongs to a slot: table-reader.ts). */
function moveHint(ch: Chunk, from: number, to: number): void {
  const f = ch.hintOf(from);
  const t = ch.hintOf(to);
  if (f < ch.hints.length && t < ch.hints.length) ch.hints[t] = ch.hints[f];
}

/**
 * Remove every key of the segment for which `keep(chunk, entry)` is
 * false; returns how many. The kept slots go into a fresh index of the
 * same capacity, swapped in by one store (so a crash keeps them all);
 * when the heap cannot supply that index, the segment is emptied in
 * place and the kept slots put back (a crash in that window loses them).
 */
export function clearSegment(segs: IndexHost, seg: number, keep: (ch: Chunk, entry: number) => boolean): number {
  const ch = segs.chunkOf(seg);
  const u32 = ch.u32;
  const index = segs.indexOf(seg);
  const cap = segs.capacityOf(seg);
  const kept: number[] = [];
  const dropped: number[] = [];
  for (let i = 0; i < cap; i++) {
    const s = (index >>> 2) + IX_WORDS * i;
    const e = u32[s + (IX_ENTRY >>> 2)];
    if (e === 0) continue;
    if (keep(ch, e)) for (let w = 0; w < IX_WORDS; w++) kept.push(u32[s + w]); // the slot's words, as the slot holds them
    else dropped.push(e);
  }
  if (dropped.length === 0) return 0;
  const fresh = kept.length > 0 ? newIndex(segs, seg, Math.log2(cap)) : null;
  if (fresh !== null) {
    const nindex = fresh.word - (fresh.word & INDEX_LOG2_MASK);
    placeSlots(u32, nindex, cap, kept);
    swapIndex(segs, seg, fresh.word, fresh.block);
    const v = segs.beginWrite(seg);
    segs.setCount(seg, kept.length / IX_WORDS);
    segs.endWrite(seg, v);
  } else {
    const v = segs.beginWrite(seg);
    for (let i = 0; i < cap; i++) u32[(index >>> 2) + IX_WORDS * i + (IX_ENTRY >>> 2)] = 0;
    ch.u8.fill(0, index, index + cap * IX_BYTES);
    placeSlots(u32, index, cap, kept);
    segs.setCount(seg, kept.length / IX_WORDS);
    segs.endWrite(seg, v);
  }
  for (const e of dropped) if (e !== ENTRY_INLINE) segs.freeBlock(seg, e);
  segs.stats[Stat.Entries] -= dropped.length;
  return dropped.length;
}

/**
 * Put `slots` (IX_WORDS words each, as an index slot holds them) into the
 * empty index at `index` with `cap` slots, by linear probing from each
 * hash, each slot's entry word last: a nonzero entry word is what makes a
 * slot taken. The caller is inside the segment's odd period, or the index
 * is not published yet.
 */
export function placeSlots(u32: Uint32Array, index: number, cap: number, slots: readonly number[]): void {
  for (let k = 0; k < slots.length; k += IX_WORDS) {
    let j = slots[k + (IX_HASH >>> 2)] & (cap - 1);
    while (u32[(index >>> 2) + IX_WORDS * j + (IX_ENTRY >>> 2)] !== 0) j = (j + 1) & (cap - 1);
    const s = (index >>> 2) + IX_WORDS * j;
    u32[s + (IX_HASH >>> 2)] = slots[k + (IX_HASH >>> 2)];
    u32[s + (IX_KEY >>> 2)] = slots[k + (IX_KEY >>> 2)];
    u32[s + (IX_VALUE >>> 2)] = slots[k + (IX_VALUE >>> 2)];
    u32[s + (IX_ENTRY >>> 2)] = slots[k + (IX_ENTRY >>> 2)];
  }
}
