/**
 * The table, reader side: any thread of any process that maps the data
 * file looks a key up without a lock and without a server thread.
 *
 * SEQLOCK READ (the writers' side and the invariant are in segments.ts):
 *   v1 = version of the key's segment (seq-cst load); odd: a writer is
 *        inside, try again
 *   probe the index, compare the key, read the value out (plain loads,
 *        every offset and length checked against the mapping first)
 *   v2 = version again (seq-cst load); v1 === v2: nothing changed, the
 *        value read is the one stored at that moment; else try again
 * Ordering: a seq-cst load is an acquire, so the plain loads after v1 read
 * data no older than v1's store; on x86-64 loads are not reordered with
 * other loads and V8 does not move loads across an Atomics operation, so
 * v2 is read after them. Bounded: after MAX_ATTEMPTS the caller falls back
 * to asking the server (which reads under the segment lock).
 *
 * GARBAGE. Racing a writer, a reader may follow a stale offset into memory
 * that now holds anything. Every offset and length is checked before use,
 * so a torn read never indexes out of bounds nor loops past the segment's
 * capacity; it is simply retried. If the version is stable and the data
 * still makes no sense, the memory really is corrupt: CORRUPT.
 *
 * LINEARIZABILITY. A write completes (the server marks the request DONE)
 * after its even version store. A read that starts after that loads a
 * version at least as new, so it sees the write or a later one; the value
 * it returns was stored at the instant of its v2 load.
 */
import { yieldCpu } from '../native/shim';
import { expired, monoNowMs } from './clock';
import { isU32Key, readU32LE, U32_KEY_BYTES, writeU32Key } from './keys';
import {
  CACHE_LINE,
  D_DEFAULT_TTL_MS,
  D_DIRECTORY,
  D_ENTRIES,
  D_HEAP_END,
  D_HEAP_START,
  D_MAX_KEY_BYTES,
  D_MAX_VALUE_BYTES,
  D_SEED,
  D_SEGMENT_BITS,
  D_VISITED,
  ENTRY_EXPIRES,
  ENTRY_HEADER_BYTES,
  ENTRY_INLINE,
  ENTRY_KEY_LEN,
  ENTRY_TAG,
  ENTRY_VALUE_LEN,
  INDEX_SLOT_BYTES,
  INDEX_SLOT_WORDS,
  isFetchMark,
  MAX_INDEX_LOG2,
  SEG_CAPACITY,
  SEG_INDEX,
  SEG_VERSION,
  SEGMENT_BYTES,
  SLOT_ENTRY,
  SLOT_HASH,
  SLOT_KEY,
  SLOT_VALUE,
  ValueTag,
} from '../layout/layout';

export const enum ReadResult {
  Found = 0,
  Absent = 1,
  /** Writers kept changing the segment: ask the server instead. */
  Contended = 2,
  /** The segment is stable and makes no sense. */
  Corrupt = 3,
}
/**
 * Buffer's one-pass Latin-1 decoder without toString's argument handling
 * (an internal method msgpackr and lmdb-js use the same way), else the
 * public path.
 */
type Latin1Slice = (this: Buffer, start: number, end: number) => string;
const latin1Slice: Latin1Slice =
  (Buffer.prototype as unknown as { latin1Slice?: Latin1Slice }).latin1Slice ??
  function (this: Buffer, start: number, end: number): string {
    return this.toString('latin1', start, end);
  };

/** An internal probe outcome: inconsistent data, retry. */
const TORN = 4;

/** Attempts before giving up (Contended); the later ones yield the core. */
const MAX_ATTEMPTS = 256;
const SPIN_ATTEMPTS = 32;

export class TableReader {
  readonly maxKeyBytes: number;
  readonly maxValueBytes: number;
  readonly seed: number;
  /** The server's default time to live (ms, 0 = none). */
  readonly defaultTtlMs: number;
  private readonly u8: Uint8Array;
  private readonly u32: Uint32Array;
  private readonly i32: Int32Array;
  private readonly buf: Buffer;
  private readonly dv: DataView;
  private readonly segBits: number;
  private readonly heapStart: number;
  private readonly heapEnd: number;
  private readonly entries: Int32Array;
  private readonly visited: number;
  /** Offset of the entry the last probe found, and its visited byte then. */
  private entry = 0;
  private marked = 0;
  /** Bytes loaded early only to warm the cache; nothing reads them (public: kept by the compiler). */
  ahead = 0;

  /** Keys stored (expired ones count until the server reclaims them). */
  size(): number {
    return Atomics.load(this.entries, 0);
  }

