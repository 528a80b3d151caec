/**
 * The table's operations, as server threads run them for requests (and the
 * benchmarks and tests, directly): set, compare-and-set, reads under the
 * segment lock, delete, expire, counters, clear, and the seed's u32
 * operations. Each takes the key's segment lock, and stores what readers
 * can see only inside the segment's odd version (segments.ts, SEQLOCK).
 */
import { NO_MEMORY } from './alloc';
import { hashBytes, U32_KEY_BYTES, writeU32Key } from './keys';
import { Upkeep } from './upkeep';
import {
  D_ENTRIES,
  ENTRY_EXPIRES,
  ENTRY_HEADER_BYTES,
  ENTRY_KEY_LEN,
  ENTRY_TAG,
  ENTRY_VALUE_LEN,
  INDEX_SLOT_BYTES,
  SEG_CAPACITY,
  SEG_COUNT,
  SEG_INDEX,
  SEG_VERSION,
  SLOT_ENTRY,
  Stat,
  Status,
  ValueTag,
} from '../layout/layout';

export { TableOptions } from './segments';

export class Table extends Upkeep {
  /** Material of u32 keys, and the bytes of u32 values. */
  private readonly scratch = new Uint8Array(U32_KEY_BYTES);
  /** The value written by the last successful addU32. */
  lastValue = 0;

  // ---- byte keys (material in `src` at [keyOff, keyOff + keyLen)) ----------

  /**
   * Store `valLen` bytes of `valSrc` at `valOff`, tagged `tag`, under the
   * key. Ok, or Full when the heap cannot hold the entry or the index.
   */
  set(src: Uint8Array, keyOff: number, keyLen: number, valSrc: Uint8Array, valOff: number, valLen: number, tag: ValueTag, expires = 0): Status {
    const hash = hashBytes(src, keyOff, keyLen, this.seed);
    const seg = this.segmentOf(hash);
    const lock = this.locks[seg];
    lock.lock();
    try {
      const slot = this.find(seg, hash, src, keyOff, keyLen);
      return this.store(seg, hash, slot, src, keyOff, keyLen, valSrc, valOff, valLen, tag, expires);
    } finally {
      lock.unlock();
    }
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
    const hash = hashBytes(src, keyOff, keyLen, this.seed);
    const seg = this.segmentOf(hash);
    const lock = this.locks[seg];
    lock.lock();
    try {
      const slot = this.liveSlot(seg, this.find(seg, hash, src, keyOff, keyLen));
      if (expTag === 0 ? slot >= 0 : slot < 0 || !this.holds(this.u32[(slot + SLOT_ENTRY) >>> 2], expTag, src, expOff, expLen))
        return Status.Mismatch;
      if (del) {
        if (slot >= 0) {
          this.removeEntry(seg, slot);
          this.stats[Stat.Deletes]++;
        }
        return Status.Ok;
      }
      return this.store(seg, hash, slot, src, keyOff, keyLen, src, valOff, valLen, tag, expires);
    } finally {
      lock.unlock();
    }
  }

  /** Whether entry `e` holds a value of tag `tag` and these bytes. */
  private holds(e: number, tag: number, src: Uint8Array, off: number, len: number): boolean {
    if (this.u8[e + ENTRY_TAG] !== tag || this.u32[(e + ENTRY_VALUE_LEN) >>> 2] !== len) return false;
    const at = e + ENTRY_HEADER_BYTES + this.u32[(e + ENTRY_KEY_LEN) >>> 2];
    for (let i = 0; i < len; i++) if (this.u8[at + i] !== src[off + i]) return false;
    return true;
  }

  /**
   * Run `use` on the entry of the key while its segment is locked (so the
   * entry can be neither changed nor freed meanwhile); returns what `use`
   * returns, or Status.NotFound.
   */
  withEntry(src: Uint8Array, keyOff: number, keyLen: number, use: (entry: number) => Status): Status {
    const hash = hashBytes(src, keyOff, keyLen, this.seed);
    const seg = this.segmentOf(hash);
    const lock = this.locks[seg];
    lock.lock();
    try {
      const slot = this.liveSlot(seg, this.find(seg, hash, src, keyOff, keyLen));
      this.stats[Stat.ServerReads]++;
      return slot < 0 ? Status.NotFound : use(this.u32[(slot + SLOT_ENTRY) >>> 2]);
    } finally {
      lock.unlock();
    }
  }

