/**
 * The table's operations, as server threads run them for requests (and the
 * benchmarks and tests, directly): set, compare-and-set, reads under the
 * segment lock, delete, expire, counters, clear, and the u32 operations.
 * Each takes the key's segment lock and stores what readers can see only
 * inside the segment's odd version (segments.ts, SEQLOCK), copy on write.
 *
 * A Table composes the structure (Segments), the sweeper (expiry), the
 * eviction policy the data file names (S3-FIFO, s3fifo.ts, or CLOCK,
 * evictor.ts) and the repair of forged chunks (repair.ts). At the memory
 * cap a write that needs room makes some (evictor) and tries again, a
 * bounded number of rounds, holding no lock meanwhile; only then does it
 * answer Full. The u32 get tries a lock-free seqlock read first
 * (u32-peek.ts).
 */
import { hashBytes, hashU32Key, U32_KEY_BYTES, writeU32Key } from './keys';
import { Segments, TableParts } from './segments';
import { clearSegment } from './index-slots';
import { Sweeper } from './sweeper';
import { ClockEvictor, Evictor } from './evictor';
import { S3Fifo } from './s3fifo';
import { BUSY, Visit } from './seqlock';
import { sumStat } from './counters';
import { repairSuspects } from './repair';
import { U32Peek } from './u32-peek';
import { Status } from '../layout/board';
import { Eviction, Stat } from '../layout/data-meta';
import { ENTRY_EXPIRES, ENTRY_HEADER_BYTES, ENTRY_INLINE, ENTRY_KEY_LEN, ENTRY_TAG, ENTRY_VALUE_LEN, entryBytes, IX_ENTRY, IX_VALUE } from '../layout/heap';
import { KeyKind, ValueTag } from '../layout/keys-values';

export { TableParts } from './segments';

/** Rounds of eviction one write may trigger before it answers Full. */
const EVICT_ROUNDS = 8;
/** Evict this much beyond the write's own size: fewer, larger rounds. */
const EVICT_SLACK_BYTES = 4096;
const U32_ENTRY_BYTES = entryBytes(U32_KEY_BYTES, 4);

/** addNumber's result. */
export interface NumberResult {
  status: Status;
  /** The sum, when status is Ok. */
  value: number;
}

export class Table {
  readonly segs: Segments;
  readonly sweeper: Sweeper;
  readonly evictor: Evictor;
  /** Material of u32 keys, and the bytes of u32 or number values. */
  private readonly scratch = new Uint8Array(U32_KEY_BYTES);
  private readonly valueScratch = new Uint8Array(8);
  private readonly valueView = new DataView(this.valueScratch.buffer);
  private readonly peek = new U32Peek();

  constructor(parts: TableParts, statsLine?: number, coarse = false) {
    this.segs = new Segments(parts, statsLine, coarse);
    this.sweeper = new Sweeper(this.segs);
    this.evictor = parts.header.eviction === Eviction.S3Fifo ? new S3Fifo(this.segs, parts.priv) : new ClockEvictor(this.segs);
    this.segs.policy = this.evictor;
  }

  get stats(): Float64Array {
    return this.segs.stats;
  }

  get seed(): number {
    return this.segs.seed;
  }

  get maxKeyBytes(): number {
    return this.segs.maxKeyBytes;
  }

  get maxValueBytes(): number {
    return this.segs.maxValueBytes;
  }

  /**
   * Run `body` with the key's segment locked, given the segment, the hash
   * and the key's index slot (-1 when absent; an expired entry is reclaimed
   * first unless `raw`); at the cap, evict and run it again (roomy()).
   */
  private atKey(src: Uint8Array, keyOff: number, keyLen: number, need: number, body: (seg: number, hash: number, slot: number) => Status, raw = false): Status {
    const hash = hashBytes(src, keyOff, keyLen, this.segs.seed);
    const seg = this.segs.segmentOf(hash);
    return this.roomy(seg, need, () => {
      const lock = this.segs.locks[seg];
      lock.lock();
      try {
        const slot = this.segs.find(seg, hash, src, keyOff, keyLen);
        return body(seg, hash, raw ? slot : this.segs.liveSlot(seg, slot));
      } finally {
        lock.unlock();
      }
    });
  }

  /**
   * Run `op`; when it answers Full and the table evicts, make room for
   * about `bytes` in the segment's chunk (doubling each round: freed blocks
   * need not be adjacent) and run it again, a bounded number of times.
   * `op` must have changed nothing when it answered Full.
   */
  private roomy(seg: number, bytes: number, op: () => Status): Status {
    let status = op();
    let want = Math.max(bytes, 0) + EVICT_SLACK_BYTES;
    for (let round = 0; status === Status.Full && this.segs.evicts && round < EVICT_ROUNDS; round++) {
      if (this.evictor.evict(seg, want) === 0) break;
      want *= 2;
      status = op();
    }
    if (status === Status.Full) this.segs.stats[Stat.Refused]++;
    return status;
  }

