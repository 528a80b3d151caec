/**
 * A Keyv storage adapter (`import { KeyvShmkv } from 'shmkv/keyv'`):
 * `new Keyv({ store: new KeyvShmkv({ path }) })`, and through Keyv a store
 * for cache-manager 7 and cacheable 2.
 *
 * Written to the store contract of Keyv 5 (the line that @keyv/test-suite
 * 2, cache-manager 7 and cacheable 2 are built on; Keyv 6 needs Node >=
 * 22.19 and wraps an adapter like this one in its KeyvBridgeAdapter, which
 * hands it relative ttls, so the same methods serve it). Nothing is
 * imported from keyv: the contract is structural, so the package does not
 * depend on it.
 *
 * Keys arrive prefixed (`namespace:key` from Keyv 5, `namespace::key` from
 * Keyv 6's bridge) and are stored as string keys of
 * the machine-wide table, so every process on the machine using the same
 * namespace shares them. The two layouts overlap: Keyv 6's `users::z` is,
 * to Keyv 5, key `:z` of namespace `users`, so Keyv 5's clear() and
 * iterator() of a namespace take Keyv 6's keys of that namespace too (Keyv
 * 6's bridge keeps to its own, filtering by `users::`). No store could
 * tell them apart: Keyv 5's key ':z' and Keyv 6's 'z' are one string.
 * Keyv 5 and Keyv 6 processes should use different namespaces. Values arrive as Keyv hands them: serialized
 * strings by default (stored as strings, no codec), or `{ value, expires }`
 * objects when serialization is disabled (stored through the client's
 * codec, v8 by default, so Buffers, Dates and Maps survive). Expiry is the
 * store's own (native TTL, one monotonic clock for every process); Keyv
 * also checks the `expires` it wrote into the envelope, against Date.now().
 */
import { EventEmitter } from 'node:events';
import { Client, ClientOptions, connect } from '../client/client';

/**
 * No `namespace` option: the namespace is Keyv's to set (see `namespace`
 * below).
 */
export interface KeyvShmkvOptions extends ClientOptions {
  /** Use this connected client instead of connecting (it is not closed by disconnect()). */
  client?: Client;
}

/** One entry of setMany: Keyv 5 passes a relative `ttl`, Keyv 6 may pass an absolute `expires`. */
export interface KeyvShmkvEntry {
  key: string;
  value: unknown;
  ttl?: number;
  expires?: number;
}

/** What Keyv reads from `store.opts`. */
export interface KeyvShmkvOpts {
  /**
   * Keyv 5 wires an adapter's iterator() only when its `opts.dialect` is on
   * a fixed list of iterable backends (sqlite, postgres, mysql, mongo,
   * redis, valkey, etcd) and uses the field for nothing else. This store
   * iterates like Redis (a server-side table scanned by prefix), so it
   * says 'redis'; without it keyv.iterator() would not exist.
   */
  dialect: 'redis';
  /** shmkv://<region path>, for logs; Keyv only scans it for dialect names. */
  url: string;
  path: string | undefined;
  /** Keyv's test suite assigns serializer hooks here; the adapter ignores them. */
  [hook: string]: unknown;
}

/** Keyv's namespace separator (Keyv 5: `${namespace}:${key}`). */
const SEPARATOR = ':';

/**
 * Call order. The client's requests in flight together may run in any
 * order on the server's threads (README, Semantics), and its reads come
 * from the table without waiting for writes still in flight; but a Keyv
 * store is used as if it applied each call in the order it was made (Keyv's
 * own suite deletes a key without awaiting, then sets it: 165 of 1200
 * checks saw the delete win in test/compat/keyv-adapter.test.ts before this
 * existed). So the adapter orders calls itself, per client (adapters
 * sharing a client share its order): a call on a key starts once the
 * previous call on that key settled; clear() starts once every earlier call
 * settled and every later call starts after it; iterator() starts once
 * every earlier call settled. Calls on different keys still run together,
 * up to the client's window.
 */
class CallOrder {
  /** Per key, the last call made on it, while it has not settled. */
  private readonly tails = new Map<string, Promise<unknown>>();
  /** The last clear(), while it has not settled: every later call waits for it. */
  private barrier: Promise<unknown> | null = null;

  /** Run `op` after the previous call on `key` (and the last barrier) settled. */
  onKey<T>(key: string, op: () => Promise<T>): Promise<T> {
    const prev = this.tails.get(key) ?? this.barrier;
    const p = prev === null ? op() : prev.then(op, op);
    this.tails.set(key, p);
    const forget = (): void => {
      if (this.tails.get(key) === p) this.tails.delete(key);
    };
    p.then(forget, forget);
    return p;
  }

  /** Run `op` after every call made so far settled, and before any call made after this one. */
  alone<T>(op: () => Promise<T>): Promise<T> {
    const p = this.settled().then(op);
    this.tails.clear();
    this.barrier = p;
    const forget = (): void => {
      if (this.barrier === p) this.barrier = null;
    };
    p.then(forget, forget);
    return p;
  }

