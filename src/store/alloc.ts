/**
 * A heap allocator: TLSF (Two-Level Segregated Fit, Masmano et al., ECRTS
 * 2004), used by server threads only, under one lock per heap. The heaps
 * are the data file's chunks (entries, segment indexes); the staging
 * arena has an allocator of its own (buddy.ts). Layout: layout/heap.ts,
 * TLSF BLOCK; layout/server-private.ts, PRIVATE per heap.
 *
 * WHY TLSF. Blocks range from 24 bytes to hundreds of MiB in one heap whose
 * size is fixed when the server starts (clients map it once). TLSF serves
 * every size from one structure in O(1) (two bitmap scans), and coalesces a
 * freed block with its free neighbours at once, so memory freed by one size
 * class serves any other.
 *
 * FRAGMENTATION BOUNDS. Internal: a request is rounded up to the next
 * second-level class boundary, at most 1/TLSF_SL_COUNT (6.25%) above it,
 * plus TLSF_ALIGN rounding, plus a remainder too small to split off as a
 * block of its own, plus BLOCK_HEADER_BYTES per block. External: no two
 * free blocks are ever neighbours; a good-fit search takes the smallest
 * class that surely fits and splits the remainder off.
 *
 * WHERE THE WORDS ARE. A block is [prevPhys u32, size | flags u32] then
 * its payload, in the heap itself; prevPhys is valid only while the
 * previous block is free (PREV_FREE set), and a free block links its free
 * list through its first payload words. The heap ends with a used block of
 * size 0, so no block coalesces past it. The bitmaps, the free-list heads,
 * the lock and the byte count are the server's PRIVATE state (PH_*): no
 * other process can write them.
 *
 * INVARIANT, which every alloc(), free() and format() keeps under the lock
 * and verify() checks: the blocks tile the heap from heapStart to the
 * sentinel; no two free blocks are neighbours; a block's PREV_FREE flag
 * says whether the block before it is free, and then its prevPhys names
 * that block; the free lists hold exactly the free blocks, each in the
 * list of its size class, whose bit is set in the bitmaps while the list
 * is not empty; the byte count is the bytes of the used blocks, headers
 * included.
 *
 * TRUST. The heap is a file that any process of the same user can open and
 * write, so every offset and size read from it is checked against the
 * heap's bounds before it is used as an index; a failed check throws
 * TableCorruptError instead of reading or writing out of bounds. A heap
 * whose blocks were forged is rebuilt from the blocks its owner knows are
 * live (heap-rebuild.ts: the same step that adopts a data file after a
 * crash).
 */
import { Lock } from '../sync/lock';
import { TableCorruptError } from '../errors';
import {
  BLOCK_FLAG_MASK,
  BLOCK_FREE,
  BLOCK_HEADER_BYTES,
  BLOCK_MIN_PAYLOAD,
  BLOCK_NEXT_FREE,
  BLOCK_PREV_FREE,
  BLOCK_PREV_FREE_LINK,
  BLOCK_PREV_PHYS,
  BLOCK_SIZE,
  TLSF_ALIGN,
  TLSF_FL_COUNT,
  TLSF_SL_BITS,
  TLSF_SL_COUNT,
  TLSF_SMALL_BYTES,
} from '../layout/heap';
import { PH_FL_BITMAP, PH_FREE_HEADS, PH_LOCK, PH_SEQ, PH_SL_BITMAPS, PH_USED_BYTES, PRIV_HEAP_WORDS } from '../layout/server-private';

/** alloc() result when no block is large enough. */
export const NO_MEMORY = 0;

const FL_SHIFT = TLSF_SL_BITS + Math.log2(TLSF_ALIGN);
const LOCK_TOKEN = 1;

function ffs(x: number): number {
  return 31 - Math.clz32(x & -x);
}

export class Allocator {
  /** The heap's lock (heap-rebuild.ts takes it too). */
  readonly lock: Lock;
  /** Word indexes of this heap's private state. */
  private readonly fl: number;
  private readonly sl: number;
  private readonly heads: number;
  /** The byte count's word (heap-rebuild.ts sets it). */
  readonly used: number;
  private readonly seq: number;
  /** Results of mapping(): first and second level. */
  private mfl = 0;
  private msl = 0;

  /**
   * @param u32 the words of the mapping that holds the heap
   * @param priv the server's private state; this heap's PRIV_HEAP_WORDS start at word `base`
   * @param heapStart first block (TLSF_ALIGN-aligned); `heapEnd` one past the sentinel
   */
  constructor(
    readonly u32: Uint32Array,
    readonly priv: Int32Array,
    base: number,
    readonly heapStart: number,
    readonly heapEnd: number,
  ) {
    if (base + PRIV_HEAP_WORDS > priv.length) throw new RangeError('allocator state out of range');
    this.lock = new Lock(priv, base + (PH_LOCK >>> 2), LOCK_TOKEN);
    this.fl = base + (PH_FL_BITMAP >>> 2);
    this.sl = base + (PH_SL_BITMAPS >>> 2);
    this.heads = base + (PH_FREE_HEADS >>> 2);
    this.used = base + (PH_USED_BYTES >>> 2);
    this.seq = base + (PH_SEQ >>> 2);
  }