  // ---- byte keys (material in `src` at [keyOff, keyOff + keyLen)) ----------

  /** Store `valLen` bytes of `valSrc` at `valOff`, tagged `tag`: Ok, or Full. */
  set(src: Uint8Array, keyOff: number, keyLen: number, valSrc: Uint8Array, valOff: number, valLen: number, tag: ValueTag, expires = 0): Status {
    // raw: an expired entry is simply replaced.
    return this.atKey(src, keyOff, keyLen, entryBytes(keyLen, valLen), (seg, hash, slot) => this.segs.store(seg, hash, slot, src, keyOff, keyLen, valSrc, valOff, valLen, tag, expires), true);
  }

  /**
   * Store the new value (or delete the key, `del`) only if the key holds
   * the expected value: tag `expTag` and bytes src[expOff, expOff+expLen),
   * or is absent when expTag is 0. Ok, Mismatch, or Full.
   */
  compareSet(src: Uint8Array, keyOff: number, keyLen: number, expTag: number, expOff: number, expLen: number, valOff: number, valLen: number, tag: ValueTag, expires: number, del: boolean): Status {
    return this.atKey(src, keyOff, keyLen, entryBytes(keyLen, valLen), (seg, hash, slot) => {
      if (expTag === 0 ? slot >= 0 : slot < 0 || !this.holds(seg, slot, expTag, src, expOff, expLen)) return Status.Mismatch;
      if (!del) return this.segs.store(seg, hash, slot, src, keyOff, keyLen, src, valOff, valLen, tag, expires);
      if (slot >= 0) {
        this.segs.removeEntry(seg, slot);
        this.segs.stats[Stat.Deletes]++;
      }
      return Status.Ok;
    });
  }

  /** Whether the key in `slot` holds a value of tag `tag` and these bytes. */
  private holds(seg: number, slot: number, tag: number, src: Uint8Array, off: number, len: number): boolean {
    const u8 = this.segs.chunkOf(seg).u8;
    return this.valueAt(seg, slot, (t, at, n) => {
      if (t !== tag || n !== len) return false;
      for (let i = 0; i < len; i++) if (u8[at + i] !== src[off + i]) return false;
      return true;
    });
  }

  /**
   * `use` of the value in `slot`: its tag, offset (in the chunk) and length
   * (an inline slot's included), checked against the heap with the very
   * lengths read (a forged length throws TableCorruptError, never reaches
   * an array).
   */
  private valueAt<T>(seg: number, slot: number, use: (tag: ValueTag, at: number, len: number) => T): T {
    const ch = this.segs.chunkOf(seg);
    const e = ch.u32[(slot + IX_ENTRY) >>> 2];
    if (e === ENTRY_INLINE) return use(ValueTag.U32, slot + IX_VALUE, 4);
    const at = e + ENTRY_HEADER_BYTES + (ch.u32[(e + ENTRY_KEY_LEN) >>> 2] & 0xffff);
    const len = ch.u32[(e + ENTRY_VALUE_LEN) >>> 2];
    const tag = ch.u8[e + ENTRY_TAG];
    if (!ch.fits(at, len) || ((tag === ValueTag.U32 || tag === ValueTag.F64) && len !== (tag === ValueTag.U32 ? 4 : 8))) throw this.segs.corrupt(seg, `entry ${e} of segment ${seg} runs past its heap`);
    return use(tag, at, len);
  }

  /**
   * Run `use` on the value of the key (its chunk, tag, offset and length)
   * while its segment is locked, so that it can be neither changed nor
   * freed meanwhile; returns what `use` returns, or Status.NotFound.
   */
  withValue(src: Uint8Array, keyOff: number, keyLen: number, use: (from: Uint8Array, tag: ValueTag, at: number, len: number) => Status): Status {
    this.segs.stats[Stat.ServerReads]++;
    return this.atKey(src, keyOff, keyLen, 0, (seg, _hash, slot) => (slot < 0 ? Status.NotFound : this.valueAt(seg, slot, (tag, at, len) => use(this.segs.chunkOf(seg).u8, tag, at, len))));
  }

  /**
   * Remove the key: Ok, or NotFound. A fetch() placeholder or failure mark
   * (ValueTag.Lease, Failed: every read takes them as absent) is removed
   * too, which is what makes a delete during a load win (client/fetch.ts),
   * but answers NotFound: it held no value.
   */
  delete(src: Uint8Array, keyOff: number, keyLen: number): Status {
    return this.atKey(src, keyOff, keyLen, 0, (seg, _hash, slot) => {
      if (slot < 0) return Status.NotFound;
      const value = this.valueAt(seg, slot, (tag) => tag !== ValueTag.Lease && tag !== ValueTag.Failed);
      this.segs.removeEntry(seg, slot);
      if (!value) return Status.NotFound;
      this.segs.stats[Stat.Deletes]++;
      return Status.Ok;
    });
  }