  /** Number of segments (scan() visits each). */
  get segments(): number {
    return 2 ** this.segBits;
  }

  /**
   * A consistent snapshot of the live keys of segment `seg` (their key
   * material, copied), skipping expired entries and fetch's leases and
   * failure marks; null when writers changed the segment meanwhile (retry)
   * or it makes no sense. Same seqlock argument as read().
   */
  scan(seg: number): Buffer[] | null {
    const u32 = this.u32;
    const d = (D_DIRECTORY + seg * SEGMENT_BYTES) >>> 2;
    const v1 = Atomics.load(this.i32, d + (SEG_VERSION >>> 2));
    if (v1 & 1) return null;
    const cap = u32[d + (SEG_CAPACITY >>> 2)];
    const index = u32[d + (SEG_INDEX >>> 2)];
    if (cap === 0 || (cap & (cap - 1)) !== 0 || cap > 2 ** MAX_INDEX_LOG2) return null;
    if (index < this.heapStart || index + cap * INDEX_SLOT_BYTES > this.heapEnd) return null;
    const now = this.clock();
    const keys: Buffer[] = [];
    const last = this.heapEnd - ENTRY_HEADER_BYTES;
    for (let i = 0; i < cap; i++) {
      const s = (index >>> 2) + INDEX_SLOT_WORDS * i;
      const e = u32[s + (SLOT_ENTRY >>> 2)];
      if (e === 0) continue;
      if (e === ENTRY_INLINE) {
        const k = Buffer.allocUnsafeSlow(U32_KEY_BYTES);
        writeU32Key(k, 0, u32[s + (SLOT_KEY >>> 2)]);
        keys.push(k);
        continue;
      }
      if (e < this.heapStart || e > last || (e & 7) !== 0) return null;
      const keyLen = u32[(e + ENTRY_KEY_LEN) >>> 2];
      if (keyLen > this.maxKeyBytes + 1 || e + ENTRY_HEADER_BYTES + keyLen > this.heapEnd) return null;
      if (isFetchMark(this.u8[e + ENTRY_TAG]) || expired(this.dv.getFloat64(e + ENTRY_EXPIRES, true), now)) continue;
      const k = Buffer.allocUnsafeSlow(keyLen);
      this.buf.copy(k, 0, e + ENTRY_HEADER_BYTES, e + ENTRY_HEADER_BYTES + keyLen);
      keys.push(k);
    }
    return Atomics.load(this.i32, d + (SEG_VERSION >>> 2)) === v1 ? keys : null;
  }

  // The value found by the last read() that returned Found. Strings are
  // decoded and byte values copied inside the seqlock window; numbers too.
  tag: ValueTag = ValueTag.Null;
  num = 0;
  str = '';
  /**
   * The value's bytes (copyBytes), its first bytesLen bytes. Buffer,
   * Uint8Array and fetch's marks get a fresh copy; values a codec decodes
   * (which never aliases its input: src/codec) are copied into a scratch
   * buffer this reader reuses, valid until its next read: a fresh
   * allocUnsafeSlow costs ~460 ns for 150 bytes here, the scratch copy ~60.
   */
  bytes: Buffer | null = null;
  bytesLen = 0;
  private scratch = Buffer.allocUnsafeSlow(1024);
  /**
   * Segment and seqlock version of the last read that returned Found: the
   * value read was the stored one while the segment's version was
   * `version` (see segmentVersion).
   */
  segment = 0;
  version = 0;
  /** Deadline (ms on the monotonic clock, 0 = never) of the last entry found. */
  expires = 0;
  /** The expiry clock (clock.ts); tests replace it to move time mid-read. */
  clock: () => number = monoNowMs;

  constructor(sab: SharedArrayBuffer) {
    this.entries = new Int32Array(sab, D_ENTRIES, 1);
    this.u8 = new Uint8Array(sab);
    this.u32 = new Uint32Array(sab);
    this.i32 = new Int32Array(sab);
    this.buf = Buffer.from(sab);
    this.dv = new DataView(sab);
    this.segBits = this.u32[D_SEGMENT_BITS >>> 2];
    this.seed = this.u32[D_SEED >>> 2];
    this.maxKeyBytes = this.u32[D_MAX_KEY_BYTES >>> 2];
    this.maxValueBytes = this.u32[D_MAX_VALUE_BYTES >>> 2];
    this.defaultTtlMs = this.u32[D_DEFAULT_TTL_MS >>> 2];
    this.heapStart = this.u32[D_HEAP_START >>> 2];
    this.heapEnd = Math.min(this.u32[D_HEAP_END >>> 2], sab.byteLength);
    this.visited = this.u32[D_VISITED >>> 2];
    if (this.visited + ((this.heapEnd - this.heapStart) >>> 4) > this.heapStart) throw new RangeError('data file header: visited map overlaps the heap');
  }