  /** Lay out an empty heap: one free block and the sentinel. */
  format(): void {
    this.lock.lock();
    try {
      this.clearState();
      const size = this.heapEnd - this.heapStart - 2 * BLOCK_HEADER_BYTES;
      const sentinel = this.heapEnd - BLOCK_HEADER_BYTES;
      this.u32[(sentinel + BLOCK_SIZE) >>> 2] = BLOCK_PREV_FREE;
      this.u32[(sentinel + BLOCK_PREV_PHYS) >>> 2] = this.heapStart;
      this.u32[(this.heapStart + BLOCK_SIZE) >>> 2] = size | BLOCK_FREE;
      this.insert(this.heapStart, size);
    } finally {
      this.lock.unlock();
    }
  }

  /** Bytes allocated (headers included), by this heap's count. */
  usedBytes(): number {
    return Atomics.load(this.priv, this.used) >>> 0;
  }

  /**
   * The stamp of the block alloc() returned last: the heap's allocation
   * sequence, unique per heap until it wraps at 2^32, and never 0 (a new
   * key's entry takes it as its ENTRY_STAMP; 0 marks a u32 key in an
   * eviction queue item, s3fifo.ts).
   */
  stamp = 0;

  /** Go on stamping after `last` (an adopted heap: its entries' newest stamp). */
  stampAfter(last: number): void {
    this.lock.lock();
    this.priv[this.seq] = last | 0;
    this.lock.unlock();
  }
  /** Bytes (header included) of the block alloc() returned last. */
  lastBytes = 0;

  /**
   * A block of at least `bytes` payload bytes, TLSF_ALIGN-aligned; returns
   * the payload's offset, or NO_MEMORY. Contents are not cleared.
   */
  alloc(bytes: number): number {
    if (!(bytes >= 0) || bytes > this.heapEnd - this.heapStart) return NO_MEMORY;
    let size = Math.max(BLOCK_MIN_PAYLOAD, (bytes + TLSF_ALIGN - 1) & ~(TLSF_ALIGN - 1));
    this.lock.lock();
    try {
      if (size >= TLSF_SMALL_BYTES) {
        // Round up to the next class boundary: every block of that class fits.
        const l = 31 - Math.clz32(size);
        size = ((size + (1 << (l - TLSF_SL_BITS)) - 1) & ~((1 << (l - TLSF_SL_BITS)) - 1)) >>> 0;
      }
      const block = this.findFit(size);
      if (block === NO_MEMORY) return NO_MEMORY;
      const have = this.sizeOf(block);
      this.remove(block, have);
      const u32 = this.u32;
      const hdr = (block + BLOCK_SIZE) >>> 2;
      if (have - size >= BLOCK_HEADER_BYTES + BLOCK_MIN_PAYLOAD) {
        // Split: the remainder becomes a free block of its own.
        const rest = block + BLOCK_HEADER_BYTES + size;
        const restSize = have - size - BLOCK_HEADER_BYTES;
        u32[hdr] = size | (u32[hdr] & BLOCK_PREV_FREE);
        u32[(rest + BLOCK_SIZE) >>> 2] = restSize | BLOCK_FREE;
        this.linkNext(rest, restSize);
        this.insert(rest, restSize);
      } else {
        u32[hdr] &= ~BLOCK_FREE;
        const next = block + BLOCK_HEADER_BYTES + have;
        u32[(next + BLOCK_SIZE) >>> 2] &= ~BLOCK_PREV_FREE;
      }
      this.lastBytes = this.sizeOf(block) + BLOCK_HEADER_BYTES;
      this.priv[this.used] += this.lastBytes;
      const seq = (this.priv[this.seq] + 1) | 0 || 1;
      this.priv[this.seq] = seq;
      this.stamp = seq >>> 0;
      return block + BLOCK_HEADER_BYTES;
    } finally {
      this.lock.unlock();
    }
  }

