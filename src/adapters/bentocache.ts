/**
 * shmkv/bentocache: this store as a Bentocache driver, as the first tier
 * (L1, Bentocache's synchronous driver contract) or as the second (L2, the
 * same methods, async), and a bus transport for Bentocache's bus that fits
 * a machine-wide L1.
 *
 *   import { BentoCache, bentostore } from 'bentocache';
 *   import { redisDriver } from 'bentocache/drivers/redis';
 *   import { RedisTransport } from '@boringnode/bus/transports/redis';
 *   import { shmkvDriver, shmkvBus } from 'shmkv/bentocache';
 *
 *   const kv = connect({ path: '/run/app/shmkv' });
 *   const bento = new BentoCache({ default: 'app', stores: { app: bentostore()
 *     .useL1Layer(shmkvDriver({ client: kv }))
 *     .useL2Layer(redisDriver({ connection: redis }))
 *     .useBus(shmkvBus({ client: kv, transport: new RedisTransport(redis) })) } });
 *
 * THE BUS. Bentocache's bus tells the other instances' L1s that a key
 * changed (they expire or delete their copy). Its stock transports
 * deliver to every instance but the writer's, which is right for one
 * private L1 per process and wrong for an L1 shared by the machine: a
 * sibling process of the writer expires the writer's fresh entry (the same
 * entry), and the next reads on the machine go to the L2. shmkvBus wraps
 * any @boringnode/bus transport so that a message reaches each OTHER
 * machine (other server) once, never the writer's:
 *   - each message carries the writer's machine id (a random token under a
 *     reserved key of the store, made once per server with
 *     set-if-absent: every process of a machine reads the same one), and a
 *     message id; a receiver drops messages from its own machine;
 *   - the first process of a receiving machine to claim the message id
 *     (set-if-absent of a reserved key, 60 s to live) hands it to
 *     Bentocache; its siblings drop it: the machine's L1 is one.
 *
 * The driver imports nothing from Bentocache: the contracts are structural
 * (the types below follow bentocache 1.6's CacheDriver and
 * @boringnode/bus 0.9's Transport). Values are what Bentocache hands over
 * (its serialized entries), stored as they are.
 */
import { randomBytes } from 'node:crypto';
import { connect, Client, ClientOptions, internals } from '../client/client';
import { RESERVED_KEY_BYTE, ReservedKey } from '../store/keys';

export interface ShmkvDriverOptions extends ClientOptions {
  /** A connected client to use (left open by disconnect()); else one is connected with these options. */
  client?: Client;
  /** Keys are `prefix:key` (Bentocache passes its store prefix). */
  prefix?: string;
}

/** Bentocache's driver factory shape (CreateDriverResult). */
export interface DriverFactory<D> {
  options: Record<string, unknown>;
  factory: (config: Record<string, unknown>) => D;
}

function sanitize(prefix: unknown): string {
  return typeof prefix === 'string' ? prefix.replace(/:+$/, '') : '';
}

class Base {
  readonly prefix: string;
  protected readonly kv: Client;
  private readonly owned: boolean;

  constructor(protected readonly config: ShmkvDriverOptions) {
    this.prefix = sanitize(config.prefix);
    this.owned = config.client === undefined;
    this.kv = config.client ?? connect(config);
  }

  protected key(key: string): string {
    return this.prefix ? `${this.prefix}:${key}` : key;
  }

  protected child(namespace: string): ShmkvDriverOptions {
    return { ...this.config, client: this.kv, prefix: this.prefix ? `${this.prefix}:${namespace}` : namespace };
  }

  /** Keys of this prefix (every string key of the table without one): a scan of the table. */
  protected own(): string[] {
    return this.kv.keysWithPrefix(this.prefix ? `${this.prefix}:` : '');
  }

  protected close(): Promise<void> {
    return this.owned ? this.kv.close() : Promise.resolve();
  }
}

/** Bentocache's L1 contract: synchronous, on this machine's shared table. */
export class ShmkvL1Driver extends Base {
  readonly type = 'l1' as const;

  namespace(namespace: string): ShmkvL1Driver {
    return new ShmkvL1Driver(this.child(namespace));
  }

  get(key: string): string | undefined {
    return this.kv.getSync(this.key(key)) as string | undefined;
  }

  pull(key: string): string | undefined {
    const v = this.get(key);
    this.delete(key);
    return v;
  }

  /** Store `value`; `ttl` in ms (undefined: forever). */
  set(key: string, value: string, ttl?: number): boolean {
    this.kv.setSync(this.key(key), value, { ttl: ttl ?? 0 });
    return true;
  }

  getRemainingTtl(key: string): number | undefined {
    return this.kv.ttlSync(this.key(key));
  }

  clear(): void {
    for (const k of this.own()) this.kv.deleteSync(k);
  }

  delete(key: string): boolean {
    return this.kv.deleteSync(this.key(key));
  }

  deleteMany(keys: string[]): boolean {
    for (const k of keys) this.delete(k);
    return true;
  }

  disconnect(): Promise<void> {
    return this.close();
  }
}

/** Bentocache's L2 contract: the same methods, as promises. */
export class ShmkvL2Driver extends Base {
  readonly type = 'l2' as const;

