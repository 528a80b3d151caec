/**
 * The table, reader side: any thread of any process that maps the data
 * file looks a key up without a lock and without a server thread. The
 * lookup is a visitor of the one seqlock reader (seqlock.ts), which owns
 * the protocol, the bounds of the segment and the retries; this file owns
 * the probe and what is copied out of a snapshot.
 *
 * LINEARIZABILITY. A write completes (the server marks the request DONE)
 * after its even version store. A read that starts after that loads a
 * version at least as new, so it sees the write or a later one; the value
 * it returns was stored at the instant of its v2 load.
 *
 * STRINGS are never decoded as UTF-8 from shared memory: a UTF-8 decoder
 * may scan its input twice (length, then characters), and bytes changing in
 * between must not reach it. A string is read as Latin-1 (one pass, a copy
 * into a one-byte string: safe on racing bytes), which is the UTF-8
 * decoding when every byte is ASCII; after the version check the reader
 * keeps it if its UTF-8 length equals its byte length (ASCII), else reads
 * again copying the bytes to a private buffer and decoding them once
 * validated.
 *
 * HINTS. A read that found its key bumps its index slot's hint byte in the
 * exchange file (eviction's frequency, at most HINT_MAX; no store once it
 * is there, so hot keys cost no write). The slot may have moved since the
 * snapshot: at worst a neighbour is marked.
 */
import { expired, monoNowMs } from './clock';
import { isU32Key, readU32LE } from './keys';
import { Chunk } from './chunk';
import { ReadResult, Seqlock, SegmentVisitor, Visit } from './seqlock';
import type { DataHeader } from '../layout/data-file';
import { Stat, STATS_LINE_BYTES, STATS_LINES } from '../layout/data-meta';
import { CACHE_LINE } from '../layout/fields';
import {
  ENTRY_EXPIRES,
  ENTRY_HEADER_BYTES,
  ENTRY_INLINE,
  ENTRY_KEY_LEN,
  ENTRY_TAG,
  ENTRY_VALUE_LEN,
  IX_ENTRY,
  IX_HASH,
  IX_KEY,
  IX_VALUE,
  IX_WORDS,
} from '../layout/heap';
import { ValueTag } from '../layout/keys-values';

export { ReadResult } from './seqlock';

/** Eviction's frequency saturates here (S3-FIFO counts to 3). */
export const HINT_MAX = 3;

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

export class TableReader implements SegmentVisitor {
  readonly seqlock: Seqlock;
  readonly maxKeyBytes: number;
  readonly maxValueBytes: number;
  readonly seed: number;
  /** The server's default time to live (ms, 0 = none). */
  defaultTtlMs: number;
  private readonly stats: Float64Array;

  // The key being looked up.
  private key: Uint8Array = new Uint8Array(0);
  private keyLen = 0;
  private hash = 0;
  private copyBytes = true;
  /** The index slot where the last probe found its key, and its hint then. */
  private at = 0;
  private marked = 0;
  /** Bytes loaded early only to warm the cache; nothing reads them (public: kept by the compiler). */
  ahead = 0;

  // The value found by the last read() that returned Found. Strings are
  // decoded and byte values copied inside the snapshot; numbers too.
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

  constructor(header: DataHeader, chunks: readonly Chunk[]) {
    this.seqlock = new Seqlock(chunks, header.segmentBits);
    this.maxKeyBytes = header.maxKeyBytes;
    this.maxValueBytes = header.maxValueBytes;
    this.seed = header.seed;
    this.defaultTtlMs = header.defaultTtlMs;
    this.stats = header.stats;
  }

  /** Keys stored (expired ones count until the server reclaims them): the sum of every server thread's net count. */
  size(): number {
    let n = 0;
    for (let line = 0; line < STATS_LINES; line++) n += this.stats[line * (STATS_LINE_BYTES / 8) + Stat.Entries];
    return Math.max(0, n);
  }

  /** Number of segments (a scan visits each). */
  get segments(): number {
    return this.seqlock.segments;
  }

  /** The segment of a key with hash `hash`. */
  segmentOf(hash: number): number {
    return this.seqlock.segmentOf(hash);
  }

  /**
   * The seqlock version of segment `seg` now (one load). Equal to the
   * `version` of an earlier Found read in `seg`, it proves that no writer
   * has entered the segment since (a write makes it odd, then 2 higher),
   * so that read's value is still the stored one, as of this load: the
   * local cache (client/local-cache.ts) validates its hits with it.
   */
  segmentVersion(seg: number): number {
    return this.seqlock.currentVersion(seg);
  }

  /**
   * Look up the key whose material is key[0, keyLen) with hash `hash`.
   * Found: the value is in tag/num/str/bytes. `copyBytes` false skips
   * copying byte values (has()).
   */
  read(key: Uint8Array, keyLen: number, hash: number, copyBytes = true): ReadResult {
    this.key = key;
    this.keyLen = keyLen;
    this.hash = hash;
    this.copyBytes = copyBytes;
    this.utf8 = false;
    const seg = this.seqlock.segmentOf(hash);
    let r = this.seqlock.read(seg, this);
    if (r === ReadResult.Found && this.tag === ValueTag.String && Buffer.byteLength(this.str, 'utf8') !== this.strLen) {
      // Not ASCII: the Latin-1 reading is wrong; read it again as UTF-8.
      this.utf8 = true;
      r = this.seqlock.read(seg, this);
    }
    if (r !== ReadResult.Found) return r;
    // The deadline is judged after the snapshot is known good, at a time no
    // earlier than the snapshot: an entry that expires meanwhile reads as
    // absent, never the other way round.
    if (this.expires !== 0 && expired(this.expires, this.clock())) return ReadResult.Absent;
    if (this.strBytes >= 0) this.str = this.strScratch.toString('utf8', 0, this.strBytes);
    this.segment = seg;
    this.version = this.seqlock.version;
    if (this.marked < HINT_MAX) {
      const ch = this.seqlock.chunk;
      const h = ch.hintOf(this.at);
      if (h < ch.hints.length) ch.hints[h] = this.marked + 1;
    }
    return ReadResult.Found;
  }