  /** Return a block obtained from alloc(); neighbours coalesce at once. Returns its bytes, header included. */
  free(payload: number): number {
    let block = payload - BLOCK_HEADER_BYTES;
    this.check(block, 'freed block');
    this.lock.lock();
    try {
      const u32 = this.u32;
      let flags = u32[(block + BLOCK_SIZE) >>> 2];
      if (flags & BLOCK_FREE) throw new TableCorruptError(`block ${block} freed twice`);
      let size = this.sizeOf(block);
      const bytes = size + BLOCK_HEADER_BYTES;
      this.priv[this.used] -= bytes;
      if (flags & BLOCK_PREV_FREE) {
        const prev = u32[(block + BLOCK_PREV_PHYS) >>> 2];
        this.check(prev, 'previous block');
        const prevSize = this.sizeOf(prev);
        if (prev + BLOCK_HEADER_BYTES + prevSize !== block) throw new TableCorruptError(`block ${prev} does not precede ${block}`);
        this.remove(prev, prevSize);
        block = prev;
        size += prevSize + BLOCK_HEADER_BYTES;
        flags = u32[(block + BLOCK_SIZE) >>> 2];
      }
      const next = block + BLOCK_HEADER_BYTES + size;
      if (u32[(next + BLOCK_SIZE) >>> 2] & BLOCK_FREE) {
        const nextSize = this.sizeOf(next);
        this.remove(next, nextSize);
        size += nextSize + BLOCK_HEADER_BYTES;
      }
      u32[(block + BLOCK_SIZE) >>> 2] = size | BLOCK_FREE | (flags & BLOCK_PREV_FREE);
      this.linkNext(block, size);
      this.insert(block, size);
      return bytes;
    } finally {
      this.lock.unlock();
    }
  }

  /** Payload bytes of the block whose payload starts at `payload` (checked: a forged header throws). */
  usable(payload: number): number {
    this.check(payload - BLOCK_HEADER_BYTES, 'block');
    return this.sizeOf(payload - BLOCK_HEADER_BYTES);
  }

  /** The payload size alloc(bytes) gives a block (before a remainder too small to split off joins it). */
  static sizeFor(bytes: number): number {
    let size = Math.max(BLOCK_MIN_PAYLOAD, (bytes + TLSF_ALIGN - 1) & ~(TLSF_ALIGN - 1));
    if (size >= TLSF_SMALL_BYTES) {
      const l = 31 - Math.clz32(size);
      size = ((size + (1 << (l - TLSF_SL_BITS)) - 1) & ~((1 << (l - TLSF_SL_BITS)) - 1)) >>> 0;
    }
    return size;
  }

  // ---- internals, under the lock (heap-rebuild.ts uses clearState and insert) --

  /** Empty free lists and bitmaps, no byte in use. */
  clearState(): void {
    this.priv[this.fl] = 0;
    this.priv.fill(0, this.sl, this.sl + TLSF_FL_COUNT);
    this.priv.fill(0, this.heads, this.heads + TLSF_FL_COUNT * TLSF_SL_COUNT);
    this.priv[this.used] = 0;
  }

  private sizeOf(block: number): number {
    const size = (this.u32[(block + BLOCK_SIZE) >>> 2] & ~BLOCK_FLAG_MASK) >>> 0;
    if (block + BLOCK_HEADER_BYTES + size > this.heapEnd - BLOCK_HEADER_BYTES)
      throw new TableCorruptError(`block ${block} of ${size} bytes runs past the heap`);
    return size;
  }

  private check(block: number, what: string): void {
    if (!(block >= this.heapStart && block < this.heapEnd - BLOCK_HEADER_BYTES) || block % TLSF_ALIGN !== 0)
      throw new TableCorruptError(`${what} at ${block} is outside the heap`);
  }

  /** The block after `block` (of `size`) learns that `block` is free. */
  private linkNext(block: number, size: number): void {
    const next = block + BLOCK_HEADER_BYTES + size;
    this.u32[(next + BLOCK_PREV_PHYS) >>> 2] = block;
    this.u32[(next + BLOCK_SIZE) >>> 2] |= BLOCK_PREV_FREE;
  }

  private mapping(size: number): void {
    if (size < TLSF_SMALL_BYTES) {
      this.mfl = 0;
      this.msl = size >>> Math.log2(TLSF_ALIGN);
    } else {
      const l = 31 - Math.clz32(size);
      this.mfl = l - (FL_SHIFT - 1);
      this.msl = (size >>> (l - TLSF_SL_BITS)) ^ TLSF_SL_COUNT;
    }
  }

  private head(fl: number, sl: number): number {
    return this.heads + fl * TLSF_SL_COUNT + sl;
  }

  private findFit(size: number): number {
    const priv = this.priv;
    this.mapping(size);
    let fl = this.mfl;
    if (fl >= TLSF_FL_COUNT) return NO_MEMORY;
    let slMap = priv[this.sl + fl] & (~0 << this.msl);
    if (slMap === 0) {
      const flMap = priv[this.fl] & (~0 << (fl + 1));
      if (flMap === 0) return NO_MEMORY;
      fl = ffs(flMap);
      slMap = priv[this.sl + fl];
    }
    if (fl >= TLSF_FL_COUNT || slMap === 0) throw new TableCorruptError('allocator bitmaps');
    const block = priv[this.head(fl, ffs(slMap))] >>> 0;
    this.check(block, 'free-list head');
    return block;
  }

