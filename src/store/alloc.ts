/**
 * The data file's heap allocator: TLSF (Two-Level Segregated Fit, Masmano
 * et al., ECRTS 2004), used by server threads only, under one lock.
 *
 * WHY TLSF. Entries, segment indexes and staging blocks range from 32 bytes
 * to hundreds of MiB in one heap whose size is fixed when the server starts
 * (clients map it once). TLSF serves every size from one structure in O(1)
 * (two bitmap scans), and coalesces a freed block with its free neighbours
 * at once, so memory freed by one size class serves any other.
 *
 * FRAGMENTATION BOUNDS. Internal: a request is rounded up to the next
 * second-level class boundary, which is at most 1/TLSF_SL_COUNT (6.25%)
 * above it, plus TLSF_ALIGN rounding, plus a remainder too small to split
 * off as a block of its own (< BLOCK_HEADER_BYTES + BLOCK_MIN_PAYLOAD), plus
 * BLOCK_HEADER_BYTES per block.
 * External: immediate coalescing means no two free blocks are ever
 * neighbours; a good-fit search takes the smallest class that surely fits,
 * and splits the remainder off. What can still be lost is the free space
 * between live blocks, which a cache bounds by evicting (the issue that
 * adds eviction frees neighbours of a request's class until it fits).
 *
 * BLOCKS. Offsets are bytes from the start of the mapping (u32; the data
 * file is below 4 GiB). A block is [prevPhys u32, size | flags u32] then
 * `size` payload bytes; the next physical block follows the payload.
 * prevPhys is valid only while the previous block is free (PREV_FREE set).
 * A free block links its free list through its first payload words. The
 * heap ends with a used block of size 0, so no block coalesces past it.
 *
 * TRUST. The allocator's words live in a file any process of the same user
 * can write. Every offset and size read back is checked against the heap's
 * bounds before it is used as an index; a failed check throws
 * TableCorruptError instead of reading or writing out of bounds.
 */
import { Lock } from '../sync/lock';
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
  D_ALLOC_LOCK,
  D_FL_BITMAP,
  D_FREE_HEADS,
  D_HEAP_END,
  D_HEAP_START,
  D_SL_BITMAPS,
  D_USED_BYTES,
  TLSF_ALIGN,
  TLSF_FL_COUNT,
  TLSF_SL_BITS,
  TLSF_SL_COUNT,
  TLSF_SMALL_BYTES,
} from '../layout/layout';
import { TableCorruptError } from '../errors';

/** alloc() result when no block is large enough. */
export const NO_MEMORY = 0;

const FL_SHIFT = TLSF_SL_BITS + Math.log2(TLSF_ALIGN);
const LOCK_TOKEN = 1;

function ffs(x: number): number {
  return 31 - Math.clz32(x & -x);
}

export class Allocator {
  private readonly u32: Uint32Array;
  private readonly lock: Lock;
  private readonly heapStart: number;
  private readonly heapEnd: number;
  /** Results of mapping(): first and second level. */
  private fl = 0;
  private sl = 0;

  /** Lay out an empty heap over [heapStart, heapEnd) of a fresh data file. */
  static format(u32: Uint32Array, heapStart: number, heapEnd: number): void {
    u32[D_HEAP_START >>> 2] = heapStart;
    u32[D_HEAP_END >>> 2] = heapEnd;
    const a = new Allocator(u32);
    const size = heapEnd - heapStart - 2 * BLOCK_HEADER_BYTES;
    const sentinel = heapEnd - BLOCK_HEADER_BYTES;
    u32[(sentinel + BLOCK_SIZE) >>> 2] = BLOCK_PREV_FREE;
    u32[(sentinel + BLOCK_PREV_PHYS) >>> 2] = heapStart;
    u32[(heapStart + BLOCK_SIZE) >>> 2] = size | BLOCK_FREE;
    a.insert(heapStart, size);
  }

