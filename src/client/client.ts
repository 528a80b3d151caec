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
 *
 * RESTARTS AND PAUSES of the server are ridden through (connection.ts):
 * reads go on from the table this client has mapped, writes wait up to
 * `reconnectMs` for a serving server; a new server at the path becomes the
 * one reads and writes use (its hash seed and limits included).
 */
import { Connection, ConnectOptions } from './connection';
import { Pipeline } from './pipeline';
import { SyncWindow } from './sync-window';
import { Pending, RequestBuilder, SetOptions } from './requests';
import { checkTtl, statusError } from './checks';
import { Fetcher, FetchOptions, FOUND_META, FOUND_STALE, INVALID_META } from './fetch';
import { readStats, Stats } from './stats';
import { Entries, Judged, tagKeys } from './entries';
import { Events, EventName, Listener } from './events';
import { Namespace } from './namespace';
import { rejecting, settled } from './promises';
import { NamespacedKey } from './reserved';
import { Enveloped, ValueCodec } from '../codec/value';
import { clientValues, STRUCTURES_KEY } from './structures';
import { LocalCache, LocalCacheOptions, MISS } from './local-cache';
import { DEFAULT_ENCODING, Encoding } from '../codec/structured';
import { checkWellFormed, decodeKey, Key, KeyEncoder } from '../store/keys';
import { ReadResult, TableReader } from '../store/table-reader';
import { KeyScan, scanSegment, scanStringKeys } from '../store/table-scan';
import { BUSY, Visit } from '../store/seqlock';
import { deadlineIn, monoNowMs } from '../store/clock';
import { ClientStat, isFetchMark, ValueTag } from '../layout/layout';
import { ClientStats } from '../transport/client-stats';
import type { Session } from './session';
import { ScanContendedError, TableCorruptError } from '../errors';

export { SetOptions } from './requests';
export { FetchOptions } from './fetch';
export { ClientEvents, EventName } from './events';
export { Namespace } from './namespace';
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

