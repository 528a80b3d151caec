/**
 * The server's private state (layout.ts, "The server's private state"): one
 * SharedArrayBuffer that the server's main thread creates and hands to
 * every worker, and that no client can map. It holds what a client must
 * never be able to write: the segment locks, the authoritative copy of
 * every word the server mirrors into the data file (versions, counts,
 * index words), and each data chunk's allocator. (The staging arena's
 * allocator keeps its own private state: server/staging.ts.)
 */
import { PRIV_HEAP_WORDS, PRIV_SEG_WORDS } from '../layout/layout';

export class PrivateState {
  readonly i32: Int32Array;

  private constructor(
    readonly sab: SharedArrayBuffer,
    readonly segments: number,
    /** Heaps: the data file's chunks. */
    readonly heaps: number,
  ) {
    this.i32 = new Int32Array(sab);
  }

  static create(segments: number, chunks: number): PrivateState {
    return new PrivateState(new SharedArrayBuffer((segments * PRIV_SEG_WORDS + chunks * PRIV_HEAP_WORDS) * 4), segments, chunks);
  }

  /** Rebuild in a worker thread from what transferable() gave. */
  static fromShared(t: { sab: SharedArrayBuffer; segments: number; heaps: number }): PrivateState {
    return new PrivateState(t.sab, t.segments, t.heaps);
  }

  transferable(): { sab: SharedArrayBuffer; segments: number; heaps: number } {
    return { sab: this.sab, segments: this.segments, heaps: this.heaps };
  }

  /** First word of segment `seg`'s private words. */
  segmentBase(seg: number): number {
    return seg * PRIV_SEG_WORDS;
  }

  /** First word of chunk `c`'s allocator state. */
  heapBase(c: number): number {
    return this.segments * PRIV_SEG_WORDS + c * PRIV_HEAP_WORDS;
  }
}
