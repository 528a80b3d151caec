/**
 * The table's operations, as server threads run them for requests (and the
 * benchmarks and tests, directly): set, compare-and-set, reads under the
 * segment lock, delete, expire, counters, clear, and the seed's u32
 * operations. Each takes the key's segment lock, and stores what readers
 * can see only inside the segment's odd version (segments.ts, SEQLOCK).
 */
import { hashBytes, hashU32Key, U32_KEY_BYTES, writeU32Key } from './keys';
import { Upkeep } from './upkeep';
import {
  D_ENTRIES,
  ENTRY_EXPIRES,
  ENTRY_HEADER_BYTES,
  ENTRY_INLINE,
  ENTRY_KEY_LEN,
  ENTRY_TAG,
  ENTRY_VALUE_LEN,
  INDEX_SLOT_BYTES,
  INDEX_SLOT_WORDS,
  SEG_CAPACITY,
  SEG_COUNT,
  SEG_INDEX,
  SEG_VERSION,
  SLOT_ENTRY,
  SLOT_HASH,
  SLOT_KEY,
  SLOT_VALUE,
  Stat,
  Status,
  ValueTag,
} from '../layout/layout';

export { TableOptions } from './segments';

/** peekU32: the lock-free look was not conclusive. */
const PEEK_SLOW = -1;

export class Table extends Upkeep {
  /** Material of u32 keys, and the bytes of u32 or number values. */
  private readonly scratch = new Uint8Array(U32_KEY_BYTES);
  private readonly valueScratch = new Uint8Array(8);
  private readonly valueView = new DataView(this.valueScratch.buffer);
  /** The value written by the last successful addU32. */
  lastValue = 0;
  /** The sum of the last successful addNumber. */
  lastNumber = 0;

  /**
   * Run `body` with the key's segment locked, given the segment, the hash
   * and the key's index slot (-1 when absent; an expired entry is
   * reclaimed first unless `raw`): every operation below is a body.
   */
  private atKey(src: Uint8Array, keyOff: number, keyLen: number, body: (seg: number, hash: number, slot: number) => Status, raw = false): Status {
    const hash = hashBytes(src, keyOff, keyLen, this.seed);
    const seg = this.segmentOf(hash);
    const lock = this.locks[seg];
    lock.lock();
    try {
      const slot = this.find(seg, hash, src, keyOff, keyLen);
      return body(seg, hash, raw ? slot : this.liveSlot(seg, slot));
    } finally {
      lock.unlock();
    }
  }

  // ---- byte keys (material in `src` at [keyOff, keyOff + keyLen)) ----------

  /**
   * Store `valLen` bytes of `valSrc` at `valOff`, tagged `tag`, under the
   * key. Ok, or Full when the heap cannot hold the entry or the index.
   */
  set(src: Uint8Array, keyOff: number, keyLen: number, valSrc: Uint8Array, valOff: number, valLen: number, tag: ValueTag, expires = 0): Status {
    // raw: an expired entry is simply overwritten.
    return this.atKey(src, keyOff, keyLen, (seg, hash, slot) => this.store(seg, hash, slot, src, keyOff, keyLen, valSrc, valOff, valLen, tag, expires), true);
  }

  /**
   * Store the new value (or delete the key, `del`) only if the key holds
   * the expected value: tag `expTag` and bytes src[expOff, expOff+expLen),
   * or is absent when expTag is 0. Ok, Mismatch, or Full.
   */
  compareSet(
    src: Uint8Array,
    keyOff: number,
    keyLen: number,
    expTag: number,
    expOff: number,
    expLen: number,
    valOff: number,
    valLen: number,
    tag: ValueTag,
    expires: number,
    del: boolean,
  ): Status {
    return this.atKey(src, keyOff, keyLen, (seg, hash, slot) => {
      if (expTag === 0 ? slot >= 0 : slot < 0 || !this.holds(slot, expTag, src, expOff, expLen))
        return Status.Mismatch;
      if (!del) return this.store(seg, hash, slot, src, keyOff, keyLen, src, valOff, valLen, tag, expires);
      if (slot >= 0) {
        this.removeEntry(seg, slot);
        this.stats[Stat.Deletes]++;
      }
      return Status.Ok;
    });
  }

