/**
 * The four response caches of examples/web-service.ts, behind one
 * interface, so that bench/tools/web.ts compares them on the same service:
 *
 *   lru     lru-cache in each worker: coalesces the misses of one worker
 *           only, so each worker calls the backend once per key
 *   redis   Redis alone (ioredis): one GET per request, plus a SET on a
 *           miss; nothing coalesces concurrent misses
 *   shmkv   this store: fetch() coalesces every worker's misses, one
 *           backend call per key per machine, hits read shared memory
 *   tiered  this store in front of Redis (shmkv/tiered): as shmkv, plus
 *           Redis shared between machines (one backend call per key for all
 *           of them when they do not miss at the same moment)
 */
import { LRUCache } from 'lru-cache';
import { Redis } from 'ioredis';
import type { Client } from '../src/index';
import { TieredCache } from '../src/adapters/tiered';

export const VARIANTS = ['lru', 'redis', 'shmkv', 'tiered'] as const;
export type Variant = (typeof VARIANTS)[number];

export interface ResponseCache {
  /** The cached response for `key`, calling `load` on a miss. */
  fetch(key: string, load: () => Promise<string>): Promise<string>;
  close(): Promise<void>;
}

export interface CacheSetup {
  /** This machine's store (every variant but lru uses it; the rate limiter always does). */
  kv: Client;
  /** Unix socket of the Redis server (redis and tiered). */
  redisSocket?: string;
  /** Time to live of a cached response, ms. */
  ttl: number;
}

function redisClient(setup: CacheSetup): Redis {
  if (!setup.redisSocket) throw new Error('this variant needs --redis SOCKET');
  return new Redis({ path: setup.redisSocket });
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
        close: async () => redis.disconnect(),
      };
    }
    case 'shmkv':
      return {
        fetch: async (key, load) => (await setup.kv.fetch(key, load, { ttl })) as string,
        close: async () => undefined,
      };
    case 'tiered': {
      const redis = redisClient(setup);
      // The primary subscribes for the whole machine (web-service.ts).
      const cache = new TieredCache({ l1: setup.kv, redis, subscribe: false, l1Ttl: ttl });
      return {
        fetch: async (key, load) => (await cache.fetch(key, load, { ttl })) as string,
        close: async () => redis.disconnect(),
      };
    }
  }
}
