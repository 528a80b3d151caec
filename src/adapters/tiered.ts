/**
 * shmkv/tiered: this store as each machine's first tier (L1), Redis as the
 * tier shared by every machine (L2), and Redis pub/sub to invalidate the
 * other machines' L1 when a key changes.
 *
 *   const cache = new TieredCache({ l1: connect({ path }), redis: new Redis(url) });
 *   // or l1: { path, start: true }: connect (and start the server) here
 *   await cache.fetch('user:1', loadUser, { ttl: 60_000 });   // L1, else Redis, else loadUser
 *   await cache.set('user:1', user);    // Redis, then every machine's L1 drops its copy
 *
 * WRITES are write-invalidate: SET/DEL in Redis first, then delete the key
 * from this machine's L1, then PUBLISH the key; each machine's subscriber
 * deletes it from its L1. The next read of the key on any machine refills
 * its L1 from Redis. (Writing the value into L1 instead would let two
 * machines writing one key leave the loser's value in its own L1.)
 *
 * READS go through the L1's fetch(): a miss takes the machine-wide lease,
 * puts a placeholder in the key (an entry that reads as absent), reads
 * Redis (GET and PTTL in one round trip) and stores what it read only over
 * that placeholder (a compare-and-set). An invalidation that lands while
 * the read is in flight deletes the placeholder, so the read's (possibly
 * older) value is returned to its caller and never stored: the argument,
 * interleaving by interleaving, is in client/fetch.ts ("THE ANCHOR").
 * Hence, as long as invalidations
 * are delivered, an L1 never keeps a value older than Redis's for longer
 * than one invalidation takes to arrive (measured in test/compat/tiered.test.ts,
 * figures in the README). Messages pub/sub loses (a subscriber that was
 * disconnected) are covered by the hard bound: L1 entries live at most
 * `l1Ttl` ms.
 *
 * ioredis is an optional peer: this module only imports its types; the
 * application creates the clients and passes them in.
 */
import * as v8 from 'node:v8';
import type { Redis } from 'ioredis';
import { Client, ClientOptions, connect } from '../client/client';

export interface TieredCacheOptions {
  /**
   * This machine's tier: a connected shmkv client, or the options to
   * connect one with (`{ path, start: true, server }` starts the machine's
   * server when none is live; the cache then closes that client itself).
   */
  l1: Client | ClientOptions;
  /** The shared tier: an ioredis client for commands. */
  redis: Redis;
  /**
   * Listen for other machines' invalidations (default true). One subscriber
   * per machine is enough (the L1 is machine-wide): a cluster can let only
   * its primary subscribe. More are harmless: deletes are idempotent.
   */
  subscribe?: boolean;
  /** The pub/sub channel (default 'shmkv:invalidate'); machines that share data share it. */
  channel?: string;
  /** Prefix of the keys in Redis (default ''). */
  prefix?: string;
  /** The hard staleness bound: an L1 entry lives at most this long, in ms (default 30,000). */
  l1Ttl?: number;
  /** Default time to live in Redis, in ms (default: none). */
  ttl?: number;
  /** How values travel through Redis (default: node:v8, which keeps the types the L1 keeps). */
  serialize?: (value: unknown) => Buffer;
  deserialize?: (bytes: Buffer) => unknown;
}

export interface TieredSetOptions {
  /** Time to live in ms, in Redis (and, capped by l1Ttl, in the L1s). */
  ttl?: number;
}

export const DEFAULT_CHANNEL = 'shmkv:invalidate';
export const DEFAULT_L1_TTL_MS = 30_000;

export class TieredCache {
  readonly l1: Client;
  readonly redis: Redis;
  /** Whether close() closes the L1 client (one this cache connected). */
  private readonly ownsL1: boolean;
  private readonly subscriber: Redis | null;
  private readonly channel: string;
  private readonly prefix: string;
  private readonly l1Ttl: number;
  private readonly ttl: number | undefined;
  private readonly serialize: (value: unknown) => Buffer;
  private readonly deserialize: (bytes: Buffer) => unknown;
  /** Resolves once the subscriber listens (immediately without one). */
  readonly ready: Promise<void>;
  /** Invalidations received from the channel and applied to the L1 (a diagnostic). */
  invalidations = 0;

