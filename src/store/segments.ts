/**
 * The table's structure, writer side: segments, their indexes and their
 * entries in the data file, which every client maps and reads directly
 * (table-reader.ts), and the seqlock that makes that safe. The operations
 * are in table.ts, expiry sweeping and eviction in upkeep.ts. Layout and
 * limits: layout.ts, "Data file".
 *
 * STRUCTURE. 2^segmentBits segments, each an open-addressing index (linear
 * probing, backward-shift deletion, no tombstones) of [hash, entry, key,
 * value] slots, with its own lock, count, capacity and version. A key's
 * segment is chosen by the high bits of its hash, its home slot by the low
 * bits. Entries (key and value bytes) are blocks of the TLSF heap
 * (alloc.ts), except the seed's data: a u32 key holding a u32 value with
 * no deadline lives in its slot (entry = ENTRY_INLINE, layout.ts), and
 * moves between slot and heap as its value changes kind.
 * Coarse mode: every segment uses segment 0's lock (for comparison).
 *
 * WRITERS hold the segment's lock (server threads only: no client can take
 * it, so no client can stall a writer). Nested inside it they may take the
 * allocator lock; never the other way round.
 *
 * SEQLOCK (per segment; the readers' side is in table-reader.ts).
 * Invariant: every store a reader of segment s can observe, to s's
 * directory entry, index, or any entry reachable from it, happens while s's
 * version is odd; and a block reachable from s is freed only after the
 * version went odd (it was unlinked inside the odd period), so its reuse
 * happens after that too. A writer stores version+1 (odd) before its first
 * such store and version+2 (even) after its last, both seq-cst Atomics
 * stores (on x86-64 an xchg, a full fence; V8 never moves memory accesses
 * across an Atomics operation). New blocks are filled BEFORE the odd period,
 * while no reader can reach them, so the odd period is a few stores: only
 * in-place updates of small values copy bytes inside it.
 * A reader that loads the same even version before and after its reads
 * therefore saw no store of any writer: its snapshot is consistent.
 *
 * GROWTH is per segment, under its lock: the new index is built in fresh
 * memory (readers keep using the old one), then swapped in during a short
 * odd period; the old index is freed afterwards.
 */
import { Lock } from '../sync/lock';
import { Allocator, NO_MEMORY } from './alloc';
import { expired, monoNowMs } from './clock';
import { isU32Key, readU32LE } from './keys';
import { formatTable, log2Ceil, tableMinBytes } from './table-format';
import {
  D_COARSE,
  D_DIRECTORY,
  D_ENTRIES,
  D_EVICTION,
  D_HEAP_END,
  D_HEAP_START,
  D_MAX_KEY_BYTES,
  D_MAX_VALUE_BYTES,
  D_SEED,
  D_SEGMENT_BITS,
  D_STATS,
  D_VISITED,
  ENTRY_EXPIRES,
  ENTRY_FLAGS,
  ENTRY_HASH,
  ENTRY_HEADER_BYTES,
  ENTRY_INLINE,
  ENTRY_KEY_LEN,
  ENTRY_TAG,
  ENTRY_VALUE_LEN,
  entryBytes,
  FULL_DEN,
  FULL_NUM,
  GROW_DEN,
  GROW_NUM,
  INDEX_SLOT_BYTES,
  INDEX_SLOT_WORDS,
  indexBlockBytes,
  indexInBlock,
  MAX_INDEX_LOG2,
  SEG_CAPACITY,
  SEG_COUNT,
  SEG_INDEX,
  SEG_INDEX_BLOCK,
  SEG_LOCK,
  SEG_VERSION,
  SEGMENT_BYTES,
  SLOT_ENTRY,
  SLOT_HASH,
  SLOT_KEY,
  SLOT_VALUE,
  Stat,
  STAT_COUNT,
  STATS_LINE_BYTES,
  STATS_MAIN_LINE,
  Status,
  ValueTag,
} from '../layout/layout';

/** Values up to this size are overwritten in place (inside the odd period). */
const IN_PLACE_MAX_BYTES = 1024;
const LOCK_TOKEN = 1;

