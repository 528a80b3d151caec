/**
 * The table's structure, writer side: segments, their indexes and their
 * entries in the data file's chunks, the writers' half of the seqlock
 * (the readers' half is seqlock.ts), and the writes a request makes:
 * find a key, store its value copy on write, remove it. Where keys sit in
 * an index and how they move (insert, delete, growth, clear) is
 * index-slots.ts; the operations are in table.ts, expiry and eviction in
 * sweeper.ts and evictor.ts (each walks with a hand: hand.ts), crash
 * repair in recovery.ts and repair.ts. Layout: layout/chunk-directory.ts
 * (the directory), layout/heap.ts (index slots, entries),
 * layout/server-private.ts (the private words).
 *
 * STRUCTURE. 2^segmentBits segments, each an open-addressing index (linear
 * probing, backward-shift deletion, no tombstones) of [hash, entry, key,
 * value] slots in its chunk. A key's segment is the top bits of its hash,
 * its home slot the low bits. Entries are blocks of the chunk's heap,
 * except a u32 key holding a u32 value with no deadline, which lives in
 * its slot (ENTRY_INLINE) and moves between slot and heap as its value
 * changes kind. Coarse mode: every segment takes segment 0's lock.
 *
 * LOCKS. Writers hold the segment's lock, which is in the server's private
 * memory (private-state.ts): no client can take it, so none can stall a
 * writer. Nested inside it they may take their chunk's allocator lock and
 * its eviction queue lock (s3fifo.ts); never the other way round, and
 * never two segment locks.
 *
 * AUTHORITY. The server's private words hold each segment's version, count
 * and index; the chunk's directory is a mirror for readers, written by the
 * writers and put back by the server when another process forged it.
 * Writers never read the mirror, so a forged word cannot mislead them.
 *
 * SEQLOCK. Invariant: every store a reader of segment s can observe (to its
 * directory mirror, its index, or an entry reachable from it) happens while
 * s's version is odd; a block reachable from s is freed only after it was
 * unlinked inside an odd period, so its reuse happens after that too. A
 * writer stores version+1 (odd) before its first such store and version+2
 * (even) after its last, both seq-cst Atomics stores (on x86-64 an xchg, a
 * full fence; V8 never moves memory accesses across an Atomics operation).
 * A reader that loads the same even version before and after its reads saw
 * no store of any writer: its snapshot is consistent.
 *
 * COPY ON WRITE, for crash safety. A reachable entry is never written: a
 * new value is a new entry, filled while nobody can reach it, then
 * published by ONE aligned store of its slot's entry word; the old entry
 * is freed after the odd period. A slot is filled entry word last, and
 * emptied entry word first (index-slots.ts, SLOT MOVES). So a process
 * killed at any instruction leaves every slot empty, old, or new, never a
 * torn entry: recovery.ts only has to drop duplicates and leaked blocks
 * (see its header).
 */
import { Lock } from '../sync/lock';
import { TableCorruptError } from '../errors';
import { Allocator, NO_MEMORY } from './alloc';
import { Chunk } from './chunk';
import { expired, monoNowMs } from './clock';
import { isU32Key, readU32LE } from './keys';
import { PrivateState } from './private-state';
import { Seqlock } from './seqlock';
import { insert, removeSlot, roomFor } from './index-slots';
import type { IndexHost, SlotPolicy } from './index-host';
import type { DataHeader } from '../layout/data-file';
import { Status } from '../layout/board';
import { C_DIRECTORY, INDEX_LOG2_MASK, SEG_COUNT, SEG_VERSION, SEGMENT_BYTES } from '../layout/chunk-directory';
import { Eviction, Stat, STAT_COUNT, STATS_LINE_BYTES, STATS_MAIN_LINE } from '../layout/data-meta';
import { ENTRY_EXPIRES, ENTRY_HEADER_BYTES, ENTRY_INLINE, ENTRY_KEY_LEN, ENTRY_STAMP, ENTRY_VALUE_LEN, entryBytes, IX_BYTES, IX_ENTRY, IX_HASH, IX_KEY, IX_VALUE } from '../layout/heap';
import { ValueTag } from '../layout/keys-values';
import { PRIV_SEG_WORDS, PS_COUNT, PS_INDEX, PS_INDEX_BLOCK, PS_LOCK, PS_VERSION } from '../layout/server-private';

const LOCK_TOKEN = 1;

/** A table that never evicts: inserts queue nothing, a full segment answers Full. */
class NoEviction implements SlotPolicy {
  admit(): void {}
  evictIn(): boolean {
    return false;
  }
}
const NO_EVICTION = new NoEviction();