  /** The segment of a key with hash `hash`. */
  segmentOf(hash: number): number {
    return this.segBits === 0 ? 0 : hash >>> (32 - this.segBits);
  }

  /**
   * The seqlock version of segment `seg` now (one load). Equal to the
   * `version` of an earlier Found read in `seg`, it proves that no writer
   * has entered the segment since (a write makes it odd, then 2 higher),
   * so that read's value is still the stored one, as of this load: the
   * local cache (client/local-cache.ts) validates its hits with it.
   */
  segmentVersion(seg: number): number {
    return Atomics.load(this.i32, (D_DIRECTORY + seg * SEGMENT_BYTES + SEG_VERSION) >>> 2);
  }

  /**
   * Look up the key whose material is key[0, keyLen) with hash `hash`.
   * Found: the value is in tag/num/str/bytes. `copyBytes` false skips
   * copying byte values (has()).
   */
  read(key: Uint8Array, keyLen: number, hash: number, copyBytes = true): ReadResult {
    const seg = this.segmentOf(hash);
    const ver = (D_DIRECTORY + seg * SEGMENT_BYTES + SEG_VERSION) >>> 2;
    let torn = 0;
    this.utf8 = false;
    for (let attempt = 0; attempt < MAX_ATTEMPTS; attempt++) {
      if (attempt >= SPIN_ATTEMPTS) yieldCpu();
      const v1 = Atomics.load(this.i32, ver);
      if (v1 & 1) continue;
      const r = this.probe(seg, key, keyLen, hash, copyBytes);
      if (Atomics.load(this.i32, ver) !== v1) continue;
      // The deadline is judged after the snapshot is known good, at a time
      // no earlier than the snapshot: an entry that expired meanwhile reads
      // as absent, never the other way round.
      if (r === ReadResult.Found) {
        if (this.expires !== 0 && expired(this.expires, this.clock())) return ReadResult.Absent;
        if (this.tag === ValueTag.String) {
          if (this.strBytes >= 0) this.str = this.strScratch.toString('utf8', 0, this.strBytes);
          else if (Buffer.byteLength(this.str, 'utf8') !== this.strLen) {
            // Not ASCII: the Latin-1 reading is wrong; read it again as UTF-8.
            this.utf8 = true;
            continue;
          }
        }
        // Eviction's CLOCK bit, in the visited map (never in the entry,
        // which may have been freed since the snapshot): one byte store,
        // and none while it is already set, so hot keys cost no write.
        if (this.marked === 0) this.u8[this.visited + ((this.entry - this.heapStart) >>> 4)] = 1;
        this.segment = seg;
        this.version = v1;
      }
      if (r !== TORN) return r;
      if (++torn >= 3) return ReadResult.Corrupt;
    }
    return ReadResult.Contended;
  }