/** Options of a read. */
export interface GetOptions {
  /** Also return a value past its ttl that grace keeps (lru-cache's allowStale). */
  allowStale?: boolean;
}
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
  /** The window that adds shared record structures (structures.ts). */
  private readonly structuresWindow: SyncWindow;
  private readonly pipeline: Pipeline;
  private keyEnc: KeyEncoder;
  private req: RequestBuilder;
  /** The session keyEnc and req were made for (a new server has its own seed and limits). */
  private made: Session;
  private readonly ttlOption: number | undefined;
  private readonly fetcher: Fetcher;
  /** Tagged, namespaced and graced entries (entries.ts). */
  readonly envelopes: Entries;
  /** This process's listeners (events.ts): `on`/`off`. */
  readonly events: Events;
  /** This client's counters (ClientStat), published in the region's client stats line it claimed. */
  counters: Float64Array;
  private statsLine: number;
  private clientStats: ClientStats;
  /** The local cache of decoded values (connect({ localCache })), or null. */
  private cache: LocalCache | null;
  private readonly cacheOptions: LocalCacheOptions | true | null;
  /** This client's value codec (internal: fetch.ts, entries.ts). */
  readonly codec: ValueCodec;
  readonly encoding: Encoding;
  private closed = false;
  private closing: Promise<void> | null = null;

  constructor(options: ClientOptions = {}) {
    const width = options.window ?? DEFAULT_CLIENT_WINDOW;
    if (!Number.isInteger(width) || width < 1) throw new RangeError(`window must be a positive integer, got ${width}`);
    this.encoding = options.encoding ?? DEFAULT_ENCODING;
    if (!['v8', 'msgpack', 'json'].includes(this.encoding))
      throw new RangeError(`encoding must be 'msgpack', 'v8' or 'json', got ${String(options.encoding)}`);
    this.ttlOption = options.ttl === undefined ? undefined : checkTtl(options.ttl);
    const lc = options.localCache;
    if (lc !== undefined && typeof lc !== 'boolean' && (typeof lc !== 'object' || lc === null)) throw new TypeError(`localCache must be a boolean or { max, maxBytes }, got ${String(lc)}`);
    this.cacheOptions = lc === true ? true : lc ? lc : null;
    this.conn = Connection.open(options);
    const session = this.conn.current;
    this.made = session;
    const reader = session.reader;
    this.cache = this.cacheOptions === null ? null : new LocalCache(this.cacheOptions, reader, () => this.conn.beat);
    this.keyEnc = new KeyEncoder(reader.maxKeyBytes, reader.seed);
    // Windows: the synchronous calls', the pipeline's, and one for adding shared record structures (structures.ts).
    const first = session.reserve(2 + width);
    const values = clientValues(this.conn, session, this.encoding, first + 1 + width);
    this.codec = values.codec;
    this.structuresWindow = values.window;
    this.req = new RequestBuilder(this.keyEnc, this.codec, this.ttlOption ?? reader.defaultTtlMs);
    this.sync = new SyncWindow(this.conn, session, first, this.codec);
    this.pipeline = new Pipeline(this.conn, session, first + 1, width, this.codec, (s) => statusError(s, 'staging for a request'));
    this.envelopes = new Entries(this);
    this.fetcher = new Fetcher(this);
    this.events = new Events(() => {
      const s = readStats(this.conn, 0, 0);
      return { expirations: s.expirations, evictions: s.evictions };
    });
    this.clientStats = new ClientStats(this.conn.region.sab, this.conn.region.layout.clientStatsOffset);
    const claimed = this.clientStats.claim(process.pid);
    this.counters = claimed.counters;
    this.statsLine = claimed.line;
  }

  /** The server's limits on key and value sizes, in bytes (the current server's). */
  get maxKeyBytes(): number {
    return this.conn.reader.maxKeyBytes;
  }

  get maxValueBytes(): number {
    return this.conn.reader.maxValueBytes;
  }

  /** Keys, values and default ttl as the current server wants them (its seed, limits, --ttl). */
  private follow(): void {
    const cur = this.conn.current;
    if (cur === this.made) return;
    const a = this.made.reader;
    const b = cur.reader;
    this.made = cur;
    // The counters move to a line of the new server's region, their counts with them.
    const stats = new ClientStats(cur.region.sab, cur.region.layout.clientStatsOffset);
    const claimed = stats.claim(process.pid);
    claimed.counters.set(this.counters);
    this.clientStats.release(this.statsLine);
    this.clientStats = stats;
    this.counters = claimed.counters;
    this.statsLine = claimed.line;
    // Cached values were validated by another table's segment versions: none survives a move.
    if (this.cacheOptions !== null) this.cache = new LocalCache(this.cacheOptions, b, () => this.conn.beat);
    if (a.seed === b.seed && a.maxKeyBytes === b.maxKeyBytes && a.maxValueBytes === b.maxValueBytes && a.defaultTtlMs === b.defaultTtlMs) return;
    this.keyEnc = new KeyEncoder(b.maxKeyBytes, b.seed);
    this.req = new RequestBuilder(this.keyEnc, this.codec, this.ttlOption ?? b.defaultTtlMs);
  }

  // ---- reads: straight from the shared table --------------------------------------

  /**
   * The value under `key`, or undefined. Never waits for a server thread
   * (unless contended). A value past its ttl that grace keeps reads as
   * absent unless `allowStale`.
   */
  getSync(key: Key, options?: GetOptions): unknown {
    const allowStale = options !== undefined && options.allowStale === true;
    if (this.cache !== null && !allowStale) return this.cachedGet(key, true);
    const r = this.direct(key, true, allowStale);
    if (r === ReadResult.Found) return this.codec.decode(this.conn.reader);
    if (r === ReadResult.Absent) return undefined;
    if (r === ReadResult.Contended) return this.opened(this.runSync(this.req.read(key)), options);
    return this.openedLast(r);
  }

  /**
   * A get through the local cache (local-cache.ts); `sync`: a contended
   * read blocks, else a promise. Plain values only: an envelope (tags,
   * namespaces, grace) is judged at every read (a tag's token lives under
   * another key, whose change no cached entry would see), never cached.
   */
  private cachedGet(key: Key, sync: boolean): unknown {
    this.usable();
    this.conn.checkLive();
    if (this.conn.current !== this.made) this.follow();
    const cache = this.cache!;
    const v = cache.lookup(key);
    if (v !== MISS) {
      this.counters[v === undefined ? ClientStat.Misses : ClientStat.Hits]++;
      if (this.events.listening) this.emitRead(key, v === undefined ? ReadResult.Absent : ReadResult.Found);
      return v;
    }
    const r = this.direct(key, true);
    if (r === ReadResult.Found) return cache.fill(key, () => this.codec.decode(this.conn.reader));
    cache.drop(key);
    if (r === ReadResult.Absent) return undefined;
    if (r !== ReadResult.Contended) return this.openedLast(r);
    return sync ? this.opened(this.runSync(this.req.read(key)), undefined) : this.enqueue(this.req.read(key)).then((x) => this.opened(x, undefined));
  }

  /** Whether `key` holds a value. */
  hasSync(key: Key): boolean {
    return this.getSync(key) !== undefined;
  }

  /**
   * Remaining time to live of `key` in ms: Infinity when it never expires,
   * undefined when absent (or stale: for a graced entry, the time until it
   * turns stale).
   */
  ttlSync(key: Key): number | undefined {
    const r = this.direct(key, true);
    if (r === ReadResult.Absent || r === INVALID_META) return undefined;
    if (r === ReadResult.Contended) return this.getSync(key) === undefined ? undefined : this.ttlSync(key);
    const at = r === FOUND_META && this.envelopes.last!.freshUntil !== 0 ? this.envelopes.last!.freshUntil : this.conn.reader.expires;
    // Whole ms, rounded up (Redis's PTTL is whole ms too): a live key never reports 0.
    return at === 0 ? Infinity : Math.max(0, Math.ceil(at - monoNowMs()));
  }

  /**
   * The value under `key`, or undefined; answered from the table without a
   * hand-off (a contended read asks the server through the pipeline).
   */
  get(key: Key, options?: GetOptions): Promise<unknown> {
    return rejecting(() => {
      const allowStale = options !== undefined && options.allowStale === true;
      if (this.cache !== null && !allowStale) return settled(() => this.cachedGet(key, false));
      const r = this.direct(key, true, allowStale);
      if (r === ReadResult.Found) return settled(() => this.codec.decode(this.conn.reader));
      if (r === ReadResult.Absent) return Promise.resolve(undefined);
      if (r === ReadResult.Contended) return this.enqueue(this.req.read(key)).then((v) => this.opened(v, options));
      return settled(() => this.openedLast(r));
    });
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
    return rejecting(() => Promise.all([...keys].map((k) => this.get(k))));
  }

  getManySync(keys: Iterable<Key>): unknown[] {
    return [...keys].map((k) => this.getSync(k));
  }

  // ---- writes: requests to the server's threads --------------------------------------

  /**
   * Store `value` under `key`; returns when the server has applied it:
   * true, or false when `ifAbsent` found the key present.
   */
  setSync(key: Key, value: unknown, options?: SetOptions): boolean {
    if (options !== undefined && (options.tags !== undefined || options.grace !== undefined)) return this.setEnvelopedSync(key, value, options, []);
    // Written at once: a structured value is encoded straight into the window's staging block.
    const stored = this.runSync(this.req.set(key, value, options, true)) as boolean;
    if (this.events.listening && stored) this.emitKey('set', key);
    return stored;
  }

  /** The seed's name for setSync. */
  putSync(key: Key, value: unknown, options?: SetOptions): boolean {
    return this.setSync(key, value, options);
  }

  /** Remove `key`; true when it held a value. */
  deleteSync(key: Key): boolean {
    const deleted = this.runSync(this.req.delete(key)) as boolean;
    if (this.events.listening) this.emitKey('delete', key, deleted);
    return deleted;
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
    return rejecting(() => {
      if (options !== undefined && (options.tags !== undefined || options.grace !== undefined)) return this.setEnveloped(key, value, options, []);
      const p = this.enqueue(this.req.set(key, value, options)) as Promise<boolean>;
      return this.events.listening ? p.then((stored) => (stored && this.emitKey('set', key), stored)) : p;
    });
  }

  put(key: Key, value: unknown, options?: SetOptions): Promise<boolean> {
    return this.set(key, value, options);
  }

  delete(key: Key): Promise<boolean> {
    return rejecting(() => {
      const p = this.enqueue(this.req.delete(key)) as Promise<boolean>;
      return this.events.listening ? p.then((deleted) => (this.emitKey('delete', key, deleted), deleted)) : p;
    });
  }

  compareAndSet(key: Key, expected: unknown, next: unknown, options?: SetOptions): Promise<boolean> {
    return rejecting(() => this.enqueue(this.req.compareAndSet(key, expected, next, options, false)) as Promise<boolean>);
  }

  compareAndDelete(key: Key, expected: unknown): Promise<boolean> {
    return rejecting(() => this.enqueue(this.req.compareAndSet(key, expected, undefined, undefined, true)) as Promise<boolean>);
  }

  expire(key: Key, ttl: number): Promise<boolean> {
    return rejecting(() => this.enqueue(this.req.expire(key, deadlineIn(checkTtl(ttl)))) as Promise<boolean>);
  }

  persist(key: Key): Promise<boolean> {
    return rejecting(() => this.enqueue(this.req.expire(key, 0)) as Promise<boolean>);
  }

  /** incrSync's promise form. */
  incr(key: Key, delta = 1): Promise<number> {
    return rejecting(() => this.enqueue(this.req.incr(key, delta)) as Promise<number>);
  }

  /** Store many pairs, pipelined through the window; resolves when all are applied. */
  async setMany(entries: Iterable<readonly [Key, unknown]>, options?: SetOptions): Promise<void> {
    this.usable();
    if (options !== undefined && (options.tags !== undefined || options.grace !== undefined)) {
      await Promise.all([...entries].map(([k, v]) => this.setEnveloped(k, v, options, [])));
      return;
    }
    const reqs = [...entries].map(([k, v]) => this.req.set(k, v, options));
    await this.enqueueBatch(reqs);
  }

  putMany(entries: Iterable<readonly [Key, unknown]>, options?: SetOptions): Promise<void> {
    return this.setMany(entries, options);
  }

  /** setMany's sync form: one write after another through the sync window. */
  setManySync(entries: Iterable<readonly [Key, unknown]>, options?: SetOptions): void {
    for (const [k, v] of entries) this.setSync(k, v, options);
  }

  putManySync(entries: Iterable<readonly [Key, unknown]>, options?: SetOptions): void {
    this.setManySync(entries, options);
  }

  /**
   * The cached value of `key`; when absent, exactly one caller on the whole
   * machine runs `loader(key)` while the others wait for its result (fetch.ts).
   */
  fetch<V>(key: Key, loader: (key: Key) => V | Promise<V>, options?: FetchOptions): Promise<V | undefined> {
    return rejecting(() => this.fetcher.fetch(key, loader, options));
  }

  /** fetch() on behalf of a namespace: its values carry the namespace tokens `implicit`. */
  fetchWith<V>(key: Key, loader: (key: Key) => V | Promise<V>, options: FetchOptions | undefined, implicit: Uint8Array[]): Promise<V | undefined> {
    return rejecting(() => this.fetcher.fetch(key, loader, options, implicit as NamespacedKey[]));
  }

  // ---- tags, namespaces, events (entries.ts, namespace.ts, events.ts) -------------

  /**
   * Drop every entry carrying one of `tags`, machine-wide: once this
   * returns, every process reads them as absent. One write per tag,
   * whatever the number of tagged entries (entries.ts).
   */
  async deleteByTag(tags: readonly string[]): Promise<void> {
    this.usable();
    await this.envelopes.invalidate(tagKeys(tags));
  }

  deleteByTagSync(tags: readonly string[]): void {
    this.usable();
    this.envelopes.invalidateSync(tagKeys(tags));
  }

  /** A view with its own keys, clear() and size (namespace.ts). */
  namespace(name: string): Namespace {
    this.usable();
    return new Namespace(this, [name]);
  }

  /** Listen to this client's events (events.ts); costs nothing while nobody listens. */
  on<E extends EventName>(name: E, listener: Listener<E>): this {
    this.events.on(name, listener);
    return this;
  }

  off<E extends EventName>(name: E, listener: Listener<E>): this {
    this.events.off(name, listener);
    return this;
  }

  /** set() of an enveloped entry (tags, grace, a namespace's tokens `implicit`). */
  async setEnveloped(key: Key, value: unknown, options: SetOptions, implicit: Uint8Array[]): Promise<boolean> {
    const tokens = await this.envelopes.tokens([...(implicit as NamespacedKey[]), ...tagKeys(options.tags)]);
    const stored = (await this.request((req) => this.envelopes.write(req, key, value, options, tokens))) as boolean;
    if (this.events.listening && stored) this.emitKey('set', key);
    return stored;
  }

  setEnvelopedSync(key: Key, value: unknown, options: SetOptions, implicit: Uint8Array[]): boolean {
    const tokens = this.envelopes.tokensSync([...(implicit as NamespacedKey[]), ...tagKeys(options.tags)]);
    const stored = this.requestSync((req) => this.envelopes.write(req, key, value, options, tokens)) as boolean;
    if (this.events.listening && stored) this.emitKey('set', key);
    return stored;
  }

  /** Remove every key of the whole machine's table (segment by segment: writes racing the clear may survive it). */
  clearSync(): void {
    this.runSync(this.req.clear());
  }

  clear(): Promise<void> {
    return rejecting(() => this.enqueue(this.req.clear()) as Promise<void>);
  }

  /**
   * Every key of the whole machine's table, read directly one segment at a
   * time (each segment a consistent snapshot), yielding to the event loop
   * between segments. A key present for the whole scan is yielded exactly
   * once; keys set or deleted meanwhile may or may not be. Expired keys
   * are not yielded.
   */
  async *keys(): AsyncGenerator<Key> {
    const seqlock = this.conn.reader.seqlock;
    const scan = new KeyScan();
    for (let seg = 0; seg < seqlock.segments; seg++) {
      let giveUpAt = 0;
      let torn = 0;
      for (let attempt = 0; ; attempt++) {
        this.usable();
        this.conn.checkLive();
        const r = seqlock.attempt(seg, scan);
        if (r === Visit.Found) break;
        if (r !== BUSY && ++torn >= 3) throw new TableCorruptError(`keys(): segment ${seg} is stable and makes no sense`);
        if (attempt < SCAN_QUICK_ATTEMPTS) await new Promise((r) => setImmediate(r));
        else {
          if (giveUpAt === 0) giveUpAt = Date.now() + SCAN_PATIENCE_MS;
          else if (Date.now() > giveUpAt) throw new ScanContendedError(seg);
          await new Promise((r) => setTimeout(r, 1));
        }
      }
      for (const material of scan.found.slice()) yield decodeKey(material);
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
   * expired count until the server's sweeper reclaims them. The table's
   * shared record structures (a pinned system key) are not counted.
   */
  get size(): number {
    const n = this.conn.reader.size();
    return n > 0 && this.hasSync(STRUCTURES_KEY) ? n - 1 : n;
  }

  /**
   * String keys that start with `prefix`, read from the shared table
   * segment by segment (table-scan.ts: not atomic as a whole, like Redis's
   * SCAN; expired entries not yet reclaimed are listed, so get() each key).
   */
  keysWithPrefix(prefix: string): string[] {
    this.usable();
    if (typeof prefix !== 'string') throw new TypeError(`a key prefix must be a string, got ${typeof prefix}`);
    checkWellFormed(prefix, 'a key prefix');
    this.conn.checkLive();
    return scanStringKeys(this.conn.reader.seqlock, prefix);
  }

  /** Counters of the server and its table, and this process's hits and misses (stats.ts). */
  stats(): Stats {
    this.usable();
    const c = this.cache;
    const s = readStats(this.conn, this.counters[ClientStat.Hits], this.counters[ClientStat.Misses], c && { hits: c.hits, misses: c.misses, entries: c.entries, bytes: c.bytes });
    s.machine = this.clientStats.sum().counters;
    return s;
  }

  // ---- internals ---------------------------------------------------------------------

  /**
   * The direct read of `key`, counted (a hit or a miss) and reported
   * (events): Found puts the value in reader; an envelope (meta.ts) is
   * judged: FOUND_META (fresh) or FOUND_STALE (allowStale) put it in
   * entries.last, INVALID_META is a miss (a token changed, or stale).
   */
  direct(key: Key, copyBytes: boolean, allowStale = false): number {
    this.usable();
    this.conn.checkLive();
    if (this.conn.current !== this.made) this.follow();
    this.keyEnc.encode(key);
    const reader = this.conn.reader;
    let r: number = reader.read(this.keyEnc.bytes, this.keyEnc.length, this.keyEnc.hash, copyBytes);
    if (r === ReadResult.Corrupt) throw new TableCorruptError('a direct read found a stable segment that makes no sense');
    // fetch()'s leases and failure marks are not values; an envelope is judged.
    if (r === ReadResult.Found && (reader.tag === ValueTag.Meta || isFetchMark(reader.tag))) r = reader.tag === ValueTag.Meta ? this.judge(reader.bytes!, allowStale) : ReadResult.Absent;
    if (r === ReadResult.Found || r === FOUND_META || r === FOUND_STALE) this.counters[ClientStat.Hits]++;
    else if (r === ReadResult.Absent || r === INVALID_META) this.counters[ClientStat.Misses]++;
    if (this.events.listening) this.emitRead(key, r);
    return r;
  }

  private judge(bytes: Buffer, allowStale: boolean): number {
    const j = this.envelopes.judge(bytes);
    if (j === Judged.Fresh) return FOUND_META;
    return j === Judged.Stale && allowStale ? FOUND_STALE : INVALID_META;
  }

  /** A server read's answer, opened when it is an envelope. */
  private opened(v: unknown, options: GetOptions | undefined): unknown {
    if (!(v instanceof Enveloped)) return v;
    const r = this.judge(v.bytes, options !== undefined && options.allowStale === true);
    return this.openedLast(r);
  }

  /** The value of the envelope judged last (r: its verdict), counting a stale one served. */
  private openedLast(r: number): unknown {
    if (r === INVALID_META) return undefined;
    if (r === FOUND_STALE) this.counters[ClientStat.StaleServed]++;
    return this.codec.decode(this.envelopes.last!.raw);
  }

  // Events are built as plain literals, one shape each: a spread such as
  // { ...ns, stale } cost ~900 ns of CPU per read with a listener
  // (bench/tools/events-ab.ts, docs/PERFORMANCE.md), several times the read.
  private emitRead(key: Key, r: number): void {
    const hit = r === ReadResult.Found || r === FOUND_META || r === FOUND_STALE;
    if (!hit && r !== ReadResult.Absent && r !== INVALID_META) return;
    const ev = this.events;
    if (key instanceof NamespacedKey) {
      if (hit) ev.emit('hit', { key: key.userKey, namespace: key.namespace, stale: r === FOUND_STALE });
      else ev.emit('miss', { key: key.userKey, namespace: key.namespace });
    } else if (hit) ev.emit('hit', { key, stale: r === FOUND_STALE });
    else ev.emit('miss', { key });
  }

  private emitKey(name: 'set' | 'delete', key: Key, deleted = true): void {
    const ev = this.events;
    if (key instanceof NamespacedKey) {
      if (name === 'set') ev.emit('set', { key: key.userKey, namespace: key.namespace });
      else ev.emit('delete', { key: key.userKey, namespace: key.namespace, deleted });
    } else if (name === 'set') ev.emit('set', { key });
    else ev.emit('delete', { key, deleted });
  }

  /**
   * A direct read that counts nothing, reports nothing and judges nothing
   * (fetch's leases, tag tokens): Found leaves the entry in `found`.
   */
  peekRaw(key: Key): ReadResult {
    this.usable();
    this.keyEnc.encode(key);
    const r = this.conn.reader.read(this.keyEnc.bytes, this.keyEnc.length, this.keyEnc.hash, true);
    if (r === ReadResult.Corrupt) throw new TableCorruptError('a direct read found a stable segment that makes no sense');
    return r;
  }

  /** Whether `key` holds a fresh value (envelopes judged), counting and reporting nothing. */
  liveSync(key: Key): boolean {
    const r = this.peekRaw(key);
    const reader = this.conn.reader;
    if (r === ReadResult.Found) return reader.tag === ValueTag.Meta ? this.envelopes.judge(reader.bytes!) === Judged.Fresh : !isFetchMark(reader.tag);
    if (r === ReadResult.Absent) return false;
    return this.opened(this.runSync(this.req.read(key)), undefined) !== undefined;
  }

  /**
   * Every key's material (reserved keys included), segment by segment,
   * blocking: each segment a consistent snapshot (table-scan.ts), waiting
   * out writers for at most SCAN_PATIENCE_MS.
   */
  materialsSync(): Buffer[] {
    this.usable();
    this.conn.checkLive();
    const seqlock = this.conn.reader.seqlock;
    const scan = new KeyScan(new Uint8Array(0), true);
    const out: Buffer[] = [];
    for (let seg = 0; seg < seqlock.segments; seg++) for (const m of scanSegment(seqlock, seg, scan)) out.push(m);
    return out;
  }

  /** The value under `key` by peekRaw (a contended read asks the server). */
  peek(key: Key): unknown {
    const r = this.peekRaw(key);
    if (r === ReadResult.Found) return this.conn.reader.tag === ValueTag.Meta || isFetchMark(this.conn.reader.tag) ? undefined : this.codec.decode(this.conn.reader);
    if (r === ReadResult.Absent) return undefined;
    const v = this.runSync(this.req.read(key));
    return v instanceof Enveloped ? undefined : v;
  }

  /** The last direct read's entry (after direct() returned Found). */
  get found(): TableReader {
    return this.conn.reader;
  }

  /** Run a request built by fetch.ts (leases) through the pipeline. */
  request(build: (req: RequestBuilder) => Pending): Promise<unknown> {
    return rejecting(() => {
      this.usable();
      return this.enqueue(build(this.req));
    });
  }

  /** request(), blocking (the sync window). */
  requestSync(build: (req: RequestBuilder) => Pending): unknown {
    return this.runSync(build(this.req));
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
    if (this.conn.current !== this.made) this.follow();
  }

  /** Requests accepted by the promise API and not yet answered. */
  get pending(): number {
    return this.pipeline.pending;
  }

  /**
   * Wait for outstanding requests, then give this client's windows back and
   * stop its notifier, whatever errors it met: a window a server may still
   * answer into goes to the server's reaper (transport/owners.ts), which
   * frees it once no server thread can write to it. Further calls throw.
   */
  close(): Promise<void> {
    if (this.closing) return this.closing;
    this.events.stop();
    this.cache?.clear();
    this.closing = (async () => {
      // Loads that went on after their caller had an answer still store their value.
      await this.fetcher.idle();
      this.closed = true;
      await this.pipeline.close();
      this.sync.close();
      this.structuresWindow.close();
      this.conn.close();
      this.clientStats.release(this.statsLine);
    })();
    return this.closing;
  }

  /**
   * close() when no promise request is outstanding: the windows are
   * released before it returns. With promise requests still in flight it
   * throws and closes nothing (only close() can wait for them).
   */
  closeSync(): void {
    if (this.closed) return;
    const n = this.pipeline.pending;
    if (n > 0) throw new Error(`closeSync(): ${n} promise request(s) still outstanding; await close() instead`);
    this.closed = true;
    this.events.stop();
    this.cache?.clear();
    // Nothing outstanding: the notifier touches no window any more.
    this.pipeline.closeIdle();
    this.sync.close();
    this.structuresWindow.close();
    this.conn.close();
    this.clientStats.release(this.statsLine);
    this.closing = Promise.resolve();
  }
}
