/**
 * Rebuilding a chunk from what its file holds: the step that adopts a data
 * file after a stop or a crash (recovery.ts), and that repairs a chunk
 * found forged while the server serves (repairSuspects, below: under all
 * of the chunk's segment locks). Nothing the file says is believed until
 * checked; what fails a check is dropped, since a cache may lose an entry
 * but never its service. The heap's part is heap-rebuild.ts; a key in two
 * slots is what index-slots.ts (SLOT MOVES) can leave.
 *
 * WHAT A CRASH CAN LEAVE, and its repair (segments.ts makes every store a
 * reader can see a whole aligned word, copy on write):
 *   a version left odd (a writer died inside)  -> made even, and past every
 *                                                version readers saw
 *   a key in two slots (a backward shift cut    -> one kept (same entry)
 *     between filling the hole and emptying
 *     its source)
 *   a new entry or index allocated but never   -> unreachable: free space
 *     linked; an old one unlinked, not freed
 *   block headers mid-split or mid-coalesce,    -> the heap is re-tiled from
 *     and the allocator's free lists (private,     the live blocks
 *     gone with the process)
 *   count mirrors and counters off by one       -> recounted
 * WHAT A FORGER CAN LEAVE: anything. Every slot is checked: an inline slot's
 * hash must be its key's; an entry must lie in the heap inside a used block
 * big enough for it, with a known tag and key kind, sane lengths, and the
 * hash of its key material must be its slot's and belong to this segment;
 * blocks may not overlap. What fails is dropped; a segment whose index
 * fails is emptied.
 */
import { TableCorruptError } from '../errors';
import { Segments } from './segments';
import { newIndex, placeSlots, publishIndex } from './index-slots';
import { claimBlock, overlapping, rebuildHeap } from './heap-rebuild';
import { Chunk } from './chunk';
import { hashBytes, hashU32Key, U32_KEY_BYTES } from './keys';
import { C_DIRECTORY, INDEX_LOG2_MASK, SEG_COUNT, SEG_VERSION, SEGMENT_BYTES } from '../layout/chunk-directory';
import { Stat } from '../layout/data-meta';
import {
  ENTRY_EXPIRES,
  ENTRY_HEADER_BYTES,
  ENTRY_INLINE,
  ENTRY_KEY_LEN,
  ENTRY_TAG,
  ENTRY_VALUE_LEN,
  entryBytes,
  indexBlockBytes,
  indexInBlock,
  IX_BYTES,
  IX_ENTRY,
  IX_HASH,
  IX_KEY,
  IX_WORDS,
  TLSF_ALIGN,
} from '../layout/heap';
import { KEY_KIND_BYTES, KeyKind, valueShapeOk } from '../layout/keys-values';
import { PS_COUNT, PS_VERSION } from '../layout/server-private';

/** What a rebuild found. */
export interface RepairReport {
  segments: number;
  /** Keys kept. */
  keys: number;
  /** Slots dropped because they failed a check (forged or torn data). */
  dropped: number;
  /** Second slots of one key (a crash inside a delete), dropped. */
  duplicates: number;
  /** Segments whose index failed its checks and were emptied. */
  lostIndexes: number;
  /** Heap bytes in use afterwards, headers included. */
  usedBytes: number;
}

export interface RepairOptions {
  /** Read each segment's index word from the file (adoption: the private words are empty) instead of the private copy. */
  fromFile: boolean;
  /** A deadline of an adopted entry as it should be now (a reboot converts them); return it unchanged otherwise. */
  deadline?: (expires: number) => number;
}

/**
 * Rebuild chunk `c` of `segs`: its segments' indexes and its heap. The
 * caller keeps every other writer of the chunk out (it holds all of the
 * chunk's segment locks, or nobody else runs yet). Readers may go on: each
 * segment is rebuilt inside an odd period of its version.
 */