  /** Remove the key: Ok, or NotFound. */
  delete(src: Uint8Array, keyOff: number, keyLen: number): Status {
    const hash = hashBytes(src, keyOff, keyLen, this.seed);
    const seg = this.segmentOf(hash);
    const lock = this.locks[seg];
    lock.lock();
    try {
      const slot = this.liveSlot(seg, this.find(seg, hash, src, keyOff, keyLen));
      if (slot < 0) return Status.NotFound;
      this.removeEntry(seg, slot);
      this.stats[Stat.Deletes]++;
      return Status.Ok;
    } finally {
      lock.unlock();
    }
  }

  /** Set the key's deadline (0 = never): Ok, or NotFound (absent or expired). */
  expire(src: Uint8Array, keyOff: number, keyLen: number, expires: number): Status {
    const hash = hashBytes(src, keyOff, keyLen, this.seed);
    const seg = this.segmentOf(hash);
    const lock = this.locks[seg];
    lock.lock();
    try {
      const slot = this.liveSlot(seg, this.find(seg, hash, src, keyOff, keyLen));
      if (slot < 0) return Status.NotFound;
      const e = this.u32[(slot + SLOT_ENTRY) >>> 2];
      const ver = this.dir(seg) + (SEG_VERSION >>> 2);
      const v = Atomics.load(this.i32, ver);
      Atomics.store(this.i32, ver, v + 1);
      this.dv.setFloat64(e + ENTRY_EXPIRES, expires, true);
      Atomics.store(this.i32, ver, v + 2);
      return Status.Ok;
    } finally {
      lock.unlock();
    }
  }

