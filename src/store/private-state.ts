/**
 * The server's private state (layout/server-private.ts and
 * layout/eviction-queues.ts): what the server's main thread creates and
 * hands to every worker, and that no client can map. One SharedArrayBuffer
 * of Int32 words holds what a client must never be able to write: the
 * segment locks, the authoritative copy of every word the server mirrors
 * into the data file (versions, counts, index words), each data chunk's
 * allocator, and each chunk's eviction queue words. Beside it, three
 * growable SharedArrayBuffers per chunk hold its queues' items and its
 * ghost (s3fifo.ts): they start empty and grow with what they hold, so they
 * cost address space up to their maximum (layout/eviction-queues.ts,
 * ringMaxBytes) but memory only for their length. (The staging arena's
 * allocator keeps its own private state: server/staging.ts.)
 */
import type { DataGeometry } from '../layout/data-file';
import { chunkHeapStart } from '../layout/chunk-directory';
import { ghostMaxBytes, PRIV_QUEUE_WORDS, ringMaxBytes } from '../layout/eviction-queues';
import { PRIV_HEAP_WORDS, PRIV_SEG_WORDS } from '../layout/server-private';

/** What a worker thread needs to rebuild the private state (transferable()). */
export interface PrivateTransfer {
  sab: SharedArrayBuffer;
  segments: number;
  heaps: number;
  /** Per chunk: small ring, main ring, ghost (growable). */
  queues: SharedArrayBuffer[];
}

export class PrivateState {
  readonly i32: Int32Array;

  private constructor(
    readonly sab: SharedArrayBuffer,
    readonly segments: number,
    /** Heaps: the data file's chunks. */
    readonly heaps: number,
    /** Per chunk c: queues[3c] its small ring's items, [3c + 1] its main ring's, [3c + 2] its ghost. */
    readonly queues: SharedArrayBuffer[],
  ) {
    this.i32 = new Int32Array(sab);
  }

  /** A fresh state for `segments` segments in `chunks` chunks whose heaps hold `heapBytes` each. */
  static create(segments: number, chunks: number, heapBytes: number): PrivateState {
    const words = segments * PRIV_SEG_WORDS + chunks * (PRIV_HEAP_WORDS + PRIV_QUEUE_WORDS);
    const queues: SharedArrayBuffer[] = [];
    for (let c = 0; c < chunks; c++) {
      const ring = ringMaxBytes(heapBytes);
      queues.push(new SharedArrayBuffer(0, { maxByteLength: ring }), new SharedArrayBuffer(0, { maxByteLength: ring }), new SharedArrayBuffer(0, { maxByteLength: ghostMaxBytes(heapBytes) }));
    }
    return new PrivateState(new SharedArrayBuffer(words * 4), segments, chunks, queues);
  }

  /** A fresh state for a table of geometry `g`. */
  static forGeometry(g: DataGeometry): PrivateState {
    const segments = 2 ** g.segmentBits;
    return PrivateState.create(segments, g.chunks, g.chunkBytes - chunkHeapStart(segments / g.chunks));
  }

  /** Rebuild in a worker thread from what transferable() gave. */
  static fromShared(t: PrivateTransfer): PrivateState {
    return new PrivateState(t.sab, t.segments, t.heaps, t.queues);
  }

  transferable(): PrivateTransfer {
    return { sab: this.sab, segments: this.segments, heaps: this.heaps, queues: this.queues };
  }

  /** First word of segment `seg`'s private words. */
  segmentBase(seg: number): number {
    return seg * PRIV_SEG_WORDS;
  }

  /** First word of chunk `c`'s allocator state. */
  heapBase(c: number): number {
    return this.segments * PRIV_SEG_WORDS + c * PRIV_HEAP_WORDS;
  }

  /** First word of chunk `c`'s eviction queue words (PQ_*). */
  queueBase(c: number): number {
    return this.segments * PRIV_SEG_WORDS + this.heaps * PRIV_HEAP_WORDS + c * PRIV_QUEUE_WORDS;
  }
}
