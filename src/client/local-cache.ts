/**
 * The per-process cache of decoded values: `connect({ localCache })`. A
 * get of a key whose entry has not changed since this process decoded it
 * returns the decoded value, without probing the table or decoding.
 *
 * COHERENT. Each cached value remembers the segment of its key and the
 * seqlock version under which the direct read found it (TableReader's
 * `segment`/`version`). A hit costs one load of that segment's version
 * (TableReader.segmentVersion): unchanged means no writer has entered the
 * segment since, so the value is still the stored one at that load, and
 * the get is linearizable exactly as a direct read is (a write completes
 * after its even version store; a get that starts later loads a newer
 * version and reads again). Changed (any write to any key of the segment):
 * the get reads the table again; if the stored value is the same (same
 * tag and bytes) the cached object is kept, else it is decoded afresh.
 *  - Deadlines stay exact: the entry's deadline is cached with it and
 *    judged at every hit.
 *  - fetch()'s leases and failure marks read as absent (the direct read
 *    says so, and the entry is dropped).
 *  - The liveness check runs at every get (the caller does it first).
 *  - A version wraps after 2^31 writes to one segment. An entry not
 *    validated by a read for STALE_BEATS heartbeats (10 s) is read again,
 *    so no wrap can pass unseen between two validations (the server
 *    writes far fewer than 2^31 / 10 s = 215 M per second).
 *
 * FROZEN. One decoded object serves every get of the key in this process,
 * so it is deeply frozen (codec/freeze.ts). A value holding a typed array
 * or Buffer cannot be frozen and is not cached (decoded at every get, as
 * without the cache); neither are Buffer/Uint8Array values.
 *
 * BOUNDED by entries (`max`) and by bytes (`maxBytes`: the sum of the
 * cached values' sizes as stored in the table; their decoded objects take
 * a few times that in the heap). Eviction is CLOCK over a ring of `max`
 * slots: a hit sets the entry's visited flag (one store); the hand evicts
 * the first entry it meets whose flag is clear, clearing the flags it
 * passes. (Not a Map in insertion order with delete-first: V8's ordered
 * hash map leaves deleted entries in place until it rehashes, so finding
 * the first live entry again and again scanned them all: measured 15 us
 * per get at 20,000 keys over a 10,000-entry cache.)
 * String and u32 keys are cached; byte keys are not.
 */
import type { TableReader } from '../store/table-reader';
import type { Key } from '../store/keys';
import { expired, monoNowMs } from '../store/clock';
import { isCodecTag, ValueTag } from '../layout/keys-values';
import { deepFreeze } from '../codec/freeze';

export interface LocalCacheOptions {
  /** Entries at most (default 10,000). */
  max?: number;
  /** Bytes at most, counted as the values are stored in the table (default 32 MiB). */
  maxBytes?: number;
}

export const DEFAULT_LOCAL_CACHE = { max: 10_000, maxBytes: 32 * 1024 * 1024 };

/** lookup() found no usable entry: read the table. */
export const MISS: unique symbol = Symbol('miss');

/** Heartbeats (100 ms) after which an entry is read again whatever its version says. */
const STALE_BEATS = 100;

interface Entry {
  value: unknown;
  tag: ValueTag;
  /** What the stored bytes were, to tell an unchanged value on a re-read: its Latin-1 image (codec tags). */
  raw: string;
  segment: number;
  version: number;
  /** Heartbeat count when last validated. */
  beat: number;
  expires: number;
  size: number;
  visited: boolean;
  /** Its slot in the ring, and its key. */
  slot: number;
  key: string | number;
}

export class LocalCache {
  readonly max: number;
  readonly maxBytes: number;
  /** Gets answered from the cache (including re-reads that found the same bytes), and gets that were not. */
  hits = 0;
  misses = 0;
  bytes = 0;
  private readonly map = new Map<string | number, Entry>();
  /** CLOCK: entries by slot (undefined: free), the hand, and free slots. */
  private readonly ring: (Entry | undefined)[] = [];
  private hand = 0;
  private readonly free: number[] = [];

  constructor(
    options: LocalCacheOptions | true,
    private readonly reader: TableReader,
    private readonly beat: () => number,
  ) {
    const o = options === true ? {} : options;
    if (typeof o !== 'object' || o === null) throw new TypeError(`localCache must be true or { max, maxBytes }, got ${String(options)}`);
    this.max = o.max ?? DEFAULT_LOCAL_CACHE.max;
    this.maxBytes = o.maxBytes ?? DEFAULT_LOCAL_CACHE.maxBytes;
    if (!Number.isSafeInteger(this.max) || this.max < 1) throw new RangeError(`localCache.max must be a positive integer, got ${String(o.max)}`);
    if (!Number.isSafeInteger(this.maxBytes) || this.maxBytes < 1) throw new RangeError(`localCache.maxBytes must be a positive integer, got ${String(o.maxBytes)}`);
  }

