/**
 * The one seqlock reader of the table. Every lock-free look at a segment
 * goes through it: clients' point lookups (table-reader.ts), key scans
 * (table-scan.ts) and the server's lock-free u32 get (u32-peek.ts); a
 * snapshot copies each segment under its lock instead (snapshot.ts). Each
 * is a visitor: the reader validates the segment and the version, the
 * visitor only probes.
 *
 * PROTOCOL (the writers' side and the invariant are in segments.ts):
 *   v1 = the segment's version (seq-cst load); odd: a writer is inside,
 *        try again
 *   the index word (offset | log2 capacity, one word) is checked against
 *        the chunk's heap: capacity 4..2^MAX_INDEX_LOG2, line-aligned,
 *        every slot inside the heap
 *   visit: plain loads, every offset and length the visitor follows is
 *        checked before use (Chunk.entryOk), so a torn read never indexes
 *        out of bounds nor loops past the segment's capacity
 *   v2 = the version again (seq-cst load); v1 === v2: no writer stored
 *        anything this segment's readers can reach meanwhile, so what the
 *        visitor saw is one consistent snapshot, the state at the v2 load
 * Memory order: a seq-cst load is an acquire, so the plain loads after v1
 * see data no older than v1's store; on x86-64 loads are not reordered
 * with loads and V8 does not move memory accesses across an Atomics
 * operation, so v2 is read after them.
 *
 * RETRIES. A changed or odd version means "try again". A visitor that met
 * data that makes no sense (TORN) under a version that did NOT change saw
 * the file as it is: three such in a row is CORRUPT (a forged word; the
 * server repairs it). Point reads are bounded by a count (POINT_ATTEMPTS,
 * the later ones yielding the core) and then CONTENDED: the caller asks
 * the server, which reads under the segment's lock. Scans are bounded by
 * time instead (a writer preempted inside its odd period may need a
 * scheduler slice or more to get a core back on a busy machine, while
 * thousands of yields take less than that).
 */
import { futexWait, yieldCpu } from '../native/shim';
import { Chunk } from './chunk';
import { INDEX_LOG2_MASK } from '../layout/chunk-directory';

/** What a visitor saw. */
export const enum Visit {
  Found = 0,
  Absent = 1,
  /** Inconsistent data: a writer was inside (the version will say), or the file is corrupt. */
  Torn = 2,
}

/** What a read returns. */
export const enum ReadResult {
  Found = 0,
  Absent = 1,
  /** Writers kept changing the segment: ask the server instead (point reads), or try later. */
  Contended = 2,
  /** The segment is stable and makes no sense. */
  Corrupt = 3,
}

/** attempt(): the version was odd or changed. */
export const BUSY = 3;

export interface SegmentVisitor {
  /**
   * Look at a segment of chunk `ch` whose index (already bounds-checked)
   * starts at `index` with `mask + 1` slots. Plain loads only.
   */
  visit(ch: Chunk, index: number, mask: number): Visit;
}

/** Point reads: attempts before CONTENDED, and how many of them spin before yielding. */
const POINT_ATTEMPTS = 256;
const POINT_SPINS = 32;
/** Patient reads: back-to-back attempts, then attempts after a yield, then SLEEP_MS apart. */
const PATIENT_SPINS = 32;
const PATIENT_YIELDS = 256;
const SLEEP_MS = 1;
/** Stable-but-torn snapshots in a row that make a segment CORRUPT. */
const MAX_TORN = 3;

export class Seqlock {
  readonly segments: number;
  private readonly chunkMask: number;
  private readonly chunkBits: number;
  private readonly segShift: number;
  /** The version the last successful attempt() validated (a local cache keys on it). */
  version = 0;
  /** The chunk of that attempt. */
  chunk: Chunk;
  private readonly nap = new Int32Array(new SharedArrayBuffer(4));

  constructor(
    readonly chunks: readonly Chunk[],
    readonly segmentBits: number,
  ) {
    this.segments = 2 ** segmentBits;
    this.chunkMask = chunks.length - 1;
    this.chunkBits = Math.log2(chunks.length);
    this.segShift = 32 - segmentBits;
    this.chunk = chunks[0];
  }

  /** The segment of a key's hash: its top bits. */
  segmentOf(hash: number): number {
    return this.segmentBits === 0 ? 0 : hash >>> this.segShift;
  }

  chunkOf(seg: number): Chunk {
    return this.chunks[seg & this.chunkMask];
  }

  /** The segment's position within its chunk's directory. */
  localOf(seg: number): number {
    return seg >>> this.chunkBits;
  }

  /** The segment's current version (one seq-cst load). */
  currentVersion(seg: number): number {
    return Atomics.load(this.chunks[seg & this.chunkMask].i32, this.chunks[seg & this.chunkMask].versionWord(seg >>> this.chunkBits));
  }

  /** One validated visit: the visitor's outcome, or BUSY. */
  attempt(seg: number, visitor: SegmentVisitor): number {
    const ch = this.chunks[seg & this.chunkMask];
    const local = seg >>> this.chunkBits;
    const ver = ch.versionWord(local);
    const v1 = Atomics.load(ch.i32, ver);
    if ((v1 & 1) !== 0) return BUSY;
    const word = ch.indexWord(local);
    let r: number = Visit.Torn;
    if (ch.indexOk(word)) {
      const log2 = word & INDEX_LOG2_MASK;
      r = visitor.visit(ch, word - log2, (1 << log2) - 1);
    }
    if (Atomics.load(ch.i32, ver) !== v1) return BUSY;
    this.version = v1;
    this.chunk = ch;
    return r;
  }

  /** A point read: bounded by POINT_ATTEMPTS, never sleeps. */
  read(seg: number, visitor: SegmentVisitor): ReadResult {
    let torn = 0;
    for (let attempt = 0; attempt < POINT_ATTEMPTS; attempt++) {
      if (attempt >= POINT_SPINS) yieldCpu();
      const r = this.attempt(seg, visitor);
      if (r === Visit.Found) return ReadResult.Found;
      if (r === Visit.Absent) return ReadResult.Absent;
      if (r === Visit.Torn && ++torn >= MAX_TORN) return ReadResult.Corrupt;
    }
    return ReadResult.Contended;
  }

  /**
   * A read that waits out writers for up to `patienceMs` (sleeping between
   * attempts once spins and yields are spent): for scans, off the hot path.
   */
  readPatiently(seg: number, visitor: SegmentVisitor, patienceMs: number): ReadResult {
    let torn = 0;
    let giveUpAt = 0;
    for (let attempt = 0; ; attempt++) {
      if (attempt >= PATIENT_YIELDS) {
        const now = Date.now();
        if (giveUpAt === 0) giveUpAt = now + patienceMs;
        else if (now > giveUpAt) return ReadResult.Contended;
        futexWait(this.nap, 0, 0, SLEEP_MS);
      } else if (attempt >= PATIENT_SPINS) yieldCpu();
      const r = this.attempt(seg, visitor);
      if (r === Visit.Found) return ReadResult.Found;
      if (r === Visit.Absent) return ReadResult.Absent;
      if (r === Visit.Torn && ++torn >= MAX_TORN) return ReadResult.Corrupt;
    }
  }
}