/** What a table needs: the checked header, the chunks (read-write views) and the private state. */
export interface TableParts {
  header: DataHeader;
  chunks: readonly Chunk[];
  priv: PrivateState;
}

export class Segments implements IndexHost {
  readonly seqlock: Seqlock;
  readonly chunks: readonly Chunk[];
  readonly allocs: readonly Allocator[];
  readonly locks: readonly Lock[];
  readonly segBits: number;
  readonly segments: number;
  readonly seed: number;
  readonly maxKeyBytes: number;
  readonly maxValueBytes: number;
  readonly header: DataHeader;
  /** Whether writes at the cap evict (else they answer Full). */
  evicts: boolean;
  /** This thread's counters (single writer: plain increments). */
  readonly stats: Float64Array;
  /** The eviction policy's hooks (index-host.ts); the table sets its evictor. */
  policy: SlotPolicy = NO_EVICTION;
  readonly priv: Int32Array;
  /** Chunks in which a writer met data it did not write (a forged word): repair.ts rebuilds them. */
  readonly suspects = new Set<number>();
  /** Chunks - 1: a segment's chunk is `seg & chunkMask`. */
  readonly chunkMask: number;
  private readonly chunkBits: number;

  /**
   * @param statsLine the counter line this thread owns (its worker index;
   *   the server's main thread uses STATS_MAIN_LINE)
   */
  constructor(parts: TableParts, statsLine = STATS_MAIN_LINE, readonly coarse = false) {
    const h = parts.header;
    this.header = h;
    this.chunks = parts.chunks;
    this.priv = parts.priv.i32;
    this.segBits = h.segmentBits;
    this.segments = 2 ** h.segmentBits;
    this.seed = h.seed;
    this.maxKeyBytes = h.maxKeyBytes;
    this.maxValueBytes = h.maxValueBytes;
    this.evicts = h.eviction !== Eviction.None;
    this.chunkMask = h.chunks - 1;
    this.chunkBits = Math.log2(h.chunks);
    this.seqlock = new Seqlock(parts.chunks, h.segmentBits);
    this.stats = new Float64Array(h.meta, h.stats.byteOffset + statsLine * STATS_LINE_BYTES, STAT_COUNT);
    this.allocs = parts.chunks.map((ch, c) => new Allocator(ch.u32, this.priv, parts.priv.heapBase(c), ch.heapStart, ch.heapEnd));
    const locks: Lock[] = [];
    for (let s = 0; s < this.segments; s++) locks.push(new Lock(this.priv, (coarse ? 0 : s * PRIV_SEG_WORDS) + (PS_LOCK >>> 2), LOCK_TOKEN));
    this.locks = locks;
  }

  segmentOf(hash: number): number {
    return this.segBits === 0 ? 0 : hash >>> (32 - this.segBits);
  }

  chunkOf(seg: number): Chunk {
    return this.chunks[seg & this.chunkMask];
  }

  allocOf(seg: number): Allocator {
    return this.allocs[seg & this.chunkMask];
  }

  /** The segment's position in its chunk's directory. */
  localOf(seg: number): number {
    return seg >>> this.chunkBits;
  }

  /** Word index, in the chunk, of segment `seg`'s directory mirror. */
  dir(seg: number): number {
    return (C_DIRECTORY + (seg >>> this.chunkBits) * SEGMENT_BYTES) >>> 2;
  }

  /** Word index of segment `seg`'s private words. */
  pw(seg: number): number {
    return seg * PRIV_SEG_WORDS;
  }

  /** The index word (offset | log2 capacity), from the private copy. */
  indexWord(seg: number): number {
    return this.priv[this.pw(seg) + (PS_INDEX >>> 2)];
  }

  /** The heap block holding the segment's index (private copy). */
  indexBlock(seg: number): number {
    return this.priv[this.pw(seg) + (PS_INDEX_BLOCK >>> 2)];
  }

  /** The segment's index offset and capacity (private copy). */
  indexOf(seg: number): number {
    const w = this.priv[this.pw(seg) + (PS_INDEX >>> 2)];
    return w - (w & INDEX_LOG2_MASK);
  }

  capacityOf(seg: number): number {
    return 1 << (this.priv[this.pw(seg) + (PS_INDEX >>> 2)] & INDEX_LOG2_MASK);
  }

  countOf(seg: number): number {
    return this.priv[this.pw(seg) + (PS_COUNT >>> 2)];
  }

  /** Index slots over all segments (exact when quiescent). */
  buckets(): number {
    let n = 0;
    for (let s = 0; s < this.segments; s++) n += this.capacityOf(s);
    return n;
  }

