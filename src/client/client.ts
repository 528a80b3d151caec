/**
 * The public client API: connect() to a running server, then get/set/has/
 * delete string, byte and u32 keys holding strings, bytes, numbers,
 * booleans, null or structured values, synchronously (`...Sync`, blocks the
 * calling thread) or with promises (the event loop never blocks or spins
 * beyond a 20 us poll).
 *
 * This file is the API and where its parts are put together; each part
 * lives in its own module:
 * - client-options.ts: connect()'s options and their checks;
 * - client-core.ts: the state (connection, windows, counters, local
 *   cache), following a new server, the two request paths, close;
 * - reads.ts: READS straight from the shared table (table-reader.ts): no
 *   server thread, no hand-off, linearizable; a contended read asks the
 *   server;
 * - writes.ts: WRITES that report events or carry envelopes; every write
 *   is a request (requests.ts) run through the sync window (sync-window.ts)
 *   or the promise pipeline of `window` windows (pipeline.ts);
 * - scans.ts: keys() and prefixes, segment by segment;
 * - hosts.ts: the narrow objects fetch.ts (fetch-host.ts) and
 *   namespace.ts (NamespaceHost) see instead of the Client.
 *
 * RESTARTS AND PAUSES of the server are ridden through (connection.ts):
 * reads go on from the table this client has mapped, writes wait up to
 * `reconnectMs` for a serving server; a new server at the path becomes the
 * one reads and writes use (its hash seed and limits included).
 */
import { ClientOptions, clientSettings, GetOptions } from './client-options';
import { ClientCore } from './client-core';
import { TableReads } from './reads';
import { Writes } from './writes';
import { scanKeys, scanPrefix } from './scans';
import { SetOptions } from './requests';
import { checkTtl } from './checks';
import { Fetcher, FetchOptions } from './fetch';
import { readStats, Stats } from './stats';
import { EventName, Listener } from './events';
import { Namespace, NamespaceHost } from './namespace';
import { lendInternals, namespaceHost } from './hosts';
import { rejecting, settled } from './promises';
import { STRUCTURES_KEY } from './structures';
import { Encoding } from '../codec/structured';
import { Key } from '../store/keys';
import { deadlineIn } from '../store/clock';
import { ClientStat } from '../layout/client-stats-area';

export { ClientOptions, GetOptions, DEFAULT_CLIENT_WINDOW } from './client-options';
export { SetOptions } from './requests';
export { FetchOptions } from './fetch-options';
export { ClientEvents, EventName } from './events';
export { Namespace } from './namespace';
export { Stats } from './stats';
export { TableFullError } from '../errors';
export { ClientInternals, internals } from './hosts';

/** Connect to the server whose region is at `options.path` (default ./shmem_file). */
export function connect(options: ClientOptions = {}): Client {
  return new Client(options);
}

export class Client {
  private readonly core: ClientCore;
  private readonly reads: TableReads;
  private readonly writes: Writes;
  private readonly fetcher: Fetcher;
  private readonly nsHost: NamespaceHost;

  constructor(options: ClientOptions = {}) {
    const core = (this.core = new ClientCore(options, clientSettings(options)));
    const reads = (this.reads = new TableReads(core));
    this.writes = new Writes(core, reads.envelopes);
    this.fetcher = new Fetcher(lendInternals(this, core, reads));
    this.nsHost = namespaceHost(this, core, reads, this.writes, this.fetcher);
  }

  /** The server's limits on key and value sizes, in bytes (the current server's). */
  get maxKeyBytes(): number {
    return this.core.maxKeyBytes;
  }

  get maxValueBytes(): number {
    return this.core.maxValueBytes;
  }

  /** The codec of this client's structured values (connect({ encoding })). */
  get encoding(): Encoding {
    return this.core.encoding;
  }

  // ---- reads: straight from the shared table (reads.ts) ------------------------------

  /**
   * The value under `key`, or undefined. Never waits for a server thread
   * (unless contended). A value past its ttl that grace keeps reads as
   * absent unless `allowStale`.
   */
  getSync(key: Key, options?: GetOptions): unknown {
    return this.reads.getSync(key, options);
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
    return this.reads.ttlSync(key);
  }