  /**
   * Set the key's deadline (0 = never): Ok, or NotFound (absent or
   * expired), or Full. Copy on write: the value moves to a new entry (an
   * inline u32 with a deadline moves to the heap).
   */
  expire(src: Uint8Array, keyOff: number, keyLen: number, expires: number): Status {
    return this.atKey(src, keyOff, keyLen, entryBytes(keyLen, 8), (seg, hash, slot) => {
      if (slot < 0) return Status.NotFound;
      const ch = this.segs.chunkOf(seg);
      const e = ch.u32[(slot + IX_ENTRY) >>> 2];
      if (e === ENTRY_INLINE) {
        this.valueView.setUint32(0, ch.u32[(slot + IX_VALUE) >>> 2], true);
        return this.segs.store(seg, hash, slot, src, keyOff, keyLen, this.valueScratch, 0, 4, ValueTag.U32, expires);
      }
      if (ch.dv.getFloat64(e + ENTRY_EXPIRES, true) === expires) return Status.Ok;
      return this.valueAt(seg, slot, (tag, at, len) => this.segs.store(seg, hash, slot, src, keyOff, keyLen, ch.u8, at, len, tag, expires));
    });
  }

  /**
   * Add `delta` to the integer under the key (absent counts as 0; its
   * deadline stays): Ok with the sum, WrongType when the value is not an
   * integer number, Overflow past Number.MAX_SAFE_INTEGER, or Full.
   */
  addNumber(src: Uint8Array, keyOff: number, keyLen: number, delta: number): NumberResult {
    let value = 0;
    const status = this.atKey(src, keyOff, keyLen, entryBytes(keyLen, 8), (seg, hash, slot) => {
      let cur = 0;
      let expires = 0;
      if (slot >= 0) {
        const ch = this.segs.chunkOf(seg);
        const e = ch.u32[(slot + IX_ENTRY) >>> 2];
        cur = this.valueAt(seg, slot, (tag, at) => (tag === ValueTag.U32 ? ch.dv.getUint32(at, true) : tag === ValueTag.F64 ? ch.dv.getFloat64(at, true) : NaN));
        if (!Number.isInteger(cur)) return Status.WrongType;
        expires = e === ENTRY_INLINE ? 0 : ch.dv.getFloat64(e + ENTRY_EXPIRES, true);
      }
      const next = cur + delta;
      if (!Number.isSafeInteger(next)) return Status.Overflow;
      const u32 = next >= 0 && next <= 0xffffffff;
      if (u32) this.valueView.setUint32(0, next, true);
      else this.valueView.setFloat64(0, next, true);
      const s = this.segs.store(seg, hash, slot, src, keyOff, keyLen, this.valueScratch, 0, u32 ? 4 : 8, u32 ? ValueTag.U32 : ValueTag.F64, expires);
      if (s === Status.Ok) value = next;
      return s;
    });
    return { status, value };
  }

  /**
   * Remove every entry but the library's own (KeyKind.System), one segment
   * at a time under its lock (each segment's emptying is atomic for
   * readers; the whole clear is not: a write to a segment already cleared
   * survives it). Returns how many entries were removed.
   */
  clear(): number {
    let removed = 0;
    for (let seg = 0; seg < this.segs.segments; seg++) {
      const lock = this.segs.locks[seg];
      lock.lock();
      try {
        const n = clearSegment(this.segs, seg, (ch, e) => e !== ENTRY_INLINE && ch.u8[e + ENTRY_HEADER_BYTES] === KeyKind.System);
        this.segs.stats[Stat.Deletes] += n;
        removed += n;
      } finally {
        lock.unlock();
      }
    }
    return removed;
  }

  // ---- u32 keys and values ---------------------------------------------------

  // The u32 replay runs getU32/putU32 once per request: they are written
  // out, without atKey's closures, and hash the key without writing it
  // first (find still compares material, in `scratch`).

