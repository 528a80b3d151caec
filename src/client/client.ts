/**
 * The public client API: connect() to a running server, then get/set/has/
 * delete string, byte and u32 keys holding strings, bytes, numbers,
 * booleans, null or structured values, synchronously (`...Sync`, blocks the
 * calling thread) or with promises (the event loop never blocks or spins
 * beyond a 20 us poll).
 *
 * READS go straight to the shared table (table-reader.ts): no server
 * thread, no hand-off, linearizable. Only when writers keep a segment busy
 * for hundreds of attempts does a read fall back to asking the server.
 * WRITES go through the ring to the server's threads, as the seed's design
 * says: each is a request (requests.ts) run through the sync window
 * (sync-window.ts) or the promise pipeline of `window` windows
 * (pipeline.ts).
 */
import { Connection, ConnectOptions } from './connection';
import { Pipeline } from './pipeline';
import { SyncWindow } from './sync-window';
import { Pending, RequestBuilder, SetOptions } from './requests';
import { checkTtl, statusError } from './checks';
import { Fetcher, FetchOptions } from './fetch';
import { readStats, Stats } from './stats';
import { ValueCodec } from '../codec/value';
import { DEFAULT_ENCODING, Encoding } from '../codec/structured';
import { clientValues, STRUCTURES_KEY } from './structures';
import { LocalCache, LocalCacheOptions, MISS } from './local-cache';
import { decodeKey, Key, KeyEncoder } from '../store/keys';
import { ReadResult, TableReader } from '../store/table-reader';
import { scanStringKeys } from '../store/table-scan';
import { deadlineIn, monoNowMs } from '../store/clock';
import { isFetchMark } from '../layout/layout';
import { TableCorruptError } from '../errors';

export { SetOptions } from './requests';
export { Stats } from './stats';
export { TableFullError } from '../errors';

export interface ClientOptions extends ConnectOptions {
  /** Requests the promise API keeps in flight (default 32). */
  window?: number;
  /** Codec of structured values (objects, Map, Date...): 'msgpack' (default), 'v8' or 'json'. */
  encoding?: Encoding;
  /**
   * A cache of decoded values in this process, coherent with the table
   * (local-cache.ts): `true` for the default size, or its bounds. Values
   * it returns are deeply frozen. Default: none.
   */
  localCache?: LocalCacheOptions | boolean;
  /** Default time to live of this client's writes, in ms (default: the server's --ttl, else never). */
  ttl?: number;
}

export const DEFAULT_CLIENT_WINDOW = 32;
/**
 * keys(): snapshot attempts of one segment on the next turns of the event
 * loop; after them, attempts 1 ms apart until SCAN_PATIENCE_MS have passed
 * (a writer preempted inside its odd period may wait ms for a core, see
 * table-scan.ts), then it gives up.
 */
const SCAN_QUICK_ATTEMPTS = 100;
const SCAN_PATIENCE_MS = 5000;

/** Connect to the server whose region is at `options.path` (default ./shmem_file). */
export function connect(options: ClientOptions = {}): Client {
  return new Client(options);
}

export class Client {
  private readonly conn: Connection;
  private readonly sync: SyncWindow;
  private readonly pipeline: Pipeline;
  private readonly keyEnc: KeyEncoder;
  private readonly req: RequestBuilder;
  private readonly fetcher: Fetcher;
  private readonly cache: LocalCache | null;
  /** This client's value codec (internal: fetch.ts). */
  readonly codec: ValueCodec;
  readonly encoding: Encoding;
  /** The server's limits on key and value sizes, in bytes. */
  readonly maxKeyBytes: number;
  readonly maxValueBytes: number;
  private closed = false;
  private closing: Promise<void> | null = null;

  constructor(options: ClientOptions = {}) {
    const width = options.window ?? DEFAULT_CLIENT_WINDOW;
    if (!Number.isInteger(width) || width < 1) throw new RangeError(`window must be a positive integer, got ${width}`);
    this.encoding = options.encoding ?? DEFAULT_ENCODING;
    if (!['v8', 'msgpack', 'json'].includes(this.encoding))
      throw new RangeError(`encoding must be 'msgpack', 'v8' or 'json', got ${String(options.encoding)}`);
    const ttl = options.ttl === undefined ? undefined : checkTtl(options.ttl);
    const lc = options.localCache;
    if (lc !== undefined && typeof lc !== 'boolean' && (typeof lc !== 'object' || lc === null)) throw new TypeError(`localCache must be a boolean or { max, maxBytes }, got ${String(lc)}`);
    this.conn = Connection.open(options);
    const reader = this.conn.reader;
    this.cache = lc ? new LocalCache(lc, reader, () => this.conn.beat) : null;
    this.maxKeyBytes = reader.maxKeyBytes;
    this.maxValueBytes = reader.maxValueBytes;
    this.keyEnc = new KeyEncoder(reader.maxKeyBytes, reader.seed);
    // Windows: the synchronous calls', the pipeline's, and one for adding shared record structures (structures.ts).
    const first = this.conn.reserve(2 + width);
    const { codec, io } = clientValues(this.conn, this.encoding, first + 1 + width);
    this.codec = codec;
    this.req = new RequestBuilder(this.keyEnc, codec, ttl ?? reader.defaultTtlMs, io);
    this.sync = new SyncWindow(this.conn, first, io);
    this.pipeline = new Pipeline(this.conn, first + 1, width, io, (s) => statusError(s, 'staging for a request'));
    this.fetcher = new Fetcher(this);
  }