export { TableOptions } from './table-format';
import { TableCorruptError } from '../errors';
export class Segments {
  readonly u8: Uint8Array;
  readonly u32: Uint32Array;
  readonly i32: Int32Array;
  readonly alloc: Allocator;
  readonly seed: number;
  readonly maxKeyBytes: number;
  readonly maxValueBytes: number;
  protected readonly segBits: number;
  protected readonly locks: Lock[];
  protected readonly dv: DataView;
  protected readonly heapStart: number;
  protected readonly heapEnd: number;
  /** Offset of the visited map. */
  protected readonly visited: number;
  /** Whether writes at the cap evict (else they answer Full). */
  readonly evicts: boolean;
  /** This thread's counters (single writer: plain increments). */
  readonly stats: Float64Array;
  /** Validate options; the data file size they need at least (table-format.ts). */
  static readonly minBytes = tableMinBytes;
  /** Lay out a fresh (zeroed) data file (table-format.ts). */
  static readonly format = formatTable;

  /**
   * @param statsLine the counter line this thread owns (its worker index;
   *   the server's main thread uses STATS_MAIN_LINE)
   */
  constructor(sab: SharedArrayBuffer, statsLine = STATS_MAIN_LINE) {
    this.stats = new Float64Array(sab, D_STATS + statsLine * STATS_LINE_BYTES, STAT_COUNT);
    this.u8 = new Uint8Array(sab);
    this.u32 = new Uint32Array(sab);
    this.i32 = new Int32Array(sab);
    this.dv = new DataView(sab);
    this.alloc = new Allocator(this.u32);
    this.heapStart = this.u32[D_HEAP_START >>> 2];
    this.heapEnd = this.u32[D_HEAP_END >>> 2] - ENTRY_HEADER_BYTES;
    this.visited = this.u32[D_VISITED >>> 2];
    this.evicts = this.u32[D_EVICTION >>> 2] === 1;
    this.segBits = this.u32[D_SEGMENT_BITS >>> 2];
    this.seed = this.u32[D_SEED >>> 2];
    this.maxKeyBytes = this.u32[D_MAX_KEY_BYTES >>> 2];
    this.maxValueBytes = this.u32[D_MAX_VALUE_BYTES >>> 2];
    const coarse = this.u32[D_COARSE >>> 2] === 1;
    this.locks = [];
    for (let s = 0; s < 2 ** this.segBits; s++)
      this.locks.push(new Lock(this.i32, this.dir(coarse ? 0 : s) + (SEG_LOCK >>> 2), LOCK_TOKEN));
  }

  /** Keys stored. */
  size(): number {
    return Atomics.load(this.u32, D_ENTRIES >>> 2);
  }

  /** Index slots over all segments (exact when quiescent). */
  buckets(): number {
    let n = 0;
    for (let s = 0; s < 2 ** this.segBits; s++) n += Atomics.load(this.u32, this.dir(s) + (SEG_CAPACITY >>> 2));
    return n;
  }