  /** Whether the key in `slot` holds a value of tag `tag` and these bytes. */
  private holds(slot: number, tag: number, src: Uint8Array, off: number, len: number): boolean {
    return this.valueAt(slot, (t, at, n) => {
      if (t !== tag || n !== len) return false;
      for (let i = 0; i < len; i++) if (this.u8[at + i] !== src[off + i]) return false;
      return true;
    });
  }

  /** `use` of the value in `slot`: its tag, offset and length (an inline slot's included). */
  private valueAt<T>(slot: number, use: (tag: ValueTag, at: number, len: number) => T): T {
    const e = this.u32[(slot + SLOT_ENTRY) >>> 2];
    if (e === ENTRY_INLINE) return use(ValueTag.U32, slot + SLOT_VALUE, 4);
    return use(this.u8[e + ENTRY_TAG], e + ENTRY_HEADER_BYTES + this.u32[(e + ENTRY_KEY_LEN) >>> 2], this.u32[(e + ENTRY_VALUE_LEN) >>> 2]);
  }

  /**
   * Run `use` on the value of the key (its tag, offset and length) while
   * its segment is locked, so that it can be neither changed nor freed
   * meanwhile; returns what `use` returns, or Status.NotFound.
   */
  withValue(src: Uint8Array, keyOff: number, keyLen: number, use: (tag: ValueTag, at: number, len: number) => Status): Status {
    this.stats[Stat.ServerReads]++;
    return this.atKey(src, keyOff, keyLen, (_seg, _hash, slot) => (slot < 0 ? Status.NotFound : this.valueAt(slot, use)));
  }

  /** Remove the key: Ok, or NotFound. */
  delete(src: Uint8Array, keyOff: number, keyLen: number): Status {
    return this.atKey(src, keyOff, keyLen, (seg, _hash, slot) => {
      if (slot < 0) return Status.NotFound;
      this.removeEntry(seg, slot);
      this.stats[Stat.Deletes]++;
      return Status.Ok;
    });
  }

  /** Set the key's deadline (0 = never): Ok, or NotFound (absent or expired). */
  expire(src: Uint8Array, keyOff: number, keyLen: number, expires: number): Status {
    return this.atKey(src, keyOff, keyLen, (seg, hash, slot) => {
      if (slot < 0) return Status.NotFound;
      const e = this.u32[(slot + SLOT_ENTRY) >>> 2];
      if (e === ENTRY_INLINE) {
        // A deadline moves the value to a heap entry (store() decides; none keeps it inline).
        this.valueView.setUint32(0, this.u32[(slot + SLOT_VALUE) >>> 2], true);
        return this.store(seg, hash, slot, src, keyOff, keyLen, this.valueScratch, 0, 4, ValueTag.U32, expires);
      }
      const v = this.beginWrite(seg);
      this.dv.setFloat64(e + ENTRY_EXPIRES, expires, true);
      this.endWrite(seg, v);
      return Status.Ok;
    });
  }

  /**
   * Add `delta` to the integer under the key (absent counts as 0; its
   * deadline stays): Ok with the sum in lastNumber, WrongType when the
   * value is not an integer number, Overflow past Number.MAX_SAFE_INTEGER,
   * or Full.
   */
  addNumber(src: Uint8Array, keyOff: number, keyLen: number, delta: number): Status {
    return this.atKey(src, keyOff, keyLen, (seg, hash, slot) => {
      let cur = 0;
      let expires = 0;
      if (slot >= 0) {
        const e = this.u32[(slot + SLOT_ENTRY) >>> 2];
        cur = this.valueAt(slot, (tag, at) => (tag === ValueTag.U32 ? this.dv.getUint32(at, true) : tag === ValueTag.F64 ? this.dv.getFloat64(at, true) : NaN));
        if (!Number.isInteger(cur)) return Status.WrongType;
        expires = e === ENTRY_INLINE ? 0 : this.dv.getFloat64(e + ENTRY_EXPIRES, true);
      }
      const next = cur + delta;
      if (!Number.isSafeInteger(next)) return Status.Overflow;
      const u32 = next >= 0 && next <= 0xffffffff;
      if (u32) this.valueView.setUint32(0, next, true);
      else this.valueView.setFloat64(0, next, true);
      const status = this.store(seg, hash, slot, src, keyOff, keyLen, this.valueScratch, 0, u32 ? 4 : 8, u32 ? ValueTag.U32 : ValueTag.F64, expires);
      if (status === Status.Ok) this.lastNumber = next;
      return status;
    });
  }