  // ---- reads: straight from the shared table --------------------------------------

  /** The value under `key`, or undefined. Never waits for a server thread (unless contended). */
  getSync(key: Key): unknown {
    if (this.cache !== null) return this.cachedGet(key, true);
    const r = this.direct(key, true);
    if (r === ReadResult.Found) return this.codec.decode(this.conn.reader);
    if (r === ReadResult.Absent) return undefined;
    return this.runSync(this.req.read(key));
  }

  /** A get through the local cache (local-cache.ts); `sync`: a contended read blocks, else a promise. */
  private cachedGet(key: Key, sync: boolean): unknown {
    this.usable();
    this.conn.checkLive();
    const cache = this.cache!;
    const v = cache.lookup(key);
    if (v !== MISS) {
      if (v === undefined) this.misses++;
      else this.hits++;
      return v;
    }
    const r = this.direct(key, true);
    if (r === ReadResult.Found) return cache.fill(key, () => this.codec.decode(this.conn.reader));
    cache.drop(key);
    if (r === ReadResult.Absent) return undefined;
    return sync ? this.runSync(this.req.read(key)) : this.enqueue(this.req.read(key));
  }

  /** Whether `key` holds a value. */
  hasSync(key: Key): boolean {
    return this.getSync(key) !== undefined;
  }

  /** Remaining time to live of `key` in ms: Infinity when it never expires, undefined when absent. */
  ttlSync(key: Key): number | undefined {
    const r = this.direct(key, false);
    if (r === ReadResult.Absent) return undefined;
    if (r !== ReadResult.Found) return this.getSync(key) === undefined ? undefined : this.ttlSync(key);
    const at = this.conn.reader.expires;
    return at === 0 ? Infinity : Math.max(0, at - monoNowMs());
  }

  /**
   * The value under `key`, or undefined; answered from the table without a
   * hand-off (a contended read asks the server through the pipeline).
   */
  get(key: Key): Promise<unknown> {
    if (this.cache !== null) return settled(() => this.cachedGet(key, false));
    const r = this.direct(key, true);
    if (r === ReadResult.Found) return settled(() => this.codec.decode(this.conn.reader));
    if (r === ReadResult.Absent) return Promise.resolve(undefined);
    return this.enqueue(this.req.read(key));
  }

  has(key: Key): Promise<boolean> {
    return this.get(key).then((v) => v !== undefined);
  }

  ttl(key: Key): Promise<number | undefined> {
    return settled(() => this.ttlSync(key)) as Promise<number | undefined>;
  }

  /** lru-cache's name for ttl(). */
  getRemainingTTL(key: Key): Promise<number | undefined> {
    return this.ttl(key);
  }

  /** Values of many keys (undefined where absent), read directly. */
  getMany(keys: Iterable<Key>): Promise<unknown[]> {
    return Promise.all([...keys].map((k) => this.get(k)));
  }

  // ---- writes: requests to the server's threads --------------------------------------

  /**
   * Store `value` under `key`; returns when the server has applied it:
   * true, or false when `ifAbsent` found the key present.
   */
  setSync(key: Key, value: unknown, options?: SetOptions): boolean {
    return this.runSync(this.req.set(key, value, options, true)) as boolean;
  }

  /** The seed's name for setSync. */
  putSync(key: Key, value: unknown, options?: SetOptions): boolean {
    return this.setSync(key, value, options);
  }

  /** Remove `key`; true when it held a value. */
  deleteSync(key: Key): boolean {
    return this.runSync(this.req.delete(key)) as boolean;
  }

  /** Store `next` only if `key` holds `expected` (undefined: only if absent); true when it stored. */
  compareAndSetSync(key: Key, expected: unknown, next: unknown, options?: SetOptions): boolean {
    return this.runSync(this.req.compareAndSet(key, expected, next, options, false)) as boolean;
  }

  /** Remove `key` only if it holds `expected`; true when it removed it. */
  compareAndDeleteSync(key: Key, expected: unknown): boolean {
    return this.runSync(this.req.compareAndSet(key, expected, undefined, undefined, true)) as boolean;
  }