export function rebuildChunk(segs: Segments, c: number, opts: RepairOptions): RepairReport {
  const ch = segs.chunks[c];
  const alloc = segs.allocs[c];
  const n = segs.chunks.length;
  const report: RepairReport = { segments: 0, keys: 0, dropped: 0, duplicates: 0, lostIndexes: 0, usedBytes: 0 };
  // 1. Every segment's index (its block found from its word) and the slots that pass their checks.
  const kept = new Map<number, number[]>(); // seg -> its kept slots, IX_WORDS words each as an index slot holds them
  const indexes = new Map<number, { word: number; block: number }>();
  const indexOwner = new Map<number, number>(); // index block -> its seg
  const blocks: number[] = []; // payload offsets of live blocks
  // One bit per TLSF_ALIGN bytes of heap: the blocks claimed so far. A Map
  // of a million entries cost ~250 ms of a 1 M-entry adoption; the bits
  // cost one load and one store each (4 MiB for a 256 MiB heap).
  const taken = new Uint32Array(Math.ceil((ch.heapEnd - ch.heapStart) / TLSF_ALIGN / 32));
  for (let seg = c; seg < segs.segments; seg += n) {
    report.segments++;
    const local = segs.localOf(seg);
    const word = opts.fromFile ? ch.indexWord(local) : segs.indexWord(seg);
    const block = ch.indexOk(word) ? indexBlockOf(segs, c, word, opts.fromFile ? ch.indexBlockWord(local) : segs.indexBlock(seg)) : -1;
    const slots: number[] = [];
    kept.set(seg, slots);
    if (block < 0) {
      report.lostIndexes++;
      continue;
    }
    indexes.set(seg, { word, block });
    blocks.push(block);
    indexOwner.set(block, seg);
    // An index block an entry already holds is pushed twice all the same: step 2 finds the overlap.
    take(taken, ch, block);
    collectSlots(segs, ch, seg, word, slots, report);
    for (let k = 0; k < slots.length; k += IX_WORDS) {
      const e = slots[k + (IX_ENTRY >>> 2)];
      if (e === ENTRY_INLINE) continue;
      if (take(taken, ch, e)) {
        // Two slots, one entry: a crash's duplicate when it is this very key; a forger's otherwise.
        report.duplicates++;
        slots.splice(k, IX_WORDS);
        k -= IX_WORDS;
        continue;
      }
      blocks.push(e);
    }
    dedupeInline(slots, report);
  }
  // 2. Blocks may not overlap: an entry that overlaps anything goes; an index that overlaps another index empties its segment.
  const live = Uint32Array.from(blocks).sort();
  const drop = new Set<number>();
  for (const i of overlapping(alloc, live)) {
    const b = live[i];
    const who = indexOwner.get(b);
    drop.add(b);
    if (who !== undefined) {
      indexes.delete(who);
      kept.set(who, []);
      report.lostIndexes++;
    }
  }
  if (drop.size > 0) {
    for (const [seg, slots] of kept)
      for (let k = 0; k < slots.length; k += IX_WORDS)
        if (slots[k + (IX_ENTRY >>> 2)] !== ENTRY_INLINE && (drop.has(slots[k + (IX_ENTRY >>> 2)]) || !indexes.has(seg))) {
          drop.add(slots[k + (IX_ENTRY >>> 2)]);
          slots.splice(k, IX_WORDS);
          k -= IX_WORDS;
          report.dropped++;
        }
  }
  // 3. The heap, re-tiled around what lives.
  rebuildHeap(alloc, drop.size === 0 ? live : live.filter((b) => !drop.has(b)));
  // 4. Each index rebuilt from its kept slots (in place, or a fresh one for a lost index), and its words set.
  for (const [seg, slots] of kept) {
    let idx = indexes.get(seg);
    if (idx === undefined) {
      const log2 = Math.max(2, Math.ceil(Math.log2(((slots.length / IX_WORDS) * 4) / 3 + 1)));
      const fresh = newIndex(segs, seg, log2);
      if (fresh === null) {
        // No room even for an empty index: drop the slots (their entries were counted live; free them).
        for (let k = 0; k < slots.length; k += IX_WORDS) if (slots[k + (IX_ENTRY >>> 2)] !== ENTRY_INLINE) alloc.free(slots[k + (IX_ENTRY >>> 2)]);
        slots.length = 0;
        continue;
      }
      idx = fresh;
    }
    refill(segs, ch, seg, idx.word, idx.block, slots, opts.deadline);
    report.keys += slots.length / IX_WORDS;
  }
  report.usedBytes = alloc.usedBytes();
  return report;
}

/** Mark block `b` (an aligned offset in the heap) taken; whether it already was. */
function take(taken: Uint32Array, ch: Chunk, b: number): boolean {
  const g = (b - ch.heapStart) / TLSF_ALIGN;
  const bit = 1 << (g & 31);
  const was = (taken[g >>> 5] & bit) !== 0;
  taken[g >>> 5] |= bit;
  return was;
}