  /** The u32 value under u32 `key`, or the negated Status (NotFound, WrongType, Corrupt). */
  getU32(key: number): number {
    const segs = this.segs;
    const hash = hashU32Key(key, segs.seed);
    const seg = segs.segmentOf(hash);
    segs.stats[Stat.ServerReads]++;
    // Without the lock first: a seqlock read that answers when it finds the
    // key inline or absent; anything else (a heap entry, a writer inside,
    // a segment that makes no sense) takes the lock. Saves the lock's CAS
    // and release on every u32 get.
    const peek = this.peek;
    peek.hash = hash;
    peek.key = key;
    const quick = segs.seqlock.attempt(seg, peek);
    if (quick === Visit.Found) return peek.value;
    if (quick === Visit.Absent) return -Status.NotFound;
    if (quick !== BUSY && quick !== Visit.Torn) return -Status.Corrupt;
    writeU32Key(this.scratch, 0, key);
    const lock = segs.locks[seg];
    lock.lock();
    try {
      const slot = segs.liveSlot(seg, segs.find(seg, hash, this.scratch, 0, U32_KEY_BYTES));
      if (slot < 0) return -Status.NotFound;
      // A u32 value without deadline is inline; one with a deadline is in the heap.
      const ch = segs.chunkOf(seg);
      const e = ch.u32[(slot + IX_ENTRY) >>> 2];
      if (e === ENTRY_INLINE) return ch.u32[(slot + IX_VALUE) >>> 2];
      if (ch.u8[e + ENTRY_TAG] !== ValueTag.U32) return -Status.WrongType;
      return ch.dv.getUint32(e + ENTRY_HEADER_BYTES + U32_KEY_BYTES, true);
    } finally {
      lock.unlock();
    }
  }

  /** Store u32 `value` under u32 `key` (no deadline): Ok, or Full. */
  putU32(key: number, value: number): Status {
    const status = this.putU32Once(key, value);
    return status === Status.Full ? this.roomy(this.segs.segmentOf(hashU32Key(key, this.segs.seed)), U32_ENTRY_BYTES, () => this.putU32Once(key, value)) : status;
  }

  private putU32Once(key: number, value: number): Status {
    const segs = this.segs;
    writeU32Key(this.scratch, 0, key);
    const hash = hashU32Key(key, segs.seed);
    const seg = segs.segmentOf(hash);
    const lock = segs.locks[seg];
    lock.lock();
    try {
      const slot = segs.find(seg, hash, this.scratch, 0, U32_KEY_BYTES);
      if (slot >= 0 && segs.chunkOf(seg).u32[(slot + IX_ENTRY) >>> 2] === ENTRY_INLINE) return segs.setInline(seg, slot, value);
      this.valueView.setUint32(0, value, true);
      return segs.store(seg, hash, slot, this.scratch, 0, U32_KEY_BYTES, this.valueScratch, 0, 4, ValueTag.U32, 0);
    } finally {
      lock.unlock();
    }
  }

  /**
   * Add `delta` modulo 2^32 to the u32 value under `key` (absent counts as
   * 0), atomically with respect to every other operation on the key: the
   * new value, or the negated Status (Full, WrongType).
   */
  addU32(key: number, delta: number): number {
    let result = 0;
    writeU32Key(this.scratch, 0, key);
    const status = this.atKey(this.scratch, 0, U32_KEY_BYTES, U32_ENTRY_BYTES, (seg, hash, slot) => {
      let next = delta >>> 0;
      if (slot >= 0) {
        const cur = this.valueAt(seg, slot, (tag, at) => (tag === ValueTag.U32 ? this.segs.chunkOf(seg).dv.getUint32(at, true) : -1));
        if (cur < 0) return Status.WrongType;
        next = (cur + delta) >>> 0;
      }
      // Its deadline stays: store() keeps an entry with one in the heap.
      const ch = this.segs.chunkOf(seg);
      const e = slot >= 0 ? ch.u32[(slot + IX_ENTRY) >>> 2] : ENTRY_INLINE;
      const expires = e === ENTRY_INLINE ? 0 : ch.dv.getFloat64(e + ENTRY_EXPIRES, true);
      this.valueView.setUint32(0, next, true);
      const s = this.segs.store(seg, hash, slot, this.scratch, 0, U32_KEY_BYTES, this.valueScratch, 0, 4, ValueTag.U32, expires);
      if (s === Status.Ok) result = next;
      return s;
    });
    return status === Status.Ok ? result : -status;
  }

  // ---- upkeep ----------------------------------------------------------------

  /** Active expiry: a bounded slice of the index per call (sweeper.ts). */
  sweep(budget: number): number {
    return this.sweeper.sweep(budget);
  }

  /** The eviction policy's upkeep (S3-FIFO: compaction of its queues), at most `budget` items; returns how many. */
  tidy(budget: number): number {
    return this.evictor.tidy(budget);
  }

  /** Rebuild every chunk a writer met forged data in (repair.ts, repairSuspects); one line per chunk for the log. */
  repair(): string[] {
    return repairSuspects(this.segs);
  }

  /** Keys stored, by the counter lines of every server thread. */
  size(): number {
    return sumStat(this.segs.header.stats, Stat.Entries);
  }
}
