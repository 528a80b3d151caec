/**
 * The server's hash table: u32 keys to u32 values, in one SharedArrayBuffer
 * (the "arena", layout in layout.ts) shared by all server worker threads.
 *
 * STRUCTURE. 2^segmentBits segments, each an open-addressing table (linear
 * probing) with its own lock, its own count and its own capacity. A key's
 * segment is chosen by the high bits of its hash, its bucket by the low bits.
 * Fine-grained locking = one lock per segment; coarse = every operation takes
 * segment 0's lock (same code, for comparison).
 *
 * GROWTH is per segment: the thread whose insert pushes a segment past 3/4
 * load allocates a table twice the size from the arena, rehashes that
 * segment's entries and frees the old table, all under that segment's lock.
 * Other segments keep serving; a resize stalls only threads touching that
 * segment, for a time proportional to 1/2^segmentBits of the table.
 *
 * MEMORY. Worker threads cannot share a buffer allocated later, so the arena
 * is allocated once at its cap (the kernel commits pages only when touched)
 * and carved by a lock-protected allocator: a free list per table capacity
 * (tables only come in power-of-two capacities), then a bump pointer. When the cap is reached a segment keeps
 * accepting inserts up to 15/16 load, then put answers Status.Full.
 *
 * HASHING. Keys are mixed with murmur3's 32-bit finalizer over key ^ seed,
 * where the seed is random per server start: keys chosen to collide under
 * `key % size` (or any fixed function) spread like random keys.
 *
 * OFFSETS are unsigned byte offsets up to 4 GiB: they become word indices
 * with `>>> 2`, never `>> 2`, which would turn offsets past 2 GiB negative.
 *
 * ORDERING. Every access to a segment's directory entry and table happens
 * while holding that segment's lock; the lock's acquire/release (seq-cst
 * CAS / store) orders them. The directory entry (table offset, capacity) is
 * only rewritten under the same lock, so readers never see a half-moved table.
 */
import { Lock } from '../sync/lock';
import {
  ARENA_ALLOC_LOCK,
  ARENA_BYTES,
  ARENA_COARSE,
  ARENA_DIRECTORY,
  ARENA_ENTRIES,
  ARENA_FREE_LISTS,
  ARENA_SEED,
  ARENA_SEGMENT_BITS,
  ARENA_SEGMENT_BYTES,
  ARENA_TOP,
  arenaHeapStart,
  ENTRY_BYTES,
  FULL_DEN,
  FULL_NUM,
  GROW_DEN,
  GROW_NUM,
  HEAP_ALIGN,
  MAX_SEGMENT_LOG2,
  SEG_CAPACITY,
  SEG_COUNT,
  SEG_LOCK,
  SEG_TABLE,
  segmentTableBytes,
  Status,
} from '../layout/layout';

export interface TableOptions {
  /** Initial total bucket count (spread over the segments, at least one each). */
  initialBuckets: number;
  /** Bytes the arena may use in all (the table's memory cap). */
  maxBytes: number;
  /** log2 of the segment count. */
  segmentBits?: number;
  /** One lock for the whole table instead of one per segment. */
  coarse?: boolean;
  /** Hash seed; random when omitted. */
  seed?: number;
}

export const DEFAULT_SEGMENT_BITS = 6;
export const MAX_ARENA_BYTES = 2 ** 32 - HEAP_ALIGN;

/** get() result for an absent key (values themselves are 0..2^32-1). */
export const ABSENT = -1;