  private probe(seg: number, key: Uint8Array, keyLen: number, hash: number, copyBytes: boolean): number {
    const u32 = this.u32;
    const u8 = this.u8;
    const d = (D_DIRECTORY + seg * SEGMENT_BYTES) >>> 2;
    const cap = u32[d + (SEG_CAPACITY >>> 2)];
    const index = u32[d + (SEG_INDEX >>> 2)];
    if (cap === 0 || (cap & (cap - 1)) !== 0 || cap > 2 ** MAX_INDEX_LOG2) return TORN;
    if (index < this.heapStart || index + cap * INDEX_SLOT_BYTES > this.heapEnd || index % CACHE_LINE !== 0) return TORN;
    const mask = cap - 1;
    const last = this.heapEnd - ENTRY_HEADER_BYTES;
    for (let n = 0, i = hash & mask; n < cap; n++, i = (i + 1) & mask) {
      const s = (index >>> 2) + INDEX_SLOT_WORDS * i;
      const e = u32[s + (SLOT_ENTRY >>> 2)];
      if (e === 0) return ReadResult.Absent;
      if (u32[s + (SLOT_HASH >>> 2)] !== hash) continue;
      if (e === ENTRY_INLINE) {
        // The seed's data, in the slot: its line is the only one a lookup touches.
        if (!isU32Key(key, 0, keyLen) || u32[s + (SLOT_KEY >>> 2)] !== readU32LE(key, 1)) continue;
        this.entry = s << 2;
        this.marked = u8[this.visited + ((this.entry - this.heapStart) >>> 4)];
        this.tag = ValueTag.U32;
        this.expires = 0;
        this.num = u32[s + (SLOT_VALUE >>> 2)];
        return ReadResult.Found;
      }
      if (e < this.heapStart || e > last || (e & 7) !== 0) return TORN;
      // The entry's visited byte, loaded now so that its cache miss overlaps
      // the entry's (read() stores it after validation; a stale value only
      // costs one redundant or one skipped mark).
      this.marked = u8[this.visited + ((e - this.heapStart) >>> 4)];
      // Likewise the entry's next two cache lines (a value of up to ~150
      // bytes), whatever they hold: loads that overlap the first line's miss.
      if (e + 128 < last) this.ahead = u8[e + 64] ^ u8[e + 128];
      if (u32[(e + ENTRY_KEY_LEN) >>> 2] !== keyLen) continue;
      const valueLen = u32[(e + ENTRY_VALUE_LEN) >>> 2];
      const k = e + ENTRY_HEADER_BYTES;
      if (valueLen > this.maxValueBytes || k + keyLen + valueLen > this.heapEnd) return TORN;
      let j = 0;
      while (j < keyLen && u8[k + j] === key[j]) j++;
      if (j !== keyLen) continue;
      return this.value(e, k + keyLen, valueLen, copyBytes);
    }
    return TORN;
  }

  /**
   * A string value, read while writers may change it. Never decoded as
   * UTF-8 from shared memory: a UTF-8 decoder may scan its input twice
   * (length, then characters) and bytes changing in between must not reach
   * it. Latin-1 decoding reads each byte once (a copy into a one-byte
   * string), so it is safe on racing bytes, and for ASCII it gives the
   * same string as UTF-8: read() keeps it once the snapshot is validated
   * and the string is ASCII (its UTF-8 length is its length). Otherwise
   * read() tries again with `utf8`: the bytes are copied to a private
   * buffer (a memcpy is safe on racing bytes) and decoded once the
   * snapshot is validated (strBytes >= 0 says so).
   */
  private copyString(at: number, len: number): void {
    this.strBytes = -1;
    this.strLen = len;
    if (!this.utf8) {
      this.str = latin1Slice.call(this.buf, at, at + len);
      return;
    }
    if (this.strScratch.length < len) this.strScratch = Buffer.allocUnsafeSlow(Math.max(len, 2 * this.strScratch.length));
    this.buf.copy(this.strScratch, 0, at, at + len);
    this.strBytes = len;
  }
  /** Byte length of the last string value read. */
  private strLen = 0;
  /** This read met a string that is not ASCII: copy and decode as UTF-8. */
  private utf8 = false;
  private strScratch = Buffer.allocUnsafeSlow(256);
  private strBytes = -1;

  private value(e: number, at: number, len: number, copyBytes: boolean): number {
    this.entry = e;
    const tag = this.u8[e + ENTRY_TAG];
    this.tag = tag;
    this.expires = this.dv.getFloat64(e + ENTRY_EXPIRES, true);
    switch (tag) {
      case ValueTag.U32:
        if (len !== 4) return TORN;
        this.num = this.dv.getUint32(at, true);
        break;
      case ValueTag.F64:
        if (len !== 8) return TORN;
        this.num = this.dv.getFloat64(at, true);
        break;
      case ValueTag.String:
        this.copyString(at, len);
        break;
      case ValueTag.True:
      case ValueTag.False:
      case ValueTag.Null:
        if (len !== 0) return TORN;
        break;
      case ValueTag.Msgpack:
      case ValueTag.V8:
      case ValueTag.Json:
      case ValueTag.Tagged:
        if (copyBytes) {
          if (this.scratch.length < len) this.scratch = Buffer.allocUnsafeSlow(Math.max(len, 2 * this.scratch.length));
          this.buf.copy(this.scratch, 0, at, at + len);
          this.bytes = this.scratch;
          this.bytesLen = len;
        }
        break;
      case ValueTag.Buffer:
      case ValueTag.Uint8Array:
      case ValueTag.Lease:
      case ValueTag.Failed:
        if (copyBytes) {
          const out = Buffer.allocUnsafeSlow(len);
          this.buf.copy(out, 0, at, at + len);
          this.bytes = out;
          this.bytesLen = len;
        }
        break;
      default:
        return TORN;
    }
    return ReadResult.Found;
  }
}