  /**
   * Remove every entry, one segment at a time under its lock (each
   * segment's emptying is atomic for readers; the whole clear is not: a
   * write to a segment already cleared survives it). Indexes keep their
   * capacity. Returns how many entries were removed.
   */
  clear(): number {
    let removed = 0;
    for (let seg = 0; seg < 2 ** this.segBits; seg++) {
      const lock = this.locks[seg];
      lock.lock();
      try {
        const d = this.dir(seg);
        const cap = this.u32[d + (SEG_CAPACITY >>> 2)];
        const index = this.u32[d + (SEG_INDEX >>> 2)];
        const entries: number[] = [];
        let count = 0;
        for (let i = 0; i < cap; i++) {
          const e = this.u32[(index >>> 2) + INDEX_SLOT_WORDS * i + (SLOT_ENTRY >>> 2)];
          if (e !== 0) count++;
          if (e !== 0 && e !== ENTRY_INLINE) entries.push(e);
        }
        const v = this.beginWrite(seg);
        this.u8.fill(0, index, index + cap * INDEX_SLOT_BYTES);
        this.u32[d + (SEG_COUNT >>> 2)] = 0;
        this.endWrite(seg, v);
        for (const e of entries) this.alloc.free(e);
        Atomics.sub(this.u32, D_ENTRIES >>> 2, count);
        this.stats[Stat.Deletes] += count;
        removed += count;
      } finally {
        lock.unlock();
      }
    }
    return removed;
  }

  // ---- u32 keys and values (the seed's operations) --------------------------

  // The seed's replay runs getU32/putU32 once per request: they are written
  // out, without atKey's closures, and hash the key without writing it
  // first (find still compares material, in `scratch`).

  /** The u32 value under u32 `key` (in lastValue); Ok, NotFound, or WrongType. */
  getU32(key: number): Status {
    const hash = hashU32Key(key, this.seed);
    const seg = this.segmentOf(hash);
    this.stats[Stat.ServerReads]++;
    const quick = this.peekU32(seg, hash, key);
    if (quick !== PEEK_SLOW) return quick;
    writeU32Key(this.scratch, 0, key);
    const lock = this.locks[seg];
    let status: Status = Status.NotFound;
    lock.lock();
    try {
      const slot = this.liveSlot(seg, this.find(seg, hash, this.scratch, 0, U32_KEY_BYTES));
      if (slot >= 0) {
        // A u32 value without deadline is inline; one with a deadline is in the heap.
        const e = this.u32[(slot + SLOT_ENTRY) >>> 2];
        if (e === ENTRY_INLINE) {
          this.lastValue = this.u32[(slot + SLOT_VALUE) >>> 2];
          status = Status.Ok;
        } else if (this.u8[e + ENTRY_TAG] !== ValueTag.U32) status = Status.WrongType;
        else {
          this.lastValue = this.dv.getUint32(e + ENTRY_HEADER_BYTES + U32_KEY_BYTES, true);
          status = Status.Ok;
        }
      }
    } finally {
      lock.unlock();
    }
    return status;
  }