/** A bucket-index hash: murmur3 fmix32 of key ^ seed. */
export function mixKey(key: number, seed: number): number {
  let h = (key ^ seed) >>> 0;
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

function log2Ceil(n: number): number {
  let b = 0;
  while (2 ** b < n) b++;
  return b;
}

// The segment directory lives at a fixed place: a Lock needs a word index.
const LOCK_TOKEN = 1;

export class HashTable {
  private readonly u32: Uint32Array;
  private readonly i32: Int32Array;
  private readonly u8: Uint8Array;
  private readonly segBits: number;
  private readonly seed: number;
  private readonly coarse: boolean;
  private readonly locks: Lock[];
  private readonly allocLock: Lock;

  /** Allocate and initialise an arena; share the result with worker threads. */
  static createArena(opts: TableOptions): SharedArrayBuffer {
    const segBits = opts.segmentBits ?? DEFAULT_SEGMENT_BITS;
    const segs = 2 ** segBits;
    if (!Number.isInteger(opts.initialBuckets) || opts.initialBuckets < 1)
      throw new RangeError(`initial table size must be a positive integer, got ${opts.initialBuckets}`);
    const perSeg = 2 ** log2Ceil(Math.ceil(opts.initialBuckets / segs));
    const heap = arenaHeapStart(segBits);
    const need = heap + segs * segmentTableBytes(perSeg);
    if (!(opts.maxBytes <= MAX_ARENA_BYTES)) throw new RangeError(`table memory cap must be at most ${MAX_ARENA_BYTES} bytes`);
    if (!(opts.maxBytes >= need))
      throw new RangeError(`table memory cap ${opts.maxBytes} bytes is below the ${need} bytes the initial table needs`);
    if (opts.maxBytes % HEAP_ALIGN !== 0) throw new RangeError(`table memory cap must be a multiple of ${HEAP_ALIGN} bytes, got ${opts.maxBytes}`);
    const sab = new SharedArrayBuffer(opts.maxBytes);
    const u32 = new Uint32Array(sab);
    u32[ARENA_SEGMENT_BITS >> 2] = segBits;
    u32[ARENA_SEED >> 2] = opts.seed ?? (Math.random() * 2 ** 32) >>> 0;
    u32[ARENA_COARSE >> 2] = opts.coarse ? 1 : 0;
    u32[ARENA_BYTES >> 2] = opts.maxBytes;
    let top = heap;
    for (let s = 0; s < segs; s++) {
      const d = (ARENA_DIRECTORY + s * ARENA_SEGMENT_BYTES) >> 2;
      u32[d + (SEG_CAPACITY >> 2)] = perSeg;
      u32[d + (SEG_TABLE >> 2)] = top;
      top += segmentTableBytes(perSeg);
    }
    Atomics.store(u32, ARENA_TOP >> 2, top);
    return sab;
  }

  constructor(sab: SharedArrayBuffer) {
    this.u32 = new Uint32Array(sab);
    this.i32 = new Int32Array(sab);
    this.u8 = new Uint8Array(sab);
    this.segBits = Atomics.load(this.u32, ARENA_SEGMENT_BITS >> 2);
    this.seed = Atomics.load(this.u32, ARENA_SEED >> 2);
    this.coarse = Atomics.load(this.u32, ARENA_COARSE >> 2) === 1;
    this.locks = [];
    for (let s = 0; s < 2 ** this.segBits; s++)
      this.locks.push(new Lock(this.i32, (ARENA_DIRECTORY + s * ARENA_SEGMENT_BYTES + SEG_LOCK) >> 2, LOCK_TOKEN));
    this.allocLock = new Lock(this.i32, ARENA_ALLOC_LOCK >> 2, LOCK_TOKEN);
  }

  private segmentOf(h: number): number {
    return this.segBits === 0 ? 0 : h >>> (32 - this.segBits);
  }

  private lockFor(seg: number): Lock {
    return this.locks[this.coarse ? 0 : seg];
  }

  /** The value stored under `key`, or ABSENT. */
  get(key: number): number {
    const h = mixKey(key, this.seed);
    const seg = this.segmentOf(h);
    const lock = this.lockFor(seg);
    lock.lock();
    try {
      return this.find(seg, h, key);
    } finally {
      lock.unlock();
    }
  }

  /** Insert or update; Status.Ok, or Status.Full at the memory cap. */
  put(key: number, value: number): Status {
    return this.update(key, value, false);
  }

  /**
   * Add `delta` to the value under `key` (absent counts as 0), wrapping
   * modulo 2^32, atomically with respect to every other operation on the
   * key. Status.Ok with the new value in `lastValue`, or Status.Full.
   */
  add(key: number, delta: number): Status {
    return this.update(key, delta, true);
  }

  /** New value written by the last successful add() on this thread's view. */
  lastValue = 0;

  private update(key: number, value: number, add: boolean): Status {
    const h = mixKey(key, this.seed);
    const seg = this.segmentOf(h);
    const lock = this.lockFor(seg);
    lock.lock();
    try {
      return this.insert(seg, h, key, value, add);
    } finally {
      lock.unlock();
    }
  }

  /** Number of keys (sums the segments without locking: exact when quiescent). */
  size(): number {
    let n = 0;
    for (let s = 0; s < 2 ** this.segBits; s++) n += Atomics.load(this.u32, this.dir(s) + (SEG_COUNT >> 2));
    return n;
  }

  /** Total buckets over all segments (exact when quiescent). */
  buckets(): number {
    let n = 0;
    for (let s = 0; s < 2 ** this.segBits; s++) n += Atomics.load(this.u32, this.dir(s) + (SEG_CAPACITY >> 2));
    return n;
  }

  private dir(seg: number): number {
    return (ARENA_DIRECTORY + seg * ARENA_SEGMENT_BYTES) >> 2;
  }

  // ---- under the segment lock ----------------------------------------------

  private find(seg: number, h: number, key: number): number {
    const u32 = this.u32;
    const d = this.dir(seg);
    const cap = u32[d + (SEG_CAPACITY >> 2)];
    const table = u32[d + (SEG_TABLE >> 2)];
    const entries = table >>> 2;
    const ctrl = table + cap * ENTRY_BYTES;
    const mask = cap - 1;
    for (let i = h & mask; ; i = (i + 1) & mask) {
      if (this.u8[ctrl + i] === 0) return ABSENT;
      if (u32[entries + 2 * i] === key) return u32[entries + 2 * i + 1];
    }
  }

  private insert(seg: number, h: number, key: number, value: number, add: boolean): Status {
    const u32 = this.u32;
    const d = this.dir(seg);
    let cap = u32[d + (SEG_CAPACITY >> 2)];
    let table = u32[d + (SEG_TABLE >> 2)];
    let entries = table >>> 2;
    let ctrl = table + cap * ENTRY_BYTES;
    let mask = cap - 1;
    let i = h & mask;
    for (; this.u8[ctrl + i] !== 0; i = (i + 1) & mask) {
      if (u32[entries + 2 * i] === key) {
        const v = add ? (u32[entries + 2 * i + 1] + value) >>> 0 : value;
        u32[entries + 2 * i + 1] = v;
        this.lastValue = v;
        return Status.Ok;
      }
    }
    const count = u32[d + (SEG_COUNT >> 2)];
    if ((count + 1) * GROW_DEN > cap * GROW_NUM) {
      if (this.grow(seg)) {
        cap = u32[d + (SEG_CAPACITY >> 2)];
        table = u32[d + (SEG_TABLE >> 2)];
        entries = table >>> 2;
        ctrl = table + cap * ENTRY_BYTES;
        mask = cap - 1;
        for (i = h & mask; this.u8[ctrl + i] !== 0; i = (i + 1) & mask);
      } else if ((count + 1) * FULL_DEN > cap * FULL_NUM) {
        return Status.Full;
      }
    }
    u32[entries + 2 * i] = key;
    u32[entries + 2 * i + 1] = value;
    this.lastValue = value;
    this.u8[ctrl + i] = 1;
    u32[d + (SEG_COUNT >> 2)] = count + 1;
    Atomics.add(this.u32, ARENA_ENTRIES >> 2, 1);
    return Status.Ok;
  }

  /** Double a segment's table; false when the arena cannot supply it. */
  private grow(seg: number): boolean {
    const u32 = this.u32;
    const d = this.dir(seg);
    const cap = u32[d + (SEG_CAPACITY >> 2)];
    if (log2Ceil(cap) >= MAX_SEGMENT_LOG2) return false;
    const table = u32[d + (SEG_TABLE >> 2)];
    const ncap = cap * 2;
    const ntable = this.alloc(log2Ceil(ncap));
    if (ntable < 0) return false;
    const nmask = ncap - 1;
    const entries = table >>> 2;
    const nentries = ntable >>> 2;
    const ctrl = table + cap * ENTRY_BYTES;
    const nctrl = ntable + ncap * ENTRY_BYTES;
    for (let i = 0; i < cap; i++) {
      if (this.u8[ctrl + i] === 0) continue;
      const key = u32[entries + 2 * i];
      let j = mixKey(key, this.seed) & nmask;
      while (this.u8[nctrl + j] !== 0) j = (j + 1) & nmask;
      u32[nentries + 2 * j] = key;
      u32[nentries + 2 * j + 1] = u32[entries + 2 * i + 1];
      this.u8[nctrl + j] = 1;
    }
    u32[d + (SEG_TABLE >> 2)] = ntable;
    u32[d + (SEG_CAPACITY >> 2)] = ncap;
    this.free(table, log2Ceil(cap));
    return true;
  }

  /**
   * A zeroed table of 2^capLog2 entries, or -1 at the cap. Free lists are
   * kept per table capacity, so every freed table fits the next request of
   * its class exactly.
   */
  private alloc(capLog2: number): number {
    const size = segmentTableBytes(2 ** capLog2);
    this.allocLock.lock();
    try {
      const fl = (ARENA_FREE_LISTS >> 2) + capLog2;
      const head = this.u32[fl];
      if (head !== 0) {
        this.u32[fl] = this.u32[head >>> 2];
        this.u8.fill(0, head, head + size);
        return head;
      }
      const top = this.u32[ARENA_TOP >> 2];
      if (top + size > this.u32[ARENA_BYTES >> 2]) return -1;
      this.u32[ARENA_TOP >> 2] = top + size;
      return top;
    } finally {
      this.allocLock.unlock();
    }
  }

  private free(offset: number, capLog2: number): void {
    this.allocLock.lock();
    try {
      const fl = (ARENA_FREE_LISTS >> 2) + capLog2;
      this.u32[offset >>> 2] = this.u32[fl];
      this.u32[fl] = offset;
    } finally {
      this.allocLock.unlock();
    }
  }
}