  /** Resolves once every call made so far settled (whatever each gave). */
  settled(): Promise<void> {
    return Promise.allSettled([...this.tails.values(), this.barrier]).then(() => undefined);
  }
}

const orders = new WeakMap<Client, CallOrder>();

export class KeyvShmkv extends EventEmitter {
  readonly opts: KeyvShmkvOpts;
  /**
   * Set by Keyv 5 (its `namespace` option, default 'keyv'), which prefixes
   * keys itself; scopes clear() and iterator(). Declared, never
   * initialized: Keyv 6's bridge treats a store that already has the
   * property as one that prefixes keys itself, and this one does not, so
   * under Keyv 6 the bridge prefixes (`namespace::key`) and finds a
   * namespace's keys for clear() through iterator().
   */
  declare namespace: string | undefined;
  readonly client: Client;
  /** Whether disconnect() closes the client (only one this adapter connected). */
  private readonly owned: boolean;
  /** The call order of this adapter's client, shared with every adapter on it. */
  private readonly order: CallOrder;

  constructor(options: KeyvShmkvOptions = {}) {
    super();
    const { client, ...connectOptions } = options;
    this.owned = client === undefined;
    this.client = client ?? connect(connectOptions);
    let order = orders.get(this.client);
    if (order === undefined) orders.set(this.client, (order = new CallOrder()));
    this.order = order;
    this.opts = { dialect: 'redis', url: `shmkv://${options.path ?? ''}`, path: options.path };
  }

  async get(key: string): Promise<unknown> {
    return this.order.onKey(key, () => this.client.get(key));
  }

  async getMany(keys: string[]): Promise<unknown[]> {
    return Promise.all(keys.map((k) => this.get(k)));
  }

  /**
   * Store `value`; `ttl` is relative ms (Keyv 5, and Keyv 6 through its
   * bridge). None or 0: the client's default (its `ttl` option, else the
   * server's --ttl, else never). Resolves true once the server applied it.
   */
  async set(key: string, value: unknown, ttl?: number): Promise<boolean> {
    return this.order.onKey(key, () => this.client.set(key, value, ttlOption(ttl)));
  }

  /** Pipelined through the client's window; Keyv 6's absolute `expires` becomes `expiresAt`. */
  async setMany(entries: KeyvShmkvEntry[]): Promise<boolean[]> {
    return Promise.all(
      entries.map((e) => {
        const opts = typeof e.expires === 'number' && e.ttl === undefined ? { expiresAt: e.expires } : ttlOption(e.ttl);
        return this.order.onKey(e.key, () => this.client.set(e.key, e.value, opts));
      }),
    );
  }

  async delete(key: string): Promise<boolean> {
    return this.order.onKey(key, () => this.client.delete(key));
  }

  /**
   * True when every key was deleted: the answer Keyv 5 gives itself for a
   * store without deleteMany (so a Keyv behaves the same either way), and
   * what the suite expects (false when none existed).
   */
  async deleteMany(keys: string[]): Promise<boolean> {
    const done = await Promise.all(keys.map((k) => this.delete(k)));
    return done.length > 0 && done.every(Boolean);
  }

  async has(key: string): Promise<boolean> {
    return this.order.onKey(key, () => this.client.has(key));
  }

  async hasMany(keys: string[]): Promise<boolean[]> {
    return Promise.all(keys.map((k) => this.has(k)));
  }

  /**
   * Delete this namespace's keys (`namespace:`-prefixed), found by scanning
   * the shared table; without a namespace, every string key of the table.
   * Other namespaces and non-string keys are untouched. Not atomic: a key
   * set by another process while clear() runs may survive it.
   */
  async clear(): Promise<void> {
    const prefix = this.prefix(this.namespace);
    await this.order.alone(async () => {
      const keys = this.client.keysWithPrefix(prefix);
      await Promise.all(keys.map((k) => this.client.delete(k)));
    });
  }

  /**
   * `[key, raw value]` for each live key of `namespace` (keys prefixed, as
   * stored; Keyv strips the prefix and checks its own expiry). The key list
   * is a scan taken when iteration starts; each value is read when yielded,
   * and keys deleted or expired since then are skipped.
   */
  async *iterator(namespace?: string): AsyncGenerator<[string, unknown], void> {
    await this.order.settled();
    const keys = this.client.keysWithPrefix(this.prefix(namespace ?? this.namespace));
    for (const key of keys) {
      const value = await this.get(key);
      if (value !== undefined) yield [key, value];
    }
  }

  /** Close the client if this adapter connected it (waits for its outstanding writes). */
  async disconnect(): Promise<void> {
    if (!this.owned) return;
    await this.order.settled();
    await this.client.close();
  }

  private prefix(namespace: string | undefined): string {
    return namespace ? `${namespace}${SEPARATOR}` : '';
  }
}

/** A usable relative ttl as the client's option; anything else leaves the default. */
function ttlOption(ttl: number | undefined): { ttl: number } | undefined {
  return typeof ttl === 'number' && ttl > 0 && Number.isFinite(ttl) ? { ttl } : undefined;
}
