/**
 * Views of one chunk of the data file (layout/chunk-directory.ts, its
 * header and directory; layout/heap.ts, what its heap holds): the typed
 * arrays every reader and writer of its segments uses, its heap's bounds,
 * and the checks that stand between a word read from the file and its use
 * as an offset. A chunk's offsets are below MAX_CHUNK_BYTES (< 2^31), so
 * they stay small integers for V8 and `>>> 2` indexes words safely.
 *
 * The heap bounds are taken from the geometry the caller validated, never
 * re-read from the file: a forged chunk header cannot move them.
 */
import { C_DIRECTORY, INDEX_LOG2_MASK, SEG_INDEX, SEG_INDEX_BLOCK, SEG_VERSION, SEGMENT_BYTES } from '../layout/chunk-directory';
import { HINT_GRANULE } from '../layout/exchange';
import { ENTRY_HEADER_BYTES, IX_BYTES, MAX_INDEX_LOG2, TLSF_ALIGN } from '../layout/heap';

export class Chunk {
  readonly u8: Uint8Array;
  readonly u32: Uint32Array;
  readonly i32: Int32Array;
  readonly buf: Buffer;
  readonly dv: DataView;
  readonly i64: BigInt64Array;
  /** The last offset at which an entry header still fits. */
  readonly lastEntry: number;

  constructor(
    readonly sab: SharedArrayBuffer,
    readonly index: number,
    readonly heapStart: number,
    readonly heapEnd: number,
    /** One byte per HINT_GRANULE bytes of the chunk (the exchange file), or an empty array. */
    readonly hints: Uint8Array,
  ) {
    this.u8 = new Uint8Array(sab);
    this.u32 = new Uint32Array(sab);
    this.i32 = new Int32Array(sab);
    this.buf = Buffer.from(sab);
    this.dv = new DataView(sab);
    this.i64 = new BigInt64Array(sab);
    this.lastEntry = heapEnd - ENTRY_HEADER_BYTES;
  }

  /** Word index of the directory entry of the chunk's `local`-th segment. */
  dir(local: number): number {
    return (C_DIRECTORY + local * SEGMENT_BYTES) >>> 2;
  }

  /** Word index of that segment's version (seqlock). */
  versionWord(local: number): number {
    return (C_DIRECTORY + local * SEGMENT_BYTES + SEG_VERSION) >>> 2;
  }

  /** The index word of a segment (offset | log2 capacity), as read from the file. */
  indexWord(local: number): number {
    return this.u32[(C_DIRECTORY + local * SEGMENT_BYTES + SEG_INDEX) >>> 2];
  }

  /** The heap block that holds a segment's index, as the file says (recovery: the word above names the index). */
  indexBlockWord(local: number): number {
    return this.u32[(C_DIRECTORY + local * SEGMENT_BYTES + SEG_INDEX_BLOCK) >>> 2];
  }

  /**
   * Store a segment's index word and its block with one 8-byte atomic
   * store (layout/chunk-directory.ts, SEG_INDEX): a crash leaves both old
   * or both new.
   */
  storeIndex(local: number, word: number, block: number): void {
    Atomics.store(this.i64, (C_DIRECTORY + local * SEGMENT_BYTES + SEG_INDEX) >>> 3, BigInt(word >>> 0) | (BigInt(block >>> 0) << 32n));
  }

  /**
   * Whether an index word names an index inside the heap: a log2 capacity
   * in 2..MAX_INDEX_LOG2 and a line-aligned offset whose slots all lie in
   * the heap.
   */
  indexOk(word: number): boolean {
    const log2 = word & INDEX_LOG2_MASK;
    const index = word - log2;
    return log2 >= 2 && log2 <= MAX_INDEX_LOG2 && index >= this.heapStart && index + (1 << log2) * IX_BYTES <= this.heapEnd;
  }

  /**
   * Whether `e` may be an entry offset: aligned, in the heap, with room
   * for its header. The lengths in that header must be checked too, with
   * fits(), using the very values read: a forger may change them between
   * two reads (no writer ever changes a reachable entry: segments.ts).
   */
  entryOk(e: number): boolean {
    return e >= this.heapStart && e <= this.lastEntry && (e & (TLSF_ALIGN - 1)) === 0;
  }

  /** Whether `len` bytes from offset `at` lie in the heap. */
  fits(at: number, len: number): boolean {
    return at + len <= this.heapEnd;
  }

  /** The hint byte of the index slot at `slot`. */
  hintOf(slot: number): number {
    return ((slot - this.heapStart) / HINT_GRANULE) | 0;
  }
}