/** `block` when it is the block holding the index of word `word` (the index aligned in it, claimed: heap-rebuild.ts, claimBlock), else -1. */
function indexBlockOf(segs: Segments, c: number, word: number, block: number): number {
  const index = word - (word & INDEX_LOG2_MASK);
  return indexInBlock(block) === index && claimBlock(segs.allocs[c], block, indexBlockBytes(1 << (word & INDEX_LOG2_MASK))) ? block : -1;
}

/** The slots of segment `seg`'s index that pass every check, as [hash, entry, key, value] quadruples. */
function collectSlots(segs: Segments, ch: Chunk, seg: number, word: number, out: number[], report: RepairReport): void {
  const u32 = ch.u32;
  const index = word - (word & INDEX_LOG2_MASK);
  const cap = 1 << (word & INDEX_LOG2_MASK);
  const alloc = segs.allocOf(seg);
  for (let i = 0; i < cap; i++) {
    const s = (index >>> 2) + IX_WORDS * i;
    const e = u32[s + (IX_ENTRY >>> 2)];
    if (e === 0) continue;
    const hash = u32[s + (IX_HASH >>> 2)];
    let ok: boolean;
    if (e === ENTRY_INLINE) ok = hash === hashU32Key(u32[s + (IX_KEY >>> 2)], segs.seed);
    // The entry's block is claimed (its header rewritten) last, once the
    // entry proved itself: a forged slot must not get a header written
    // into the middle of another block.
    else
      ok =
        ch.entryOk(e) &&
        entryValid(segs, ch, e) &&
        hashBytes(ch.u8, e + ENTRY_HEADER_BYTES, u32[(e + ENTRY_KEY_LEN) >>> 2] & 0xffff, segs.seed) === hash &&
        segs.segmentOf(hash) === seg &&
        claimBlock(alloc, e, entryBytes(u32[(e + ENTRY_KEY_LEN) >>> 2] & 0xffff, u32[(e + ENTRY_VALUE_LEN) >>> 2]));
    if (!ok || segs.segmentOf(hash) !== seg) {
      report.dropped++;
      continue;
    }
    for (let w = 0; w < IX_WORDS; w++) out.push(u32[s + w]); // the slot's words, as the slot holds them
  }
}

/** An entry's own checks: lengths, tag and key kind known, a deadline that is a number, all of it inside the heap. */
function entryValid(segs: Segments, ch: Chunk, e: number): boolean {
  const keyLen = ch.u32[(e + ENTRY_KEY_LEN) >>> 2] & 0xffff;
  const valueLen = ch.u32[(e + ENTRY_VALUE_LEN) >>> 2];
  const tag = ch.u8[e + ENTRY_TAG];
  const kind = ch.u8[e + ENTRY_HEADER_BYTES];
  if (keyLen < KEY_KIND_BYTES || keyLen > segs.maxKeyBytes + KEY_KIND_BYTES || valueLen > segs.maxValueBytes) return false;
  if (kind > KeyKind.Reserved || (kind === KeyKind.U32 && keyLen !== U32_KEY_BYTES)) return false;
  if (!valueShapeOk(tag, valueLen)) return false;
  const expires = ch.dv.getFloat64(e + ENTRY_EXPIRES, true);
  if (!(expires >= 0) || expires === Infinity) return false;
  return ch.fits(e + ENTRY_HEADER_BYTES, keyLen + valueLen);
}

/** Inline slots of one u32 key twice (a crash inside a delete's shift): keep the first. */
function dedupeInline(slots: number[], report: RepairReport): void {
  const seen = new Set<number>();
  for (let k = 0; k < slots.length; k += IX_WORDS) {
    if (slots[k + (IX_ENTRY >>> 2)] !== ENTRY_INLINE) continue;
    if (seen.has(slots[k + (IX_KEY >>> 2)])) {
      report.duplicates++;
      slots.splice(k, IX_WORDS);
      k -= IX_WORDS;
    } else seen.add(slots[k + (IX_KEY >>> 2)]);
  }
}

/**
 * Empty segment `seg`'s index and put `slots` back (entry word last), then
 * set its words, private and mirrored: all inside one odd period, so
 * readers retry meanwhile. The version ends past any a reader has seen.
 */