  constructor(options: TieredCacheOptions) {
    this.redis = options.redis;
    this.channel = options.channel ?? DEFAULT_CHANNEL;
    this.prefix = options.prefix ?? '';
    this.l1Ttl = options.l1Ttl ?? DEFAULT_L1_TTL_MS;
    if (!(this.l1Ttl > 0) || !Number.isFinite(this.l1Ttl)) throw new RangeError(`l1Ttl must be a positive finite number of ms, got ${this.l1Ttl}`);
    this.ownsL1 = !(options.l1 instanceof Client);
    this.l1 = options.l1 instanceof Client ? options.l1 : connect(options.l1);
    this.ttl = options.ttl;
    this.serialize = options.serialize ?? ((v) => v8.serialize(v));
    this.deserialize = options.deserialize ?? ((b) => v8.deserialize(b));
    if (options.subscribe === false) {
      this.subscriber = null;
      this.ready = Promise.resolve();
    } else {
      // A connection in subscriber mode takes no other commands: a second one.
      this.subscriber = this.redis.duplicate();
      this.subscriber.on('message', (channel: string, key: string) => {
        if (channel !== this.channel) return;
        // Synchronous: one short request answered on this thread. A client's
        // first promise request that its spin does not see answered starts
        // the client's helper thread (80-150 ms on a loaded machine,
        // measured), and the first invalidation must not wait for that: in
        // the web bench it left the other machine stale for 150-330 ms.
        try {
          this.l1.deleteSync(key);
        } catch {
          // A failing L1 (its server gone, the client closed) surfaces on the next call; the bound still holds.
        }
        this.invalidations++;
      });
      // ioredis resubscribes by itself after a reconnect.
      this.ready = this.subscriber.subscribe(this.channel).then(() => undefined);
    }
  }

  /** The value of `key`: this machine's L1, else Redis (one GET per key per machine), else undefined. */
  get(key: string): Promise<unknown> {
    const l1Options = this.l1Options();
    return this.l1.fetch(key, () => this.readRedis(key, l1Options), l1Options);
  }

  /**
   * The value of `key`; when neither tier has it, `loader(key)` runs once on
   * this machine and its value is stored in Redis (with `ttl`), then in the L1.
   */
  fetch<V>(key: string, loader: (key: string) => V | Promise<V>, options: TieredSetOptions = {}): Promise<V | undefined> {
    const l1Options = this.l1Options();
    return this.l1.fetch(
      key,
      async () => {
        const hit = await this.readRedis(key, l1Options);
        if (hit !== undefined) return hit as V;
        const value = await loader(key);
        if (value === undefined) return undefined;
        const ttl = options.ttl ?? this.ttl;
        // Only if absent: when two machines miss together, both load, the
        // first one's value is the one every machine keeps.
        if (!(await this.writeRedis(key, this.serialize(value), ttl, true))) {
          const first = await this.readRedis(key, l1Options);
          if (first !== undefined) return first as V;
        }
        if (ttl !== undefined && ttl > 0) l1Options.ttl = Math.min(this.l1Ttl, ttl);
        return value;
      },
      l1Options,
    ) as Promise<V | undefined>;
  }

  /** Store `value` in Redis; every machine's L1 drops the key (write-invalidate). */
  async set(key: string, value: unknown, options: TieredSetOptions = {}): Promise<void> {
    await this.writeRedis(key, this.serialize(value), options.ttl ?? this.ttl);
    await this.invalidate(key);
  }

  /** Remove `key` from Redis and from every machine's L1; true when Redis held it. */
  async delete(key: string): Promise<boolean> {
    const n = await this.redis.del(this.prefix + key);
    await this.invalidate(key);
    return n > 0;
  }

  async has(key: string): Promise<boolean> {
    return (await this.get(key)) !== undefined;
  }

  /** Stop listening (and close an L1 client this cache connected); the Redis client stays the caller's to close. */
  async close(): Promise<void> {
    if (this.subscriber) {
      await this.ready.catch(() => undefined);
      this.subscriber.disconnect();
    }
    if (this.ownsL1) await this.l1.close();
  }

  private async invalidate(key: string): Promise<void> {
    // Locally first: this machine's readers see the write at once.
    await this.l1.delete(key);
    await this.redis.publish(this.channel, key);
  }

  /**
   * Options of the L1 store of one fill. fetch() reads them when it stores
   * the loaded value (after the loader), so the loader may lower `ttl` to
   * what Redis says is left.
   */
  private l1Options(): { ttl: number } {
    return { ttl: this.l1Ttl };
  }

  private async readRedis(key: string, l1Options?: { ttl: number }): Promise<unknown> {
    // GET and PTTL in one round trip: an L1 copy must not outlive Redis's.
    const res = await this.redis.multi().getBuffer(this.prefix + key).pttl(this.prefix + key).exec();
    if (!res) throw new Error('tiered: the Redis transaction was aborted');
    const [[getErr, bytes], [pttlErr, pttl]] = res as [[Error | null, Buffer | null], [Error | null, number]];
    if (getErr) throw getErr;
    if (pttlErr) throw pttlErr;
    if (bytes === null) return undefined;
    if (l1Options && pttl > 0) l1Options.ttl = Math.min(this.l1Ttl, pttl);
    return this.deserialize(bytes);
  }

  /** SET (NX when `ifAbsent`); whether it stored. */
  private async writeRedis(key: string, bytes: Buffer, ttl: number | undefined, ifAbsent = false): Promise<boolean> {
    const k = this.prefix + key;
    const px = ttl !== undefined && ttl > 0 && Number.isFinite(ttl) ? Math.ceil(ttl) : 0;
    let r: string | null;
    if (px > 0) r = ifAbsent ? await this.redis.set(k, bytes, 'PX', px, 'NX') : await this.redis.set(k, bytes, 'PX', px);
    else r = ifAbsent ? await this.redis.set(k, bytes, 'NX') : await this.redis.set(k, bytes);
    return r === 'OK';
  }
}
