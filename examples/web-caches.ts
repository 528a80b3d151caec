/**
 * The response caches of examples/web-service.ts, behind one interface,
 * so that bench/tools/web.ts compares them on the same service:
 *
 *   lru          lru-cache in each worker: coalesces the misses of one
 *                worker only, so each worker calls the backend once per key;
 *                a write reaches the writing worker's copy only
 *   redis        Redis alone (ioredis): one GET per request, plus a SET on a
 *                miss; nothing coalesces concurrent misses
 *   shmkv        this store: fetch() coalesces every worker's misses, one
 *                backend call per key per machine, hits read shared memory;
 *                a write reaches this machine only
 *   tiered       this store in front of Redis (shmkv/tiered): as shmkv, plus
 *                Redis shared between machines, and a write invalidates
 *                every machine's L1 through Redis pub/sub
 *   bento        Bentocache as its documentation sets it up for several
 *                instances: a memory L1 in each worker, Redis as L2, and
 *                its Redis bus (a write drops the other instances' L1 copies)
 *   bento-shmkv  Bentocache with this store as its L1 (shmkv/bentocache: one
 *                L1 per machine), Redis as L2, and shmkvBus
 *
 * A write (`write`) is what the service does after the source of truth
 * changed: store the new response so that every reader sees it.
 */
import { LRUCache } from 'lru-cache';
import { Redis } from 'ioredis';
import type { Client } from '../src/index';
import { TieredCache } from '../src/adapters/tiered';
import { shmkvBus, shmkvDriver } from '../src/adapters/bentocache';

export const VARIANTS = ['lru', 'redis', 'shmkv', 'tiered', 'bento', 'bento-shmkv'] as const;
export type Variant = (typeof VARIANTS)[number];

export interface ResponseCache {
  /** The cached response for `key`, calling `load` on a miss. */
  fetch(key: string, load: () => Promise<string>): Promise<string>;
  /** The response for `key` changed to `body`: readers must see it. */
  write(key: string, body: string): Promise<void>;
  close(): Promise<void>;
}

export interface CacheSetup {
  /** This machine's store (every variant but lru and bento uses it; the rate limiter always does). */
  kv: Client;
  /** Unix socket of the Redis server (redis, tiered, bento, bento-shmkv). */
  redisSocket?: string;
  /** Time to live of a cached response, ms. */
  ttl: number;
}

function redisClient(setup: CacheSetup): Redis {
  if (!setup.redisSocket) throw new Error('this variant needs --redis SOCKET');
  return new Redis({ path: setup.redisSocket });
}

/** The part of Bentocache's API the service uses. */
interface Bento {
  getOrSet(o: { key: string; factory: () => Promise<string>; ttl: number }): Promise<string>;
  set(o: { key: string; value: string; ttl: number }): Promise<boolean>;
  disconnect(): Promise<void>;
}

/* eslint-disable @typescript-eslint/no-explicit-any */
/** Bentocache and its bus are ES modules: loaded with require(esm), typed loosely (their .d.ts need a newer moduleResolution). */
function bentocache(setup: CacheSetup, l1: 'memory' | 'shmkv'): { bento: Bento; redis: Redis } {
  const { BentoCache, bentostore } = require('bentocache') as any;
  const { memoryDriver } = require('bentocache/drivers/memory') as any;
  const { redisDriver, redisBusDriver } = require('bentocache/drivers/redis') as any;
  const { RedisTransport } = require('@boringnode/bus/transports/redis') as any;
  const redis = redisClient(setup);
  const store = bentostore().useL2Layer(redisDriver({ connection: redis }));
  if (l1 === 'memory') store.useL1Layer(memoryDriver({ maxItems: 100_000 })).useBus(redisBusDriver({ connection: { path: setup.redisSocket } }));
  else store.useL1Layer(shmkvDriver({ client: setup.kv })).useBus(shmkvBus({ client: setup.kv, transport: new RedisTransport({ path: setup.redisSocket }) }));
  return { bento: new BentoCache({ default: 'web', stores: { web: store } }) as Bento, redis };
}

export function makeCache(variant: Variant, setup: CacheSetup): ResponseCache {
  const ttl = setup.ttl;
  switch (variant) {
    case 'lru': {
      const lru = new LRUCache<string, string, () => Promise<string>>({
        max: 100_000,
        ttl,
        fetchMethod: (_key, _stale, { context }) => context(),
      });
      return {
        fetch: async (key, load) => (await lru.fetch(key, { context: load }))!,
        write: async (key, body) => void lru.set(key, body),
        close: async () => undefined,
      };
    }
    case 'redis': {
      const redis = redisClient(setup);
      return {
        async fetch(key, load) {
          const hit = await redis.get(key);
          if (hit !== null) return hit;
          const body = await load();
          await redis.set(key, body, 'PX', ttl);
          return body;
        },
        write: async (key, body) => void (await redis.set(key, body, 'PX', ttl)),
        close: async () => redis.disconnect(),
      };
    }
    case 'shmkv':
      return {
        fetch: async (key, load) => (await setup.kv.fetch(key, load, { ttl })) as string,
        write: async (key, body) => void (await setup.kv.set(key, body, { ttl })),
        close: async () => undefined,
      };
    case 'tiered': {
      const redis = redisClient(setup);
      // The primary subscribes for the whole machine (web-service.ts).
      const cache = new TieredCache({ l1: setup.kv, redis, subscribe: false, l1Ttl: ttl });
      return {
        fetch: async (key, load) => (await cache.fetch(key, load, { ttl })) as string,
        write: (key, body) => cache.set(key, body, { ttl }),
        close: async () => redis.disconnect(),
      };
    }
    case 'bento':
    case 'bento-shmkv': {
      const { bento, redis } = bentocache(setup, variant === 'bento' ? 'memory' : 'shmkv');
      return {
        fetch: (key, load) => bento.getOrSet({ key, factory: load, ttl }),
        write: async (key, body) => void (await bento.set({ key, value: body, ttl })),
        close: async () => {
          await bento.disconnect();
          redis.disconnect();
        },
      };
    }
  }
}