  /** Put the free block `block` of `size` payload bytes on its free list. */
  insert(block: number, size: number): void {
    const priv = this.priv;
    this.mapping(size);
    const h = this.head(this.mfl, this.msl);
    const first = priv[h] >>> 0;
    this.u32[(block + BLOCK_NEXT_FREE) >>> 2] = first;
    this.u32[(block + BLOCK_PREV_FREE_LINK) >>> 2] = 0;
    if (first !== 0) this.u32[(first + BLOCK_PREV_FREE_LINK) >>> 2] = block;
    priv[h] = block;
    priv[this.fl] |= 1 << this.mfl;
    priv[this.sl + this.mfl] |= 1 << this.msl;
  }

  private remove(block: number, size: number): void {
    const u32 = this.u32;
    const next = u32[(block + BLOCK_NEXT_FREE) >>> 2];
    const prev = u32[(block + BLOCK_PREV_FREE_LINK) >>> 2];
    if (next !== 0) {
      this.check(next, 'free-list link');
      u32[(next + BLOCK_PREV_FREE_LINK) >>> 2] = prev;
    }
    if (prev !== 0) {
      this.check(prev, 'free-list link');
      u32[(prev + BLOCK_NEXT_FREE) >>> 2] = next;
      return;
    }
    this.mapping(size);
    const h = this.head(this.mfl, this.msl);
    if (this.priv[h] >>> 0 !== block) throw new TableCorruptError(`free list of block ${block}`);
    this.priv[h] = next;
    if (next === 0) {
      const sl = this.sl + this.mfl;
      this.priv[sl] &= ~(1 << this.msl);
      if (this.priv[sl] === 0) this.priv[this.fl] &= ~(1 << this.mfl);
    }
  }

  /**
   * Walk every block and free list and check the invariants (tests, and
   * recovery's self-check): blocks tile the heap, no two free blocks are
   * neighbours, PREV_FREE and prevPhys agree, and the free lists hold
   * exactly the free blocks. Returns the number of free blocks and bytes in
   * use (headers included).
   */
  verify(): { freeBlocks: number; usedBytes: number } {
    const u32 = this.u32;
    let b = this.heapStart;
    let prevFree = false;
    let prev = 0;
    let freeBlocks = 0;
    let usedBytes = 0;
    while (b < this.heapEnd - BLOCK_HEADER_BYTES) {
      const flags = u32[(b + BLOCK_SIZE) >>> 2];
      const size = this.sizeOf(b);
      const free = (flags & BLOCK_FREE) !== 0;
      if (((flags & BLOCK_PREV_FREE) !== 0) !== prevFree) throw new Error(`PREV_FREE wrong at ${b}`);
      if (prevFree && u32[(b + BLOCK_PREV_PHYS) >>> 2] !== prev) throw new Error(`prevPhys wrong at ${b}`);
      if (free && prevFree) throw new Error(`two free neighbours at ${prev} and ${b}`);
      if (free) freeBlocks++;
      else usedBytes += size + BLOCK_HEADER_BYTES;
      prevFree = free;
      prev = b;
      b += BLOCK_HEADER_BYTES + size;
    }
    if (b !== this.heapEnd - BLOCK_HEADER_BYTES) throw new Error(`blocks end at ${b}, not at the sentinel`);
    if (((u32[(b + BLOCK_SIZE) >>> 2] & BLOCK_PREV_FREE) !== 0) !== prevFree) throw new Error('PREV_FREE wrong at the sentinel');
    let listed = 0;
    for (let fl = 0; fl < TLSF_FL_COUNT; fl++)
      for (let sl = 0; sl < TLSF_SL_COUNT; sl++)
        for (let f = this.priv[this.head(fl, sl)] >>> 0; f !== 0; f = u32[(f + BLOCK_NEXT_FREE) >>> 2]) {
          if (!(u32[(f + BLOCK_SIZE) >>> 2] & BLOCK_FREE)) throw new Error(`used block ${f} on a free list`);
          if (++listed > freeBlocks) throw new Error('free lists hold more blocks than the heap');
        }
    if (listed !== freeBlocks) throw new Error(`free lists hold ${listed} of ${freeBlocks} free blocks`);
    if (usedBytes !== this.usedBytes()) throw new Error(`used bytes ${this.usedBytes()}, blocks say ${usedBytes}`);
    return { freeBlocks, usedBytes };
  }
}