  /** set()'s work under the segment lock; `slot` is the key's slot or -1. */
  protected store(
    seg: number,
    hash: number,
    slot: number,
    src: Uint8Array,
    keyOff: number,
    keyLen: number,
    valSrc: Uint8Array,
    valOff: number,
    valLen: number,
    tag: ValueTag,
    expires: number,
  ): Status {
    const old = slot >= 0 ? this.u32[(slot + SLOT_ENTRY) >>> 2] : 0;
    if (tag === ValueTag.U32 && valLen === 4 && expires === 0 && isU32Key(src, keyOff, keyLen)) {
      // The seed's data: in the slot (from a heap entry, the entry is freed).
      const value = readU32LE(valSrc, valOff);
      if (slot < 0) {
        if (!this.roomFor(seg)) return Status.Full;
        this.insert(seg, hash, ENTRY_INLINE, readU32LE(src, keyOff + 1), value);
      } else {
        const v = this.beginWrite(seg);
        this.u32[(slot + SLOT_KEY) >>> 2] = readU32LE(src, keyOff + 1);
        this.u32[(slot + SLOT_VALUE) >>> 2] = value;
        this.u32[(slot + SLOT_ENTRY) >>> 2] = ENTRY_INLINE;
        this.endWrite(seg, v);
        if (old !== ENTRY_INLINE) this.alloc.free(old);
      }
      this.stats[Stat.Sets]++;
      return Status.Ok;
    }
    const need = entryBytes(keyLen, valLen);
    if (slot >= 0) {
      if (old !== ENTRY_INLINE && valLen <= IN_PLACE_MAX_BYTES && need <= this.alloc.usable(old)) {
        const v = this.beginWrite(seg);
        this.writeValue(old, keyLen, valSrc, valOff, valLen, tag, expires);
        this.endWrite(seg, v);
        this.stats[Stat.Sets]++;
        return Status.Ok;
      }
      const entry = this.newEntry(hash, src, keyOff, keyLen, valSrc, valOff, valLen, tag, expires);
      if (entry === NO_MEMORY) return Status.Full;
      const v = this.beginWrite(seg);
      this.u32[(slot + SLOT_ENTRY) >>> 2] = entry;
      this.endWrite(seg, v);
      if (old !== ENTRY_INLINE) this.alloc.free(old);
      this.stats[Stat.Sets]++;
      return Status.Ok;
    }
    const entry = this.newEntry(hash, src, keyOff, keyLen, valSrc, valOff, valLen, tag, expires);
    if (entry === NO_MEMORY) return Status.Full;
    if (!this.roomFor(seg)) {
      this.alloc.free(entry);
      return Status.Full;
    }
    this.insert(seg, hash, entry, 0, 0);
    this.stats[Stat.Sets]++;
    return Status.Ok;
  }

  // ---- internals, under the segment lock ----------------------------------

  /** Enter segment `seg`'s odd period (SEQLOCK); returns the even version to pass to endWrite. */
  protected beginWrite(seg: number): number {
    const ver = this.dir(seg) + (SEG_VERSION >>> 2);
    // A plain load: only holders of this segment's lock store the version,
    // and taking the lock (a CAS) ordered this thread after the last one.
    const v = this.i32[ver];
    Atomics.store(this.i32, ver, v + 1);
    return v;
  }

  /** Leave the odd period begun at even version `v`. */
  protected endWrite(seg: number, v: number): void {
    Atomics.store(this.i32, this.dir(seg) + (SEG_VERSION >>> 2), v + 2);
  }

  protected dir(seg: number): number {
    return (D_DIRECTORY + seg * SEGMENT_BYTES) >>> 2;
  }

  segmentOf(hash: number): number {
    return this.segBits === 0 ? 0 : hash >>> (32 - this.segBits);
  }

  /** Byte offset of the key's index slot, or -1. */
  protected find(seg: number, hash: number, src: Uint8Array, keyOff: number, keyLen: number): number {
    const u32 = this.u32;
    const u8 = this.u8;
    const d = this.dir(seg);
    const cap = u32[d + (SEG_CAPACITY >>> 2)];
    const index = u32[d + (SEG_INDEX >>> 2)];
    const mask = cap - 1;
    for (let n = 0, i = hash & mask; n < cap; n++, i = (i + 1) & mask) {
      const slot = index + i * INDEX_SLOT_BYTES;
      const e = u32[(slot + SLOT_ENTRY) >>> 2];
      if (e === 0) return -1;
      if (e === ENTRY_INLINE) {
        if (u32[(slot + SLOT_HASH) >>> 2] === hash && isU32Key(src, keyOff, keyLen) && u32[(slot + SLOT_KEY) >>> 2] === readU32LE(src, keyOff + 1))
          return slot;
        continue;
      }
      if (e < this.heapStart || e > this.heapEnd) throw new TableCorruptError(`segment ${seg} links to ${e}`);
      if (u32[(slot + SLOT_HASH) >>> 2] !== hash || u32[(e + ENTRY_KEY_LEN) >>> 2] !== keyLen) continue;
      const k = e + ENTRY_HEADER_BYTES;
      let j = 0;
      while (j < keyLen && u8[k + j] === src[keyOff + j]) j++;
      if (j === keyLen) return slot;
    }
    throw new TableCorruptError(`segment ${seg} has no empty slot`);
  }