  /**
   * getU32 without the lock, for the common case: a seqlock read (as
   * table-reader.ts does it, same invariant: segments.ts, SEQLOCK) that
   * answers when it finds the key inline in its slot (Ok, the value in
   * lastValue) or finds it absent (NotFound). Anything else (a heap entry
   * whose hash matches: maybe expired or not a u32; a writer inside; a
   * segment that makes no sense) is PEEK_SLOW: take the lock. Saves the
   * lock's CAS and release on every seed get. Bounded by the capacity;
   * every offset is checked before use, since words may be torn.
   */
  private peekU32(seg: number, hash: number, key: number): number {
    const u32 = this.u32;
    const d = this.dir(seg);
    const ver = d + (SEG_VERSION >>> 2);
    const v1 = Atomics.load(this.i32, ver);
    if ((v1 & 1) !== 0) return PEEK_SLOW;
    const cap = u32[d + (SEG_CAPACITY >>> 2)];
    const index = u32[d + (SEG_INDEX >>> 2)];
    if (cap === 0 || (cap & (cap - 1)) !== 0 || index < this.heapStart || index + cap * INDEX_SLOT_BYTES > this.heapEnd) return PEEK_SLOW;
    const mask = cap - 1;
    let status = PEEK_SLOW;
    let value = 0;
    for (let n = 0, i = hash & mask; n < cap; n++, i = (i + 1) & mask) {
      const s = (index >>> 2) + INDEX_SLOT_WORDS * i;
      const e = u32[s + (SLOT_ENTRY >>> 2)];
      if (e === 0) {
        status = Status.NotFound;
        break;
      }
      if (u32[s + (SLOT_HASH >>> 2)] !== hash) continue;
      if (e !== ENTRY_INLINE) break;
      if (u32[s + (SLOT_KEY >>> 2)] === key) {
        value = u32[s + (SLOT_VALUE >>> 2)];
        status = Status.Ok;
        break;
      }
    }
    if (Atomics.load(this.i32, ver) !== v1) return PEEK_SLOW;
    if (status === Status.Ok) this.lastValue = value;
    return status;
  }

  /** Store u32 `value` under u32 `key` (no deadline): Ok, or Full. */
  putU32(key: number, value: number): Status {
    writeU32Key(this.scratch, 0, key);
    const hash = hashU32Key(key, this.seed);
    const seg = this.segmentOf(hash);
    const lock = this.locks[seg];
    lock.lock();
    try {
      const slot = this.find(seg, hash, this.scratch, 0, U32_KEY_BYTES);
      if (slot >= 0 && this.u32[(slot + SLOT_ENTRY) >>> 2] === ENTRY_INLINE) {
        // In place: what store() would do.
        const v = this.beginWrite(seg);
        this.u32[(slot + SLOT_VALUE) >>> 2] = value;
        this.endWrite(seg, v);
        this.stats[Stat.Sets]++;
        return Status.Ok;
      }
      this.valueView.setUint32(0, value, true);
      return this.store(seg, hash, slot, this.scratch, 0, U32_KEY_BYTES, this.valueScratch, 0, 4, ValueTag.U32, 0);
    } finally {
      lock.unlock();
    }
  }

  /**
   * Add `delta` modulo 2^32 to the u32 value under `key` (absent counts as
   * 0), atomically with respect to every other operation on the key. Ok
   * with the new value in lastValue, Full, or WrongType.
   */
  addU32(key: number, delta: number): Status {
    writeU32Key(this.scratch, 0, key);
    return this.atKey(this.scratch, 0, U32_KEY_BYTES, (seg, hash, slot) => {
      if (slot < 0) {
        this.valueView.setUint32(0, delta, true);
        const status = this.store(seg, hash, slot, this.scratch, 0, U32_KEY_BYTES, this.valueScratch, 0, 4, ValueTag.U32, 0);
        if (status === Status.Ok) this.lastValue = delta >>> 0;
        return status;
      }
      const at = this.valueAt(slot, (tag, at) => (tag === ValueTag.U32 ? at : -1));
      if (at < 0) return Status.WrongType;
      const next = (this.dv.getUint32(at, true) + delta) >>> 0;
      const v = this.beginWrite(seg);
      this.dv.setUint32(at, next, true);
      this.endWrite(seg, v);
      this.stats[Stat.Sets]++;
      this.lastValue = next;
      return Status.Ok;
    });
  }
}