  constructor(u32: Uint32Array) {
    this.u32 = u32;
    this.lock = new Lock(new Int32Array(u32.buffer), D_ALLOC_LOCK >>> 2, LOCK_TOKEN);
    this.heapStart = u32[D_HEAP_START >>> 2];
    this.heapEnd = u32[D_HEAP_END >>> 2];
  }

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
      Atomics.add(u32, D_USED_BYTES >>> 2, this.sizeOf(block) + BLOCK_HEADER_BYTES);
      return block + BLOCK_HEADER_BYTES;
    } finally {
      this.lock.unlock();
    }
  }

  /** Return a block obtained from alloc(); neighbours coalesce at once. */
  free(payload: number): void {
    let block = payload - BLOCK_HEADER_BYTES;
    this.check(block, 'freed block');
    this.lock.lock();
    try {
      const u32 = this.u32;
      let flags = u32[(block + BLOCK_SIZE) >>> 2];
      if (flags & BLOCK_FREE) throw new TableCorruptError(`block ${block} freed twice`);
      let size = this.sizeOf(block);
      Atomics.sub(u32, D_USED_BYTES >>> 2, size + BLOCK_HEADER_BYTES);
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
    } finally {
      this.lock.unlock();
    }
  }

  /** Payload bytes of the block whose payload starts at `payload`. */
  usable(payload: number): number {
    return this.sizeOf(payload - BLOCK_HEADER_BYTES);
  }

  // ---- internals, under the lock -------------------------------------------

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
      this.fl = 0;
      this.sl = size >>> Math.log2(TLSF_ALIGN);
    } else {
      const l = 31 - Math.clz32(size);
      this.fl = l - (FL_SHIFT - 1);
      this.sl = (size >>> (l - TLSF_SL_BITS)) ^ TLSF_SL_COUNT;
    }
  }

  private head(fl: number, sl: number): number {
    return (D_FREE_HEADS >>> 2) + fl * TLSF_SL_COUNT + sl;
  }

  private findFit(size: number): number {
    const u32 = this.u32;
    this.mapping(size);
    let fl = this.fl;
    let slMap = u32[(D_SL_BITMAPS >>> 2) + fl] & (~0 << this.sl);
    if (slMap === 0) {
      const flMap = u32[D_FL_BITMAP >>> 2] & (~0 << (fl + 1));
      if (flMap === 0) return NO_MEMORY;
      fl = ffs(flMap);
      slMap = u32[(D_SL_BITMAPS >>> 2) + fl];
    }
    if (fl >= TLSF_FL_COUNT || slMap === 0) throw new TableCorruptError('allocator bitmaps');
    const block = u32[this.head(fl, ffs(slMap))];
    this.check(block, 'free-list head');
    return block;
  }

  private insert(block: number, size: number): void {
    const u32 = this.u32;
    this.mapping(size);
    const h = this.head(this.fl, this.sl);
    const first = u32[h];
    u32[(block + BLOCK_NEXT_FREE) >>> 2] = first;
    u32[(block + BLOCK_PREV_FREE_LINK) >>> 2] = 0;
    if (first !== 0) u32[(first + BLOCK_PREV_FREE_LINK) >>> 2] = block;
    u32[h] = block;
    u32[D_FL_BITMAP >>> 2] |= 1 << this.fl;
    u32[(D_SL_BITMAPS >>> 2) + this.fl] |= 1 << this.sl;
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
    const h = this.head(this.fl, this.sl);
    if (u32[h] !== block) throw new TableCorruptError(`free list of block ${block}`);
    u32[h] = next;
    if (next === 0) {
      const sl = (D_SL_BITMAPS >>> 2) + this.fl;
      u32[sl] &= ~(1 << this.sl);
      if (u32[sl] === 0) u32[D_FL_BITMAP >>> 2] &= ~(1 << this.fl);
    }
  }

  /**
   * Walk every block and free list and check the invariants (tests only):
   * blocks tile the heap, no two free blocks are neighbours, PREV_FREE and
   * prevPhys agree, and the free lists hold exactly the free blocks.
   * Returns the number of free blocks and bytes in use (headers included).
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
    let listed = 0;
    for (let fl = 0; fl < TLSF_FL_COUNT; fl++)
      for (let sl = 0; sl < TLSF_SL_COUNT; sl++)
        for (let f = u32[this.head(fl, sl)]; f !== 0; f = u32[(f + BLOCK_NEXT_FREE) >>> 2]) {
          if (!(u32[(f + BLOCK_SIZE) >>> 2] & BLOCK_FREE)) throw new Error(`used block ${f} on a free list`);
          if (++listed > freeBlocks) throw new Error('free lists hold more blocks than the heap');
        }
    if (listed !== freeBlocks) throw new Error(`free lists hold ${listed} of ${freeBlocks} free blocks`);
    if (usedBytes !== u32[D_USED_BYTES >>> 2]) throw new Error(`used bytes ${u32[D_USED_BYTES >>> 2]}, blocks say ${usedBytes}`);
    return { freeBlocks, usedBytes };
  }
}