  /** `slot` if it holds a live entry; else -1, reclaiming an expired one. */
  protected liveSlot(seg: number, slot: number): number {
    if (slot < 0) return -1;
    const e = this.u32[(slot + SLOT_ENTRY) >>> 2];
    if (e === ENTRY_INLINE) return slot;
    const at = this.dv.getFloat64(e + ENTRY_EXPIRES, true);
    if (at === 0 || !expired(at, monoNowMs())) return slot;
    this.removeEntry(seg, slot);
    this.stats[Stat.Expirations]++;
    return -1;
  }

  protected removeEntry(seg: number, slot: number): void {
    const entry = this.u32[(slot + SLOT_ENTRY) >>> 2];
    this.removeSlot(seg, slot);
    if (entry !== ENTRY_INLINE) this.alloc.free(entry);
  }

  /** The visited-map byte of an entry, or of an inline slot (its own 16-byte granule). */
  protected markOf(slot: number, e: number): number {
    return this.visited + (((e === ENTRY_INLINE ? slot : e) - this.heapStart) >>> 4);
  }

  /** A filled entry not yet reachable by anyone, or NO_MEMORY. */
  protected newEntry(hash: number, src: Uint8Array, keyOff: number, keyLen: number, valSrc: Uint8Array, valOff: number, valLen: number, tag: ValueTag, expires: number): number {
    const e = this.alloc.alloc(entryBytes(keyLen, valLen));
    if (e === NO_MEMORY) return NO_MEMORY;
    this.u32[(e + ENTRY_HASH) >>> 2] = hash;
    this.u32[(e + ENTRY_KEY_LEN) >>> 2] = keyLen;
    this.u8[this.visited + ((e - this.heapStart) >>> 4)] = 0;
    this.copy(src, keyOff, keyLen, e + ENTRY_HEADER_BYTES);
    this.writeValue(e, keyLen, valSrc, valOff, valLen, tag, expires);
    return e;
  }

  protected writeValue(e: number, keyLen: number, valSrc: Uint8Array, valOff: number, valLen: number, tag: ValueTag, expires: number): void {
    this.u32[(e + ENTRY_VALUE_LEN) >>> 2] = valLen;
    this.u8[e + ENTRY_TAG] = tag;
    this.u8[e + ENTRY_FLAGS] = 0;
    this.dv.setFloat64(e + ENTRY_EXPIRES, expires, true);
    this.copy(valSrc, valOff, valLen, e + ENTRY_HEADER_BYTES + keyLen);
  }

  protected copy(src: Uint8Array, off: number, len: number, to: number): void {
    if (src === this.u8) this.u8.copyWithin(to, off, off + len);
    else if (len <= 16) for (let i = 0; i < len; i++) this.u8[to + i] = src[off + i];
    else this.u8.set(src.subarray(off, off + len), to);
  }

  /** Make room for one more key in `seg`: grow its index if due; false when full. */
  protected roomFor(seg: number): boolean {
    const d = this.dir(seg);
    const count = this.u32[d + (SEG_COUNT >>> 2)];
    const cap = this.u32[d + (SEG_CAPACITY >>> 2)];
    if ((count + 1) * GROW_DEN <= cap * GROW_NUM) return true;
    if (this.grow(seg)) return true;
    return (count + 1) * FULL_DEN <= cap * FULL_NUM || this.evictIn(seg);
  }

  /**
   * The segment is at its full load and its index cannot grow: make room
   * for one key in it, or say no (Full). Here: no; a table that evicts
   * removes one of the segment's own entries (upkeep.ts).
   */
  protected evictIn(_seg: number): boolean {
    return false;
  }