  // ---- the seqlock, writer side (under the segment lock) -------------------

  /** Enter segment `seg`'s odd period; returns the even version to pass to endWrite. */
  beginWrite(seg: number): number {
    const v = this.priv[this.pw(seg) + (PS_VERSION >>> 2)];
    Atomics.store(this.chunkOf(seg).i32, this.dir(seg) + (SEG_VERSION >>> 2), v + 1);
    return v;
  }

  /** Leave the odd period begun at even version `v`. */
  endWrite(seg: number, v: number): void {
    Atomics.store(this.chunkOf(seg).i32, this.dir(seg) + (SEG_VERSION >>> 2), v + 2);
    this.priv[this.pw(seg) + (PS_VERSION >>> 2)] = v + 2;
  }

  // ---- a request's writes (under the segment lock) -------------------------

  /**
   * Byte offset (in the chunk) of the key's index slot, or -1. Every entry
   * offset is checked before it is followed: a forged slot throws
   * TableCorruptError (the server answers Corrupt and repairs the segment).
   */
  find(seg: number, hash: number, src: Uint8Array, keyOff: number, keyLen: number): number {
    const ch = this.chunkOf(seg);
    const u32 = ch.u32;
    const u8 = ch.u8;
    const index = this.indexOf(seg);
    const mask = this.capacityOf(seg) - 1;
    for (let n = 0, i = hash & mask; n <= mask; n++, i = (i + 1) & mask) {
      const slot = index + i * IX_BYTES;
      const e = u32[(slot + IX_ENTRY) >>> 2];
      if (e === 0) return -1;
      if (u32[(slot + IX_HASH) >>> 2] !== hash) continue;
      if (e === ENTRY_INLINE) {
        if (isU32Key(src, keyOff, keyLen) && u32[(slot + IX_KEY) >>> 2] === readU32LE(src, keyOff + 1)) return slot;
        continue;
      }
      if (!ch.entryOk(e)) throw this.corrupt(seg, `segment ${seg} links to ${e}`);
      if ((u32[(e + ENTRY_KEY_LEN) >>> 2] & 0xffff) !== keyLen) continue;
      const k = e + ENTRY_HEADER_BYTES;
      let j = 0;
      while (j < keyLen && u8[k + j] === src[keyOff + j]) j++;
      if (j === keyLen) return slot;
    }
    throw this.corrupt(seg, `segment ${seg} has no empty slot`);
  }

  /** Note the segment's chunk for repair, and the error to throw. */
  corrupt(seg: number, what: string): TableCorruptError {
    this.suspects.add(seg & this.chunkMask);
    return new TableCorruptError(what);
  }

  /** `slot` if it holds a live entry; else -1, reclaiming an expired one. */
  liveSlot(seg: number, slot: number): number {
    if (slot < 0) return -1;
    const ch = this.chunkOf(seg);
    const e = ch.u32[(slot + IX_ENTRY) >>> 2];
    if (e === ENTRY_INLINE) return slot;
    const at = ch.dv.getFloat64(e + ENTRY_EXPIRES, true);
    if (at === 0 || !expired(at, monoNowMs())) return slot;
    this.removeEntry(seg, slot);
    this.stats[Stat.Expirations]++;
    return -1;
  }

  /** Remove the key in `slot` and free its entry; returns the heap bytes freed (0 for an inline slot). */
  removeEntry(seg: number, slot: number): number {
    const entry = this.chunkOf(seg).u32[(slot + IX_ENTRY) >>> 2];
    removeSlot(this, seg, slot);
    return entry === ENTRY_INLINE ? 0 : this.freeBlock(seg, entry);
  }

  /**
   * Free a block of the segment's chunk, counting it; returns its bytes.
   * Every free comes after the change it serves was published (copy on
   * write), so it never fails the operation: a forged block header that
   * makes the allocator refuse (TableCorruptError) marks the chunk for
   * repair (its heap is rebuilt from the live blocks, repair.ts), and the
   * block is lost until then (0 returned).
   */
  freeBlock(seg: number, block: number): number {
    try {
      const bytes = this.allocOf(seg).free(block);
      this.stats[Stat.UsedBytes] -= bytes;
      return bytes;
    } catch (e) {
      if (!(e instanceof TableCorruptError)) throw e;
      this.suspects.add(seg & this.chunkMask);
      return 0;
    }
  }

  /** A block of the segment's chunk, counted, or NO_MEMORY (a forged heap: as freeBlock). */
  allocBlock(seg: number, bytes: number): number {
    const alloc = this.allocOf(seg);
    let b: number;
    try {
      b = alloc.alloc(bytes);
    } catch (e) {
      if (e instanceof TableCorruptError) this.suspects.add(seg & this.chunkMask);
      throw e;
    }
    if (b !== NO_MEMORY) this.stats[Stat.UsedBytes] += alloc.lastBytes;
    return b;
  }