  /** Give `key` a new time to live (ms; 0 or Infinity: never expires); false when absent. */
  expireSync(key: Key, ttl: number): boolean {
    return this.runSync(this.req.expire(key, deadlineIn(checkTtl(ttl)))) as boolean;
  }

  /** Make `key` never expire; false when absent. */
  persistSync(key: Key): boolean {
    return this.runSync(this.req.expire(key, 0)) as boolean;
  }

  /**
   * Atomically add `delta` (default 1) to the counter under `key`, absent
   * counting as 0; returns the new value. A u32 key keeps the seed's
   * counter (u32 values, wrapping modulo 2^32); any other key holds an
   * integer in the safe-integer range (a non-integer value is a TypeError,
   * an overflow a RangeError, as in Redis INCRBY).
   */
  incrSync(key: Key, delta = 1): number {
    return this.runSync(this.req.incr(key, delta)) as number;
  }

  set(key: Key, value: unknown, options?: SetOptions): Promise<boolean> {
    return this.enqueue(this.req.set(key, value, options)) as Promise<boolean>;
  }

  put(key: Key, value: unknown, options?: SetOptions): Promise<boolean> {
    return this.set(key, value, options);
  }

  delete(key: Key): Promise<boolean> {
    return this.enqueue(this.req.delete(key)) as Promise<boolean>;
  }

  compareAndSet(key: Key, expected: unknown, next: unknown, options?: SetOptions): Promise<boolean> {
    return this.enqueue(this.req.compareAndSet(key, expected, next, options, false)) as Promise<boolean>;
  }

  compareAndDelete(key: Key, expected: unknown): Promise<boolean> {
    return this.enqueue(this.req.compareAndSet(key, expected, undefined, undefined, true)) as Promise<boolean>;
  }

  expire(key: Key, ttl: number): Promise<boolean> {
    return this.enqueue(this.req.expire(key, deadlineIn(checkTtl(ttl)))) as Promise<boolean>;
  }

  persist(key: Key): Promise<boolean> {
    return this.enqueue(this.req.expire(key, 0)) as Promise<boolean>;
  }

  /** incrSync's promise form. */
  incr(key: Key, delta = 1): Promise<number> {
    return this.enqueue(this.req.incr(key, delta)) as Promise<number>;
  }

  /** Store many pairs, pipelined through the window; resolves when all are applied. */
  async setMany(entries: Iterable<readonly [Key, unknown]>, options?: SetOptions): Promise<void> {
    this.usable();
    const reqs = [...entries].map(([k, v]) => this.req.set(k, v, options));
    await this.enqueueBatch(reqs);
  }

  putMany(entries: Iterable<readonly [Key, unknown]>, options?: SetOptions): Promise<void> {
    return this.setMany(entries, options);
  }

  /**
   * The cached value of `key`; when absent, exactly one caller on the whole
   * machine runs `loader(key)` while the others wait for its result (fetch.ts).
   */
  fetch<V>(key: Key, loader: (key: Key) => V | Promise<V>, options?: FetchOptions): Promise<V | undefined> {
    return this.fetcher.fetch(key, loader, options);
  }

  /** Remove every key of the whole machine's table (segment by segment: writes racing the clear may survive it). */
  clearSync(): void {
    this.runSync(this.req.clear());
  }

  clear(): Promise<void> {
    return this.enqueue(this.req.clear()) as Promise<void>;
  }

  /**
   * Every key of the whole machine's table, read directly one segment at a
   * time (each segment a consistent snapshot), yielding to the event loop
   * between segments. A key present for the whole scan is yielded exactly
   * once; keys set or deleted meanwhile may or may not be. Expired keys
   * are not yielded.
   */
  async *keys(): AsyncGenerator<Key> {
    const reader = this.conn.reader;
    for (let seg = 0; seg < reader.segments; seg++) {
      let snap: Buffer[] | null = null;
      let giveUpAt = 0;
      for (let attempt = 0; ; attempt++) {
        this.usable();
        this.conn.checkLive();
        if ((snap = reader.scan(seg)) !== null) break;
        if (attempt < SCAN_QUICK_ATTEMPTS) await new Promise((r) => setImmediate(r));
        else {
          if (giveUpAt === 0) giveUpAt = Date.now() + SCAN_PATIENCE_MS;
          else if (Date.now() > giveUpAt) throw new TableCorruptError(`keys(): segment ${seg} kept changing or makes no sense for ${SCAN_PATIENCE_MS} ms`);
          await new Promise((r) => setTimeout(r, 1));
        }
      }
      for (const material of snap) {
        const key = decodeKey(material);
        if (key !== STRUCTURES_KEY) yield key;
      }
      if ((seg & 15) === 15) await new Promise((r) => setImmediate(r));
    }
  }