  /**
   * Add `delta` to the integer under the key (absent counts as 0; its
   * deadline stays): Ok with the sum in lastNumber, WrongType when the
   * value is not an integer number, Overflow past Number.MAX_SAFE_INTEGER,
   * or Full.
   */
  addNumber(src: Uint8Array, keyOff: number, keyLen: number, delta: number): Status {
    const hash = hashBytes(src, keyOff, keyLen, this.seed);
    const seg = this.segmentOf(hash);
    const lock = this.locks[seg];
    lock.lock();
    try {
      const slot = this.liveSlot(seg, this.find(seg, hash, src, keyOff, keyLen));
      let cur = 0;
      let expires = 0;
      if (slot >= 0) {
        const e = this.u32[(slot + SLOT_ENTRY) >>> 2];
        const at = e + ENTRY_HEADER_BYTES + keyLen;
        const tag = this.u8[e + ENTRY_TAG];
        if (tag === ValueTag.U32) cur = this.dv.getUint32(at, true);
        else if (tag === ValueTag.F64) cur = this.dv.getFloat64(at, true);
        else return Status.WrongType;
        if (!Number.isInteger(cur)) return Status.WrongType;
        expires = this.dv.getFloat64(e + ENTRY_EXPIRES, true);
      }
      const next = cur + delta;
      if (!Number.isSafeInteger(next)) return Status.Overflow;
      const v = this.numberScratch;
      let tag = ValueTag.F64;
      let len = 8;
      if (next >= 0 && next <= 0xffffffff) {
        new DataView(v.buffer).setUint32(0, next, true);
        tag = ValueTag.U32;
        len = 4;
      } else new DataView(v.buffer).setFloat64(0, next, true);
      const status = this.store(seg, hash, slot, src, keyOff, keyLen, v, 0, len, tag, expires);
      if (status === Status.Ok) this.lastNumber = next;
      return status;
    } finally {
      lock.unlock();
    }
  }
  private readonly numberScratch = new Uint8Array(8);
  /** The sum of the last successful addNumber on this thread's view. */
  lastNumber = 0;

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
        for (let i = 0; i < cap; i++) {
          const e = this.u32[(index >>> 2) + 2 * i + 1];
          if (e !== 0) entries.push(e);
        }
        const ver = d + (SEG_VERSION >>> 2);
        const v = Atomics.load(this.i32, ver);
        Atomics.store(this.i32, ver, v + 1);
        this.u8.fill(0, index, index + cap * INDEX_SLOT_BYTES);
        this.u32[d + (SEG_COUNT >>> 2)] = 0;
        Atomics.store(this.i32, ver, v + 2);
        for (const e of entries) this.alloc.free(e);
        Atomics.sub(this.u32, D_ENTRIES >>> 2, entries.length);
        this.stats[Stat.Deletes] += entries.length;
        removed += entries.length;
      } finally {
        lock.unlock();
      }
    }
    return removed;
  }

  // ---- u32 keys and values (the seed's operations) --------------------------

  /** The u32 value under u32 `key`; Ok, NotFound, or WrongType. */
  getU32(key: number): Status {
    writeU32Key(this.scratch, 0, key);
    return this.withEntry(this.scratch, 0, U32_KEY_BYTES, (e) => {
      if (this.u8[e + ENTRY_TAG] !== ValueTag.U32) return Status.WrongType;
      this.lastValue = this.dv.getUint32(e + ENTRY_HEADER_BYTES + U32_KEY_BYTES, true);
      return Status.Ok;
    });
  }

  putU32(key: number, value: number): Status {
    writeU32Key(this.scratch, 0, key);
    this.u32Bytes(value);
    return this.set(this.scratch, 0, U32_KEY_BYTES, this.valueScratch, 0, 4, ValueTag.U32);
  }

  /** The little-endian bytes of a u32 value, in valueScratch. */
  private u32Bytes(value: number): void {
    const v = this.valueScratch;
    v[0] = value & 0xff;
    v[1] = (value >>> 8) & 0xff;
    v[2] = (value >>> 16) & 0xff;
    v[3] = (value >>> 24) & 0xff;
  }
  private readonly valueScratch = new Uint8Array(4);

  /**
   * Add `delta` modulo 2^32 to the u32 value under `key` (absent counts as
   * 0), atomically with respect to every other operation on the key. Ok
   * with the new value in lastValue, Full, or WrongType.
   */
  addU32(key: number, delta: number): Status {
    writeU32Key(this.scratch, 0, key);
    const hash = hashBytes(this.scratch, 0, U32_KEY_BYTES, this.seed);
    const seg = this.segmentOf(hash);
    const lock = this.locks[seg];
    lock.lock();
    try {
      const slot = this.liveSlot(seg, this.find(seg, hash, this.scratch, 0, U32_KEY_BYTES));
      if (slot >= 0) {
        const e = this.u32[(slot + SLOT_ENTRY) >>> 2];
        if (this.u8[e + ENTRY_TAG] !== ValueTag.U32) return Status.WrongType;
        const at = e + ENTRY_HEADER_BYTES + U32_KEY_BYTES;
        const next = (this.dv.getUint32(at, true) + delta) >>> 0;
        const ver = this.dir(seg) + (SEG_VERSION >>> 2);
        const v = Atomics.load(this.i32, ver);
        Atomics.store(this.i32, ver, v + 1);
        this.dv.setUint32(at, next, true);
        Atomics.store(this.i32, ver, v + 2);
        this.lastValue = next;
        return Status.Ok;
      }
    } finally {
      lock.unlock();
    }
    // Absent: an insert of `delta`. Another thread may insert the key
    // between the two lock holds, so retry the add under set()'s rules.
    const status = this.putU32IfAbsent(key, delta);
    if (status === Status.NotFound) return this.addU32(key, delta);
    if (status === Status.Ok) this.lastValue = delta >>> 0;
    return status;
  }

  /** Insert u32 `value` unless the key exists (then NotFound). */
  private putU32IfAbsent(key: number, value: number): Status {
    this.u32Bytes(value);
    const v = this.valueScratch;
    writeU32Key(this.scratch, 0, key);
    const hash = hashBytes(this.scratch, 0, U32_KEY_BYTES, this.seed);
    const seg = this.segmentOf(hash);
    const lock = this.locks[seg];
    lock.lock();
    try {
      if (this.liveSlot(seg, this.find(seg, hash, this.scratch, 0, U32_KEY_BYTES)) >= 0) return Status.NotFound;
      const entry = this.newEntry(hash, this.scratch, 0, U32_KEY_BYTES, v, 0, 4, ValueTag.U32, 0);
      if (entry === NO_MEMORY) return Status.Full;
      if (!this.roomFor(seg)) {
        this.alloc.free(entry);
        return Status.Full;
      }
      this.insert(seg, hash, entry);
      return Status.Ok;
    } finally {
      lock.unlock();
    }
  }

}