  /** Link `entry` (or ENTRY_INLINE with `key` and `value`) into a free slot. */
  protected insert(seg: number, hash: number, entry: number, key: number, value: number): void {
    const u32 = this.u32;
    const d = this.dir(seg);
    const cap = u32[d + (SEG_CAPACITY >>> 2)];
    const index = u32[d + (SEG_INDEX >>> 2)];
    const mask = cap - 1;
    let i = hash & mask;
    while (u32[(index + i * INDEX_SLOT_BYTES + SLOT_ENTRY) >>> 2] !== 0) i = (i + 1) & mask;
    const slot = index + i * INDEX_SLOT_BYTES;
    // A new key starts unvisited (newEntry clears an entry's byte).
    if (entry === ENTRY_INLINE) this.u8[this.markOf(slot, entry)] = 0;
    const v = this.beginWrite(seg);
    u32[(slot + SLOT_HASH) >>> 2] = hash;
    u32[(slot + SLOT_KEY) >>> 2] = key;
    u32[(slot + SLOT_VALUE) >>> 2] = value;
    u32[(slot + SLOT_ENTRY) >>> 2] = entry;
    u32[d + (SEG_COUNT >>> 2)]++;
    this.endWrite(seg, v);
    Atomics.add(u32, D_ENTRIES >>> 2, 1);
  }

  /** Backward-shift deletion: later slots of the run move up, no tombstone. */
  protected removeSlot(seg: number, slot: number): void {
    const u32 = this.u32;
    const d = this.dir(seg);
    const cap = u32[d + (SEG_CAPACITY >>> 2)];
    const index = u32[d + (SEG_INDEX >>> 2)];
    const mask = cap - 1;
    const v = this.beginWrite(seg);
    let hole = (slot - index) / INDEX_SLOT_BYTES;
    const base = index >>> 2;
    const W = INDEX_SLOT_WORDS;
    for (let n = 0, j = (hole + 1) & mask; n < cap; n++, j = (j + 1) & mask) {
      const sj = base + W * j;
      if (u32[sj + (SLOT_ENTRY >>> 2)] === 0) break;
      const home = u32[sj + (SLOT_HASH >>> 2)] & mask;
      // Slot j may move to the hole when its home is not in (hole, j].
      if (((j - home) & mask) >= ((j - hole) & mask)) {
        u32.copyWithin(base + W * hole, sj, sj + W);
        hole = j;
      }
    }
    u32.fill(0, base + W * hole, base + W * hole + W);
    u32[d + (SEG_COUNT >>> 2)]--;
    this.endWrite(seg, v);
    Atomics.sub(u32, D_ENTRIES >>> 2, 1);
  }

  /** Double a segment's index; false when the heap cannot supply it. */
  protected grow(seg: number): boolean {
    const u32 = this.u32;
    const d = this.dir(seg);
    const cap = u32[d + (SEG_CAPACITY >>> 2)];
    if (log2Ceil(cap) >= MAX_INDEX_LOG2) return false;
    const index = u32[d + (SEG_INDEX >>> 2)];
    const ncap = cap * 2;
    const nblock = this.alloc.alloc(indexBlockBytes(ncap));
    if (nblock === NO_MEMORY) return false;
    const nindex = indexInBlock(nblock);
    this.u8.fill(0, nindex, nindex + ncap * INDEX_SLOT_BYTES);
    const nmask = ncap - 1;
    const W = INDEX_SLOT_WORDS;
    // The new index is unreachable until the store of SEG_INDEX below, so
    // plain stores fill it. Slot words are copied one by one rather than
    // by a copyWithin call per slot: 100,000 u32 inserts from 1,024
    // buckets (~1,950 doublings) spent 9.0-9.6 ms growing with the calls,
    // 7.3-7.6 ms without (3 runs each, in-process).
    for (let i = 0; i < cap; i++) {
      const si = (index >>> 2) + W * i;
      if (u32[si + (SLOT_ENTRY >>> 2)] === 0) continue;
      let j = u32[si + (SLOT_HASH >>> 2)] & nmask;
      while (u32[(nindex >>> 2) + W * j + (SLOT_ENTRY >>> 2)] !== 0) j = (j + 1) & nmask;
      const sj = (nindex >>> 2) + W * j;
      for (let k = 0; k < W; k++) u32[sj + k] = u32[si + k];
    }
    const v = this.beginWrite(seg);
    u32[d + (SEG_INDEX >>> 2)] = nindex;
    u32[d + (SEG_CAPACITY >>> 2)] = ncap;
    this.endWrite(seg, v);
    const block = u32[d + (SEG_INDEX_BLOCK >>> 2)];
    u32[d + (SEG_INDEX_BLOCK >>> 2)] = nblock;
    this.alloc.free(block);
    return true;
  }
}