  visit(ch: Chunk, index: number, mask: number): Visit {
    const u32 = ch.u32;
    const u8 = ch.u8;
    const hash = this.hash;
    const key = this.key;
    const keyLen = this.keyLen;
    for (let n = 0, i = hash & mask; n <= mask; n++, i = (i + 1) & mask) {
      const s = (index >>> 2) + IX_WORDS * i;
      const e = u32[s + (IX_ENTRY >>> 2)];
      if (e === 0) return Visit.Absent;
      if (u32[s + (IX_HASH >>> 2)] !== hash) continue;
      if (e === ENTRY_INLINE) {
        // A u32 in the slot: its line is the only one a lookup touches.
        if (!isU32Key(key, 0, keyLen) || u32[s + (IX_KEY >>> 2)] !== readU32LE(key, 1)) continue;
        this.at = s << 2;
        this.marked = this.hint(ch, this.at);
        this.tag = ValueTag.U32;
        this.expires = 0;
        this.strBytes = -1;
        this.num = u32[s + (IX_VALUE >>> 2)];
        return Visit.Found;
      }
      if (!ch.entryOk(e)) return Visit.Torn;
      // The slot's hint, loaded now so that its cache miss overlaps the
      // entry's (read() stores it after validation; a stale value only
      // costs one redundant or one skipped mark).
      this.at = s << 2;
      this.marked = this.hint(ch, this.at);
      // Likewise the entry's next two cache lines (a value of up to ~150
      // bytes), whatever they hold: loads that overlap the first line's miss.
      if (e + 2 * CACHE_LINE < ch.lastEntry) this.ahead = u8[e + CACHE_LINE] ^ u8[e + 2 * CACHE_LINE];
      if ((u32[(e + ENTRY_KEY_LEN) >>> 2] & 0xffff) !== keyLen) continue;
      const valueLen = u32[(e + ENTRY_VALUE_LEN) >>> 2];
      const k = e + ENTRY_HEADER_BYTES;
      if (valueLen > this.maxValueBytes || !ch.fits(k, keyLen + valueLen)) return Visit.Torn;
      let j = 0;
      while (j < keyLen && u8[k + j] === key[j]) j++;
      if (j !== keyLen) continue;
      return this.value(ch, e, k + keyLen, valueLen);
    }
    return Visit.Torn;
  }

  private hint(ch: Chunk, at: number): number {
    const h = ch.hintOf(at);
    return h < ch.hints.length ? ch.hints[h] : HINT_MAX;
  }

  /**
   * A string value, read while writers may change it: Latin-1 first (one
   * pass, safe on racing bytes); on the second try for a non-ASCII string,
   * a private copy decoded once the snapshot is validated (read()).
   */
  private copyString(ch: Chunk, at: number, len: number): void {
    this.strBytes = -1;
    this.strLen = len;
    if (!this.utf8) {
      this.str = latin1Slice.call(ch.buf, at, at + len);
      return;
    }
    if (this.strScratch.length < len) this.strScratch = Buffer.allocUnsafeSlow(Math.max(len, 2 * this.strScratch.length));
    ch.buf.copy(this.strScratch, 0, at, at + len);
    this.strBytes = len;
  }
  /** Byte length of the last string value read. */
  private strLen = 0;
  /** This read met a string that is not ASCII: copy and decode as UTF-8. */
  private utf8 = false;
  private strScratch = Buffer.allocUnsafeSlow(256);
  private strBytes = -1;

  private value(ch: Chunk, e: number, at: number, len: number): Visit {
    this.strBytes = -1;
    const tag = ch.u8[e + ENTRY_TAG];
    this.tag = tag;
    this.expires = ch.dv.getFloat64(e + ENTRY_EXPIRES, true);
    switch (tag) {
      case ValueTag.U32:
        if (len !== 4) return Visit.Torn;
        this.num = ch.dv.getUint32(at, true);
        break;
      case ValueTag.F64:
        if (len !== 8) return Visit.Torn;
        this.num = ch.dv.getFloat64(at, true);
        break;
      case ValueTag.String:
        this.copyString(ch, at, len);
        break;
      case ValueTag.True:
      case ValueTag.False:
      case ValueTag.Null:
        if (len !== 0) return Visit.Torn;
        break;
      case ValueTag.Msgpack:
      case ValueTag.V8:
      case ValueTag.Json:
      case ValueTag.Tagged:
        if (this.copyBytes) {
          if (this.scratch.length < len) this.scratch = Buffer.allocUnsafeSlow(Math.max(len, 2 * this.scratch.length));
          ch.buf.copy(this.scratch, 0, at, at + len);
          this.bytes = this.scratch;
          this.bytesLen = len;
        }
        break;
      case ValueTag.Buffer:
      case ValueTag.Uint8Array:
      case ValueTag.Lease:
      case ValueTag.Failed:
      case ValueTag.Meta:
        if (this.copyBytes) {
          const out = Buffer.allocUnsafeSlow(len);
          ch.buf.copy(out, 0, at, at + len);
          this.bytes = out;
          this.bytesLen = len;
        }
        break;
      default:
        return Visit.Torn;
    }
    return Visit.Found;
  }
}