  namespace(namespace: string): ShmkvL2Driver {
    return new ShmkvL2Driver(this.child(namespace));
  }

  async get(key: string): Promise<string | undefined> {
    return (await this.kv.get(this.key(key))) as string | undefined;
  }

  async pull(key: string): Promise<string | undefined> {
    const v = await this.get(key);
    await this.delete(key);
    return v;
  }

  async set(key: string, value: string, ttl?: number): Promise<boolean> {
    await this.kv.set(this.key(key), value, { ttl: ttl ?? 0 });
    return true;
  }

  async clear(): Promise<void> {
    await Promise.all(this.own().map((k) => this.kv.delete(k)));
  }

  delete(key: string): Promise<boolean> {
    return this.kv.delete(this.key(key));
  }

  async deleteMany(keys: string[]): Promise<boolean> {
    await Promise.all(keys.map((k) => this.delete(k)));
    return true;
  }

  disconnect(): Promise<void> {
    return this.close();
  }
}

/** For bentostore().useL1Layer(): this machine's shared table as Bentocache's L1. */
export function shmkvDriver(options: ShmkvDriverOptions = {}): DriverFactory<ShmkvL1Driver> {
  return { options: { ...options }, factory: (config) => new ShmkvL1Driver({ ...options, ...config, client: options.client } as ShmkvDriverOptions) };
}

/** For bentostore().useL2Layer(). */
export function shmkvL2Driver(options: ShmkvDriverOptions = {}): DriverFactory<ShmkvL2Driver> {
  return { options: { ...options }, factory: (config) => new ShmkvL2Driver({ ...options, ...config, client: options.client } as ShmkvDriverOptions) };
}

// ---- the bus ------------------------------------------------------------------------

type Serializable = string | number | boolean | null | Serializable[] | { [key: string]: Serializable };

/** @boringnode/bus's Transport contract. */
export interface BusTransport {
  setId(id: string): BusTransport;
  onReconnect(callback: () => void): void;
  publish(channel: string, message: Serializable): Promise<void>;
  subscribe<T extends Serializable>(channel: string, handler: (payload: T) => void | Promise<void>): Promise<void>;
  unsubscribe(channel: string): Promise<void>;
  disconnect(): Promise<void>;
}

/** What a wrapped message carries: the writer's machine, a message id, Bentocache's payload. */
interface Envelope {
  [key: string]: Serializable;
  machine: number;
  id: string;
  payload: Serializable;
}

const MACHINE_KEY = new ReservedKey([RESERVED_KEY_BYTE, 0x4d]); // 0xFF 'M'
const CLAIM_TTL_MS = 60_000;

function claimKey(id: string): ReservedKey {
  const b = Buffer.from(id, 'latin1');
  const k = new ReservedKey(2 + b.length);
  k[0] = RESERVED_KEY_BYTE;
  k[1] = 0x42; // 'B'
  k.set(b, 2);
  return k;
}

/** Counts of what a MachineBus did (measurements, tests). */
export interface MachineBusCounts {
  published: number;
  /** Messages dropped: from this machine, or already taken by a sibling process. */
  ownMachine: number;
  claimedBySibling: number;
  delivered: number;
}

/** A transport that delivers each message once per other machine (see the header). */
export class MachineBus implements BusTransport {
  readonly counts: MachineBusCounts = { published: 0, ownMachine: 0, claimedBySibling: 0, delivered: 0 };
  private readonly machine: number;

  constructor(
    private readonly kv: Client,
    private readonly inner: BusTransport,
  ) {
    this.machine = internals(kv).envelopes.tokensSync([MACHINE_KEY])[0].token;
  }

  setId(id: string): BusTransport {
    this.inner.setId(id);
    return this;
  }

  onReconnect(callback: () => void): void {
    this.inner.onReconnect(callback);
  }

  publish(channel: string, message: Serializable): Promise<void> {
    this.counts.published++;
    const env: Envelope = { machine: this.machine, id: randomBytes(12).toString('base64'), payload: message };
    return this.inner.publish(channel, env);
  }

  subscribe<T extends Serializable>(channel: string, handler: (payload: T) => void | Promise<void>): Promise<void> {
    return this.inner.subscribe<Envelope>(channel, async (env) => {
      if (typeof env !== 'object' || env === null || typeof env.id !== 'string') return;
      if (env.machine === this.machine) {
        this.counts.ownMachine++;
        return;
      }
      if (!(await this.kv.set(claimKey(env.id), 1, { ifAbsent: true, ttl: CLAIM_TTL_MS }))) {
        this.counts.claimedBySibling++;
        return;
      }
      this.counts.delivered++;
      await handler(env.payload as T);
    });
  }

  unsubscribe(channel: string): Promise<void> {
    return this.inner.unsubscribe(channel);
  }

  disconnect(): Promise<void> {
    return this.inner.disconnect();
  }
}

/** For bentostore().useBus(): `transport` (e.g. @boringnode/bus's RedisTransport) wrapped for a machine-wide L1. */
export function shmkvBus(options: { client: Client; transport: BusTransport; retryQueue?: Record<string, unknown> }): {
  options: Record<string, unknown>;
  factory: () => MachineBus;
} {
  return { options: { retryQueue: options.retryQueue }, factory: () => new MachineBus(options.client, options.transport) };
}