  /**
   * The value under `key`, or undefined; answered from the table without a
   * hand-off (a contended read asks the server through the pipeline).
   */
  get(key: Key, options?: GetOptions): Promise<unknown> {
    return this.reads.get(key, options);
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

  // ---- writes: requests to the server's threads (writes.ts, requests.ts) --------------

  /**
   * Store `value` under `key`; returns when the server has applied it:
   * true, or false when `ifAbsent` found the key present.
   */
  setSync(key: Key, value: unknown, options?: SetOptions): boolean {
    return this.writes.setSync(key, value, options);
  }

  /** setSync under the name of the u32 workload's verb (`put`). */
  putSync(key: Key, value: unknown, options?: SetOptions): boolean {
    return this.setSync(key, value, options);
  }

  /** Remove `key`; true when it held a value. */
  deleteSync(key: Key): boolean {
    return this.writes.deleteSync(key);
  }

  /** Store `next` only if `key` holds `expected` (undefined: only if absent); true when it stored. */
  compareAndSetSync(key: Key, expected: unknown, next: unknown, options?: SetOptions): boolean {
    return this.core.runSync(this.core.req.compareAndSet(key, expected, next, options, false)) as boolean;
  }

  /** Remove `key` only if it holds `expected`; true when it removed it. */
  compareAndDeleteSync(key: Key, expected: unknown): boolean {
    return this.core.runSync(this.core.req.compareAndSet(key, expected, undefined, undefined, true)) as boolean;
  }

  /** Give `key` a new time to live (ms; 0 or Infinity: never expires); false when absent. */
  expireSync(key: Key, ttl: number): boolean {
    return this.core.runSync(this.core.req.expire(key, deadlineIn(checkTtl(ttl)))) as boolean;
  }

  /** Make `key` never expire; false when absent. */
  persistSync(key: Key): boolean {
    return this.core.runSync(this.core.req.expire(key, 0)) as boolean;
  }

  /**
   * Atomically add `delta` (default 1) to the counter under `key`, absent
   * counting as 0; returns the new value. A u32 key holds a u32
   * counter (u32 values, wrapping modulo 2^32); any other key holds an
   * integer in the safe-integer range (a non-integer value is a TypeError,
   * an overflow a RangeError, as in Redis INCRBY).
   */
  incrSync(key: Key, delta = 1): number {
    return this.core.runSync(this.core.req.incr(key, delta)) as number;
  }

  set(key: Key, value: unknown, options?: SetOptions): Promise<boolean> {
    return this.writes.set(key, value, options);
  }

  put(key: Key, value: unknown, options?: SetOptions): Promise<boolean> {
    return this.set(key, value, options);
  }

  delete(key: Key): Promise<boolean> {
    return this.writes.delete(key);
  }

  compareAndSet(key: Key, expected: unknown, next: unknown, options?: SetOptions): Promise<boolean> {
    return rejecting(() => this.core.enqueue(this.core.req.compareAndSet(key, expected, next, options, false)) as Promise<boolean>);
  }

  compareAndDelete(key: Key, expected: unknown): Promise<boolean> {
    return rejecting(() => this.core.enqueue(this.core.req.compareAndSet(key, expected, undefined, undefined, true)) as Promise<boolean>);
  }

  expire(key: Key, ttl: number): Promise<boolean> {
    return rejecting(() => this.core.enqueue(this.core.req.expire(key, deadlineIn(checkTtl(ttl)))) as Promise<boolean>);
  }

  persist(key: Key): Promise<boolean> {
    return rejecting(() => this.core.enqueue(this.core.req.expire(key, 0)) as Promise<boolean>);
  }

  /** incrSync's promise form. */
  incr(key: Key, delta = 1): Promise<number> {
    return rejecting(() => this.core.enqueue(this.core.req.incr(key, delta)) as Promise<number>);
  }

  /** Store many pairs, pipelined through the window; resolves when all are applied. */
  setMany(entries: Iterable<readonly [Key, unknown]>, options?: SetOptions): Promise<void> {
    return this.writes.setMany(entries, options);
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

  /** Remove every key of the whole machine's table (segment by segment: writes racing the clear may survive it). */
  clearSync(): void {
    this.core.runSync(this.core.req.clear());
  }

  clear(): Promise<void> {
    return rejecting(() => this.core.enqueue(this.core.req.clear()) as Promise<void>);
  }

  // ---- fetch, tags, namespaces, events (fetch.ts, entries.ts, namespace.ts, events.ts) --

  /**
   * The cached value of `key`; when absent, exactly one caller on the whole
   * machine runs `loader(key)` while the others wait for its result (fetch.ts).
   */
  fetch<V>(key: Key, loader: (key: Key) => V | Promise<V>, options?: FetchOptions): Promise<V | undefined> {
    return rejecting(() => this.fetcher.fetch(key, loader, options));
  }

  /**
   * Drop every entry carrying one of `tags`, machine-wide: once this
   * returns, every process reads them as absent. One write per tag,
   * whatever the number of tagged entries (entries.ts).
   */
  deleteByTag(tags: readonly string[]): Promise<void> {
    return this.writes.deleteByTag(tags);
  }

  deleteByTagSync(tags: readonly string[]): void {
    this.writes.deleteByTagSync(tags);
  }

  /** A view with its own keys, clear() and size (namespace.ts). */
  namespace(name: string): Namespace {
    this.core.usable();
    return new Namespace(this.nsHost, [name]);
  }

  /** Listen to this client's events (events.ts); costs nothing while nobody listens. */
  on<E extends EventName>(name: E, listener: Listener<E>): this {
    this.core.events.on(name, listener);
    return this;
  }

  off<E extends EventName>(name: E, listener: Listener<E>): this {
    this.core.events.off(name, listener);
    return this;
  }

  // ---- scans (scans.ts) ----------------------------------------------------------------

  /**
   * Every key of the whole machine's table, read directly one segment at a
   * time (each segment a consistent snapshot), yielding to the event loop
   * between segments. A key present for the whole scan is yielded exactly
   * once; keys set or deleted meanwhile may or may not be. Expired keys
   * are not yielded.
   */
  keys(): AsyncGenerator<Key> {
    return scanKeys(this.core);
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
    const n = this.core.conn.reader.size();
    return n > 0 && this.hasSync(STRUCTURES_KEY) ? n - 1 : n;
  }

  /**
   * String keys that start with `prefix`, read from the shared table
   * segment by segment (table-scan.ts: not atomic as a whole, like Redis's
   * SCAN; expired entries not yet reclaimed are listed, so get() each key).
   */
  keysWithPrefix(prefix: string): string[] {
    return scanPrefix(this.core, prefix);
  }

  /** Counters of the server and its table, and this process's hits and misses (stats.ts). */
  stats(): Stats {
    const core = this.core;
    core.usable();
    const c = core.cache;
    const s = readStats(core.conn, core.counters[ClientStat.Hits], core.counters[ClientStat.Misses], c && { hits: c.hits, misses: c.misses, entries: c.entries, bytes: c.bytes });
    s.machine = core.clientStats.sum().counters;
    return s;
  }

  // ---- lifecycle (client-core.ts) ----------------------------------------------------

  /** Requests accepted by the promise API and not yet answered. */
  get pending(): number {
    return this.core.pipeline.pending;
  }

  /**
   * Wait for outstanding requests, then give this client's windows back and
   * stop its notifier, whatever errors it met: a window a server may still
   * answer into goes to the server's reaper (transport/owners.ts), which
   * frees it once no server thread can write to it. Further calls throw.
   */
  close(): Promise<void> {
    return this.core.close(() => this.fetcher.idle());
  }

  /**
   * close() when no promise request is outstanding: the windows are
   * released before it returns. With promise requests still in flight it
   * throws and closes nothing (only close() can wait for them).
   */
  closeSync(): void {
    this.core.closeSync();
  }
}