  get entries(): number {
    return this.map.size;
  }

  /**
   * The value of `key` if its cached entry is still the stored one (its
   * segment's version unchanged): the value, or undefined when its deadline
   * has passed; MISS when the table must be read.
   */
  lookup(key: Key): unknown {
    const e = typeof key === 'string' || typeof key === 'number' ? this.map.get(key) : undefined;
    if (e === undefined || this.reader.segmentVersion(e.segment) !== e.version || (this.beat() - e.beat) >>> 0 > STALE_BEATS) {
      this.misses++;
      return MISS;
    }
    if (e.expires !== 0 && expired(e.expires, monoNowMs())) {
      this.remove(key as string | number, e);
      this.misses++;
      return undefined;
    }
    e.visited = true;
    this.hits++;
    return e.value;
  }

  /**
   * After lookup() missed and a direct read of `key` found a value (in
   * `reader`): the cached object if the stored value is the same as when it
   * was decoded (the entry is revalidated), else decode()'s value, frozen
   * and cached when it can be.
   */
  fill(key: Key, decode: () => unknown): unknown {
    if (typeof key !== 'string' && typeof key !== 'number') return decode();
    const r = this.reader;
    const e = this.map.get(key);
    const raw = isCodecTag(r.tag) && r.bytes !== null ? latin1(r.bytes, r.bytesLen) : '';
    if (e !== undefined && e.tag === r.tag && this.same(e, raw)) {
      e.segment = r.segment;
      e.version = r.version;
      e.beat = this.beat();
      e.expires = r.expires;
      e.visited = true;
      this.misses--; // lookup() counted a miss: this get needed no decode after all
      this.hits++;
      return e.value;
    }
    const value = decode();
    if (e !== undefined) this.remove(key, e);
    const size = r.tag === ValueTag.String ? r.str.length : r.tag <= ValueTag.F64 ? 8 : isCodecTag(r.tag) ? r.bytesLen : 0;
    if (r.tag === ValueTag.Buffer || r.tag === ValueTag.Uint8Array || size > this.maxBytes || !deepFreeze(value)) return value;
    while (this.map.size >= this.max || this.bytes + size > this.maxBytes) this.evictOne();
    const slot = this.free.length > 0 ? this.free.pop()! : this.ring.length;
    const entry: Entry = { value, tag: r.tag, raw, segment: r.segment, version: r.version, beat: this.beat(), expires: r.expires, size, visited: false, slot, key };
    this.ring[slot] = entry;
    this.map.set(key, entry);
    this.bytes += size;
    return value;
  }

  /** Forget `key` (a read found it absent or could not read it directly). */
  drop(key: Key): void {
    if (typeof key !== 'string' && typeof key !== 'number') return;
    const e = this.map.get(key);
    if (e !== undefined) this.remove(key, e);
  }

  clear(): void {
    this.map.clear();
    this.ring.length = 0;
    this.free.length = 0;
    this.hand = 0;
    this.bytes = 0;
  }

  private same(e: Entry, raw: string): boolean {
    const r = this.reader;
    switch (r.tag) {
      case ValueTag.String:
        return e.value === r.str;
      case ValueTag.U32:
      case ValueTag.F64:
        return Object.is(e.value, r.num);
      case ValueTag.True:
      case ValueTag.False:
      case ValueTag.Null:
        return true;
      default:
        return raw !== '' && e.raw === raw;
    }
  }

  private remove(key: string | number, e: Entry): void {
    this.map.delete(key);
    this.ring[e.slot] = undefined;
    this.free.push(e.slot);
    this.bytes -= e.size;
  }

  /** CLOCK: move the hand to the first entry not visited since its last pass (clearing flags on the way) and evict it. */
  private evictOne(): void {
    const ring = this.ring;
    for (;;) {
      if (this.hand >= ring.length) this.hand = 0;
      const e = ring[this.hand++];
      if (e === undefined) continue;
      if (e.visited) e.visited = false;
      else return this.remove(e.key, e);
    }
  }
}

type Latin1Slice = (this: Buffer, start: number, end: number) => string;
const latin1Slice: Latin1Slice =
  (Buffer.prototype as unknown as { latin1Slice?: Latin1Slice }).latin1Slice ??
  function (this: Buffer, start: number, end: number): string {
    return this.toString('latin1', start, end);
  };

function latin1(bytes: Buffer, len: number): string {
  return latin1Slice.call(bytes, 0, len);
}