  /** A filled entry not yet reachable by anyone, or NO_MEMORY. */
  newEntry(seg: number, src: Uint8Array, keyOff: number, keyLen: number, valSrc: Uint8Array, valOff: number, valLen: number, tag: ValueTag, expires: number): number {
    const e = this.allocBlock(seg, entryBytes(keyLen, valLen));
    if (e === NO_MEMORY) return NO_MEMORY;
    const ch = this.chunkOf(seg);
    ch.u32[(e + ENTRY_VALUE_LEN) >>> 2] = valLen;
    ch.u32[(e + ENTRY_KEY_LEN) >>> 2] = keyLen | (tag << 16);
    ch.dv.setFloat64(e + ENTRY_EXPIRES, expires, true);
    ch.u32[(e + ENTRY_STAMP) >>> 2] = this.allocOf(seg).stamp;
    this.copy(ch, src, keyOff, keyLen, e + ENTRY_HEADER_BYTES);
    this.copy(ch, valSrc, valOff, valLen, e + ENTRY_HEADER_BYTES + keyLen);
    return e;
  }

  copy(ch: Chunk, src: Uint8Array, off: number, len: number, to: number): void {
    if (src === ch.u8) ch.u8.copyWithin(to, off, off + len);
    else if (len <= 16) for (let i = 0; i < len; i++) ch.u8[to + i] = src[off + i];
    else ch.u8.set(src.subarray(off, off + len), to);
  }

  /** Set the segment's key count, private and mirrored. Inside an odd period. */
  setCount(seg: number, n: number): void {
    this.priv[this.pw(seg) + (PS_COUNT >>> 2)] = n;
    this.chunkOf(seg).u32[this.dir(seg) + (SEG_COUNT >>> 2)] = n;
  }

  /** A new u32 value for the inline slot `slot`: one store in the odd period. */
  setInline(seg: number, slot: number, value: number): Status {
    const v = this.beginWrite(seg);
    this.chunkOf(seg).u32[(slot + IX_VALUE) >>> 2] = value;
    this.endWrite(seg, v);
    this.stats[Stat.Sets]++;
    return Status.Ok;
  }

  /**
   * Store a value under the key in `slot` (-1: a new key), copy on write:
   * Ok, or Full (nothing changed). Under the segment lock.
   */
  store(
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
    const u32 = this.chunkOf(seg).u32;
    const old = slot >= 0 ? u32[(slot + IX_ENTRY) >>> 2] : 0;
    if (tag === ValueTag.U32 && valLen === 4 && expires === 0 && isU32Key(src, keyOff, keyLen)) {
      // A u32 in its slot (from a heap entry: key and value words first,
      // the entry word last; the entry is freed after).
      const key = readU32LE(src, keyOff + 1);
      const value = readU32LE(valSrc, valOff);
      if (slot < 0) {
        if (!roomFor(this, seg)) return Status.Full;
        insert(this, seg, hash, ENTRY_INLINE, key, value);
      } else {
        const v = this.beginWrite(seg);
        u32[(slot + IX_KEY) >>> 2] = key;
        u32[(slot + IX_VALUE) >>> 2] = value;
        u32[(slot + IX_ENTRY) >>> 2] = ENTRY_INLINE;
        this.endWrite(seg, v);
        if (old !== ENTRY_INLINE) this.freeBlock(seg, old);
      }
      this.stats[Stat.Sets]++;
      return Status.Ok;
    }
    const entry = this.newEntry(seg, src, keyOff, keyLen, valSrc, valOff, valLen, tag, expires);
    if (entry === NO_MEMORY) return Status.Full;
    if (slot >= 0) {
      // The key keeps its stamp: an eviction queue's item for it stays valid (s3fifo.ts).
      if (old !== ENTRY_INLINE) u32[(entry + ENTRY_STAMP) >>> 2] = u32[(old + ENTRY_STAMP) >>> 2];
      const v = this.beginWrite(seg);
      u32[(slot + IX_ENTRY) >>> 2] = entry;
      this.endWrite(seg, v);
      if (old !== ENTRY_INLINE) this.freeBlock(seg, old);
    } else {
      if (!roomFor(this, seg)) {
        this.freeBlock(seg, entry);
        return Status.Full;
      }
      insert(this, seg, hash, entry, 0, 0);
    }
    this.stats[Stat.Sets]++;
    return Status.Ok;
  }
}