  /** [key, value] of every key (keys(), then a direct read of each: a key deleted meanwhile is skipped). */
  async *entries(): AsyncGenerator<[Key, unknown]> {
    for await (const key of this.keys()) {
      const value = await this.get(key);
      if (value !== undefined) yield [key, value];
    }
  }

  async *values(): AsyncGenerator<unknown> {
    for await (const [, value] of this.entries()) yield value;
  }

  [Symbol.asyncIterator](): AsyncGenerator<[Key, unknown]> {
    return this.entries();
  }

  /**
   * Keys in the whole machine's table (as lru-cache's `size`); entries that
   * expired count until the server's sweeper reclaims them.
   */
  get size(): number {
    return this.conn.reader.size();
  }

  /**
   * String keys that start with `prefix`, read from the shared table
   * segment by segment (table-scan.ts: not atomic as a whole, like Redis's
   * SCAN; expired entries not yet reclaimed are listed, so get() each key).
   */
  keysWithPrefix(prefix: string): string[] {
    this.usable();
    this.conn.checkLive();
    return scanStringKeys(this.conn.data, prefix).filter((k) => k !== STRUCTURES_KEY);
  }

  /** Counters of the server and its table, and this process's hits and misses (stats.ts). */
  stats(): Stats {
    this.usable();
    const c = this.cache;
    return readStats(this.conn, this.hits, this.misses, c && { hits: c.hits, misses: c.misses, entries: c.entries, bytes: c.bytes });
  }
  private hits = 0;
  private misses = 0;

  // ---- internals ---------------------------------------------------------------------

  /** The raw direct read of `key` (fetch.ts looks at leases): Found puts the value in reader. */
  direct(key: Key, copyBytes: boolean, raw = false): ReadResult {
    this.usable();
    this.conn.checkLive();
    this.keyEnc.encode(key);
    const reader = this.conn.reader;
    let r = reader.read(this.keyEnc.bytes, this.keyEnc.length, this.keyEnc.hash, copyBytes);
    if (r === ReadResult.Corrupt) throw new TableCorruptError('a direct read found a stable segment that makes no sense');
    // fetch()'s leases and failure marks are not values.
    if (r === ReadResult.Found && !raw && isFetchMark(reader.tag)) r = ReadResult.Absent;
    if (r === ReadResult.Found) this.hits++;
    else if (r === ReadResult.Absent) this.misses++;
    return r;
  }

  /** The last direct read's entry (after direct() returned Found). */
  get found(): TableReader {
    return this.conn.reader;
  }

  /** Run a request built by fetch.ts (leases) through the pipeline. */
  request(build: (req: RequestBuilder) => Pending): Promise<unknown> {
    this.usable();
    return this.enqueue(build(this.req));
  }

  private runSync(p: Pending): unknown {
    this.usable();
    return this.sync.run(p);
  }

  private enqueue(p: Pending): Promise<unknown> {
    this.usable();
    return new Promise((resolve, reject) => {
      p.resolve = resolve;
      p.reject = reject;
      this.pipeline.add(p);
      this.pipeline.pump();
    });
  }

  /** One promise for a whole batch: every result in order, or the first failure. */
  private enqueueBatch(reqs: Pending[]): Promise<unknown[]> {
    return new Promise((resolve, reject) => {
      const out = new Array<unknown>(reqs.length);
      let left = reqs.length;
      let failed = false;
      if (left === 0) return resolve(out);
      reqs.forEach((p, i) => {
        p.resolve = (v) => {
          out[i] = v;
          if (--left === 0 && !failed) resolve(out);
        };
        p.reject = (e) => {
          if (!failed) reject(e);
          failed = true;
        };
        this.pipeline.add(p);
      });
      this.pipeline.pump();
    });
  }

  private usable(): void {
    if (this.closed) throw new Error('the client is closed');
    if (this.pipeline.failure) throw this.pipeline.failure;
  }

  /** Requests accepted by the promise API and not yet answered. */
  get pending(): number {
    return this.pipeline.pending;
  }

  /**
   * Wait for outstanding requests, then release this client's windows and
   * stop its notifier. Further calls throw.
   */
  close(): Promise<void> {
    if (this.closing) return this.closing;
    this.closed = true;
    this.cache?.clear();
    this.closing = (async () => {
      await this.pipeline.close();
      // After a failure, windows may still be in flight: leave them to the
      // server's reaper (it reclaims them once this process exits) rather
      // than risk a late response landing in another client's window.
      if (this.pipeline.failure === null) this.conn.close();
    })();
    return this.closing;
  }
}

/** A promise of f()'s value, or of its exception. */
function settled(f: () => unknown): Promise<unknown> {
  try {
    return Promise.resolve(f());
  } catch (e) {
    return Promise.reject(e);
  }
}