function refill(segs: Segments, ch: Chunk, seg: number, word: number, block: number, slots: number[], deadline?: (e: number) => number): void {
  const u32 = ch.u32;
  const index = word - (word & INDEX_LOG2_MASK);
  const cap = 1 << (word & INDEX_LOG2_MASK);
  const d = (C_DIRECTORY + segs.localOf(seg) * SEGMENT_BYTES) >>> 2;
  const pw = segs.pw(seg);
  const seen = Math.max(segs.priv[pw + (PS_VERSION >>> 2)], u32[d + (SEG_VERSION >>> 2)]) | 0;
  const v = (seen + 2) & ~1;
  Atomics.store(ch.i32, d + (SEG_VERSION >>> 2), v + 1);
  ch.u8.fill(0, index, index + cap * IX_BYTES);
  placeSlots(u32, index, cap, slots);
  if (deadline)
    for (let k = 0; k < slots.length; k += IX_WORDS) {
      const e = slots[k + (IX_ENTRY >>> 2)];
      if (e === ENTRY_INLINE) continue;
      const at = ch.dv.getFloat64(e + ENTRY_EXPIRES, true);
      if (at !== 0) ch.dv.setFloat64(e + ENTRY_EXPIRES, deadline(at), true);
    }
  const count = slots.length / IX_WORDS;
  publishIndex(segs, seg, word, block);
  segs.priv[pw + (PS_COUNT >>> 2)] = count;
  segs.priv[pw + (PS_VERSION >>> 2)] = v + 2;
  u32[d + (SEG_COUNT >>> 2)] = count;
  Atomics.store(ch.i32, d + (SEG_VERSION >>> 2), v + 2);
}

/**
 * The last resort when a chunk cannot be rebuilt (rebuildChunk threw: a
 * heap forged past mending): empty it. Every segment of the chunk gets a
 * fresh empty index in a fresh heap, each inside an odd period; the chunk's
 * keys are lost, its service is not. The caller holds every lock of the
 * chunk, as for rebuildChunk. Returns the keys dropped.
 */
export function emptyChunk(segs: Segments, c: number): number {
  const ch = segs.chunks[c];
  const n = segs.chunks.length;
  let dropped = 0;
  for (let seg = c; seg < segs.segments; seg += n) dropped += segs.countOf(seg);
  segs.allocs[c].format();
  for (let seg = c; seg < segs.segments; seg += n) {
    const fresh = newIndex(segs, seg, 2);
    if (fresh === null) throw new Error(`chunk ${c} cannot hold even an empty index`);
    refill(segs, ch, seg, fresh.word, fresh.block, []);
  }
  return dropped;
}

/**
 * Repair while serving: rebuild every chunk a writer met forged data in
 * (Segments.suspects), or empty it when it cannot be rebuilt, holding all
 * of its segments' locks (taken in order; a writer holds at most one and
 * never waits for another, so no cycle); readers go on. Counted
 * (Stat.Repairs); returns one line per chunk for the log.
 */
export function repairSuspects(segs: Segments): string[] {
  const lines: string[] = [];
  const n = segs.chunks.length;
  for (const c of [...segs.suspects]) {
    segs.suspects.delete(c);
    const held: number[] = [];
    // Coarse mode: every segment's lock is one word; take it once.
    for (let s = c; s < segs.segments && !(segs.coarse && held.length > 0); s += n) held.push(s);
    for (const s of held) segs.locks[s].lock();
    try {
      let keys = 0;
      for (let s = c; s < segs.segments; s += n) keys += segs.countOf(s);
      const bytes = segs.allocs[c].usedBytes();
      try {
        const r = rebuildChunk(segs, c, { fromFile: false });
        segs.stats[Stat.Entries] += r.keys - keys;
        segs.stats[Stat.UsedBytes] += r.usedBytes - bytes;
        segs.stats[Stat.Repairs]++;
        lines.push(`chunk ${c} of the data file held data no server wrote (did a process write into it?): rebuilt, ${r.keys} keys kept, ${r.dropped} slots dropped, ${r.lostIndexes} indexes emptied`);
      } catch (e) {
        if (!(e instanceof TableCorruptError || e instanceof RangeError)) throw e;
        emptyChunk(segs, c);
        segs.stats[Stat.Repairs]++;
        segs.stats[Stat.Entries] -= keys;
        segs.stats[Stat.UsedBytes] += segs.allocs[c].usedBytes() - bytes;
        lines.push(`chunk ${c} of the data file held data no server wrote and could not be rebuilt (${e.message}): emptied, ${keys} keys dropped`);
      }
    } finally {
      for (const s of held.reverse()) segs.locks[s].unlock();
    }
  }
  return lines;
}
