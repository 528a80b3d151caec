/**
 * Rebuilding a heap around the blocks its owner knows are live: the step
 * that adopts a data file after a crash (recovery.ts) and that repairs a
 * chunk whose heap was found forged (repair.ts). The allocator's own
 * protocol, alloc() and free() and the invariant they keep, is alloc.ts;
 * this file makes a heap that keeps that invariant out of one that may
 * not (Allocator.verify() checks the result in the tests and at
 * adoption).
 *
 * PROTOCOL (repair.ts, rebuildChunk, runs it; the caller keeps every other
 * user of the heap out: it holds every lock of the chunk, or nothing else
 * runs yet):
 *   claimBlock   for each index and entry that passed its own checks: its
 *                block's header is made what alloc() would have written
 *                for what it holds
 *   overlapping  of those blocks, sorted, the ones that overlap an earlier
 *                one: the caller drops them (and what links to them)
 *   rebuildHeap  the heap re-tiled around exactly the rest: each gap
 *                becomes one free block (or, too small for one, slack of
 *                the live block before it); free lists and counts anew
 *
 * TRUST. The heap is a file any process of the same user can write: every
 * offset and size read from it is checked against the heap's bounds
 * before use, and a heap that cannot be re-tiled (a gap too small for a
 * block at its very start) throws TableCorruptError: the caller then
 * empties the chunk (repair.ts, emptyChunk).
 */
import { TableCorruptError } from '../errors';
import { Allocator } from './alloc';
import { BLOCK_FLAG_MASK, BLOCK_FREE, BLOCK_HEADER_BYTES, BLOCK_MIN_PAYLOAD, BLOCK_PREV_FREE, BLOCK_PREV_PHYS, BLOCK_SIZE, TLSF_ALIGN } from '../layout/heap';

/**
 * Claim `payload` for a rebuild as the payload of a block that holds
 * `bytes` (an entry or an index the caller checked): true when such a
 * block fits in the heap there. Its header is made what alloc() would
 * have written (a forged size, too large or too small, would otherwise
 * swallow its neighbours or cut its own data): a block is what it holds.
 */
export function claimBlock(a: Allocator, payload: number, bytes: number): boolean {
  const block = payload - BLOCK_HEADER_BYTES;
  if (!(block >= a.heapStart && block < a.heapEnd - BLOCK_HEADER_BYTES) || block % TLSF_ALIGN !== 0 || bytes > a.heapEnd - a.heapStart) return false;
  const want = Allocator.sizeFor(bytes);
  const hdr = (block + BLOCK_SIZE) >>> 2;
  const size = (a.u32[hdr] & ~BLOCK_FLAG_MASK) >>> 0;
  // A remainder too small to split off stays in the block: up to one minimal block more.
  const have = size >= want && size < want + BLOCK_HEADER_BYTES + BLOCK_MIN_PAYLOAD ? size : want;
  if (block + BLOCK_HEADER_BYTES + have > a.heapEnd - BLOCK_HEADER_BYTES) return false;
  a.u32[hdr] = have;
  return true;
}

/**
 * Rebuild the heap around exactly the blocks in `live` (payload offsets
 * sorted ascending, as overlapping() took them, each the payload of a block
 * whose header holds its size: claimBlock() made it so): every other byte
 * becomes free space, and the private state is
 * made anew. Blocks must not overlap; the caller drops the ones that do
 * (overlapping() tells) before calling. Used when a data file is adopted and
 * when a heap's blocks were found forged. The caller keeps every user of
 * the heap out meanwhile.
 */
export function rebuildHeap(a: Allocator, live: Uint32Array): void {
  a.lock.lock();
  try {
    a.clearState();
    const u32 = a.u32;
    let at = a.heapStart; // where the next block starts
    let free = -1; // the free block just before `at`, if any
    let last = -1; // the last live block written
    let used = 0;
    const sentinel = a.heapEnd - BLOCK_HEADER_BYTES;
    const fillTo = (end: number): void => {
      if (end === at) return;
      const gap = end - at - BLOCK_HEADER_BYTES;
      if (gap >= BLOCK_MIN_PAYLOAD) {
        u32[(at + BLOCK_SIZE) >>> 2] = gap | BLOCK_FREE;
        a.insert(at, gap);
        free = at;
        return;
      }
      // Too small for a block (only forged headers leave such a gap): the
      // live block before it keeps the bytes as slack.
      if (last < 0) throw new TableCorruptError(`a gap of ${end - at} bytes at the heap's start`);
      const word = u32[(last + BLOCK_SIZE) >>> 2];
      u32[(last + BLOCK_SIZE) >>> 2] = (((word & ~BLOCK_FLAG_MASK) >>> 0) + end - at) | (word & BLOCK_PREV_FREE);
      used += end - at;
    };
    for (let i = 0; i < live.length; i++) {
      const block = live[i] - BLOCK_HEADER_BYTES;
      const size = (u32[(block + BLOCK_SIZE) >>> 2] & ~BLOCK_FLAG_MASK) >>> 0;
      free = -1;
      fillTo(block);
      u32[(block + BLOCK_SIZE) >>> 2] = size | (free >= 0 ? BLOCK_PREV_FREE : 0);
      if (free >= 0) u32[(block + BLOCK_PREV_PHYS) >>> 2] = free;
      last = block;
      used += size + BLOCK_HEADER_BYTES;
      at = block + BLOCK_HEADER_BYTES + size;
    }
    free = -1;
    fillTo(sentinel);
    u32[(sentinel + BLOCK_SIZE) >>> 2] = free >= 0 ? BLOCK_PREV_FREE : 0;
    if (free >= 0) u32[(sentinel + BLOCK_PREV_PHYS) >>> 2] = free;
    a.priv[a.used] = used;
  } finally {
    a.lock.unlock();
  }
}

/**
 * Of payload offsets sorted ascending, the indexes of those whose block
 * overlaps an earlier one's (by their headers), for rebuildHeap()'s caller
 * to drop.
 */
export function overlapping(a: Allocator, sorted: Uint32Array): number[] {
  const out: number[] = [];
  let end = a.heapStart;
  for (let i = 0; i < sorted.length; i++) {
    const block = sorted[i] - BLOCK_HEADER_BYTES;
    if (block < end) {
      out.push(i);
      continue;
    }
    end = block + BLOCK_HEADER_BYTES + ((a.u32[(block + BLOCK_SIZE) >>> 2] & ~BLOCK_FLAG_MASK) >>> 0);
  }
  return out;
}
