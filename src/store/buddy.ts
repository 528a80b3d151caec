/**
 * A buddy allocator whose every word is private: the staging arena's
 * allocator (server/staging.ts). The arena itself is client-writable (the
 * exchange file), so unlike the data file's heaps (alloc.ts, TLSF with
 * headers in the heap) this allocator keeps nothing in the memory it hands
 * out: a client can scribble on any block and the allocator cannot notice
 * or care.
 *
 * STRUCTURE. The arena is 2^k blocks of MIN_BLOCK bytes; blocks come in
 * power-of-two sizes, each aligned to its size. A complete binary tree, one
 * byte per node, holds for each node 1 + log2 of the largest free block
 * (in MIN_BLOCKs) inside its subtree, 0 when none: the root says whether a
 * request fits, and a descent finds the leftmost block that does, in
 * O(levels). A node handed out holds 0; freeing it restores its value and
 * recomputes its ancestors (two free buddies merge back into their parent).
 * Only server threads use it, under one lock in the same private memory.
 */
import { Lock } from '../sync/lock';

/** Smallest block: a window's default staging size. */
export const MIN_BLOCK = 256;
const LOCK_TOKEN = 1;
/** Lock words before the tree. */
const LOCK_BYTES = 8;

export class Buddy {
  private readonly tree: Uint8Array;
  private readonly lock: Lock;
  private readonly levels: number;

  /** Private state for an arena of `bytes` (a power of two, at least MIN_BLOCK). */
  static createState(bytes: number): SharedArrayBuffer {
    return new SharedArrayBuffer(LOCK_BYTES + 2 * (bytes / MIN_BLOCK));
  }

  /**
   * @param bytes the arena's size: a power of two
   * @param state what createState(bytes) made, shared by the server's threads
   */
  constructor(
    readonly bytes: number,
    state: SharedArrayBuffer,
  ) {
    const leaves = bytes / MIN_BLOCK;
    if (!Number.isInteger(leaves) || (leaves & (leaves - 1)) !== 0 || state.byteLength !== LOCK_BYTES + 2 * leaves) throw new RangeError(`buddy arena of ${bytes} bytes`);
    this.levels = Math.log2(leaves) + 1;
    this.lock = new Lock(new Int32Array(state, 0, 2), 0, LOCK_TOKEN);
    this.tree = new Uint8Array(state, LOCK_BYTES, 2 * leaves);
  }

  /** Every block free (the server's main thread, before any worker runs). */
  format(): void {
    // Node i (1-based, root 1) at depth d heads a subtree of 2^(levels-1-d) blocks.
    for (let d = 0, first = 1; d < this.levels; d++, first *= 2) this.tree.fill(this.levels - d, first, 2 * first);
  }

  /** Offset of a free block of at least `n` bytes (it is now taken), or -1. */
  alloc(n: number): number {
    if (!(n >= 1) || n > this.bytes) return -1;
    const order = Math.max(0, Math.ceil(Math.log2(n / MIN_BLOCK)));
    const want = order + 1;
    this.lock.lock();
    try {
      const tree = this.tree;
      if (tree[1] < want) return -1;
      let node = 1;
      for (let d = 0; d < this.levels - 1 - order; d++) node = tree[2 * node] >= want ? 2 * node : 2 * node + 1;
      tree[node] = 0;
      const depth = this.levels - 1 - order;
      const offset = (node - (1 << depth)) * (MIN_BLOCK << order);
      for (node >>= 1; node >= 1; node >>= 1) tree[node] = Math.max(tree[2 * node], tree[2 * node + 1]);
      return offset;
    } finally {
      this.lock.unlock();
    }
  }

  /** Return the block at `offset` (an offset alloc() returned, not yet freed); returns its size. */
  free(offset: number): number {
    if (!Number.isInteger(offset) || offset < 0 || offset >= this.bytes || offset % MIN_BLOCK !== 0) throw new RangeError(`no block at ${offset}`);
    const block = offset / MIN_BLOCK;
    this.lock.lock();
    try {
      const tree = this.tree;
      // Up from the leaf to the node handed out (the one holding 0), whose
      // block must start at `offset`.
      let node = (1 << (this.levels - 1)) + block;
      let order = 0;
      while (tree[node] !== 0) {
        if (node === 1 || (block & ((2 << order) - 1)) !== 0) throw new RangeError(`no block at ${offset}`);
        node >>= 1;
        order++;
      }
      const size = MIN_BLOCK << order;
      tree[node] = order + 1;
      for (node >>= 1, order++; node >= 1; node >>= 1, order++) {
        const l = tree[2 * node];
        const r = tree[2 * node + 1];
        tree[node] = l === order && r === order ? order + 1 : Math.max(l, r);
      }
      return size;
    } finally {
      this.lock.unlock();
    }
  }

  /** Size of the block at `offset` that alloc() gave for a request of `n` bytes. */
  static sizeFor(n: number): number {
    return MIN_BLOCK << Math.max(0, Math.ceil(Math.log2(n / MIN_BLOCK)));
  }
}
