/**
 * One client process of the "library" section (spawned by library-measure.ts
 * as `node dist/bench/workers/library-worker.js '<LibTask JSON>'`): opens one
 * system the way a Node user would, then either prefills a data set or
 * measures one call on it, one at a time, at random keys, and prints a
 * LibReport as JSON.
 *
 *  - shmkv: `connect({ path })` (src/index.ts); get = getSync, set = setSync,
 *    aget = `await get()`, aset = `await set()`; hot = getSync of the first
 *    HOT_KEYS keys with `connect({ path, localCache: true })`.
 *  - lmdb: `open({ path })` with lmdb-js's defaults (string keys in its
 *    ordered-binary key encoding, msgpack values with shared structures,
 *    synced commits); get = `db.get`, set = `db.putSync` (one write
 *    transaction each); setns = putSync on the same environment opened with
 *    `noSync: true` (no fsync per commit: the durability of the other two).
 *  - redis: ioredis over the unix socket; get = `await redis.get`, set =
 *    `await redis.set`, one at a time; objects as JSON text.
 *  - lru: lru-cache in this process (`new LRUCache({ max: keys })`, filled
 *    before the warm-up); get and hot = `cache.get`, which returns the very
 *    object stored (no copy, no decoding).
 *
 * Object data sets (data.objects) hold objectOf(i); a get is checked by the
 * object's id, a string get by its length.
 *
 * A separate process per measurement, so process start-up, the connection
 * and the library's helper threads are outside the timed loop; a warm-up of
 * the same loop runs before the timing starts. Each system's package is
 * imported only when used, to keep the process start short.
 */
import { foreignCores, snapshot } from '../load/cpuload';
import { HOT_KEYS, keyOf, LibReport, LibTask, objectOf, randomOrder, valueOf } from '../report/library-data';

/** One operation on key index i; returns false when a get did not find the expected value. */
type Op = (i: number) => boolean | Promise<boolean>;

interface Opened {
  op: Op;
  prefill(): Promise<void>;
  close(): Promise<void>;
  encoding?: string;
}

async function openSystem(t: LibTask, keys: string[], values: unknown[]): Promise<Opened> {
  const len = t.data.valueBytes;
  const objects = t.data.objects === true;
  // A string get: the right length; an object get: the right id.
  const ok = (i: number, v: unknown): boolean => (objects ? (v as { id?: number } | undefined)?.id === 100000 + i : typeof v === 'string' && v.length === len);
  // Keys of the same length that no prefill wrote: a miss's cost.
  const missKeys = t.op === 'miss' ? keys.map((k) => `~${k.slice(1)}`) : keys;
  if (t.system === 'shmkv') {
    const { connect } = await import('../../src/index');
    const kv = connect({ path: t.target, ...(t.op === 'hot' ? { localCache: true } : {}) });
    const ops: Record<string, Op> = {
      get: (i) => ok(i, kv.getSync(keys[i])),
      hot: (i) => ok(i, kv.getSync(keys[i])),
      miss: (i) => kv.getSync(missKeys[i]) === undefined,
      set: (i) => (kv.setSync(keys[i], values[i]), true),
      aget: async (i) => ok(i, await kv.get(keys[i])),
      aset: async (i) => (await kv.set(keys[i], values[i]), true),
    };
    return {
      op: ops[t.op],
      prefill: async () => {
        for (let i = 0; i < keys.length; i++) kv.setSync(keys[i], values[i]);
      },
      close: () => kv.close(),
    };
  }
  if (t.system === 'lmdb') {
    const { open } = await import('lmdb');
    // Default options, as a user sharing data across processes would open it (setns: noSync for reference).
    const db = open<unknown, string>(t.op === 'setns' ? { path: t.target, noSync: true } : { path: t.target });
    const enc = (db as unknown as { encoding?: string }).encoding ?? 'msgpack (default)';
    return {
      op: t.op === 'get' ? (i) => ok(i, db.get(keys[i])) : t.op === 'miss' ? (i) => db.get(missKeys[i]) === undefined : (i) => (db.putSync(keys[i], values[i]), true),
      prefill: async () => {
        db.transactionSync(() => {
          for (let i = 0; i < keys.length; i++) db.putSync(keys[i], values[i]);
        });
      },
      close: () => db.close(),
      encoding: enc,
    };
  }
  if (t.system === 'lru') {
    const { LRUCache } = await import('lru-cache');
    const cache = new LRUCache<string, object>({ max: keys.length });
    for (let i = 0; i < keys.length; i++) cache.set(keys[i], values[i] as object);
    return {
      op: t.op === 'set' ? (i) => (cache.set(keys[i], values[i] as object), true) : (i) => ok(i, cache.get(keys[i])),
      prefill: async () => undefined, // in this process: filled above
      close: async () => undefined,
    };
  }
  const { Redis } = await import('ioredis');
  const redis = new Redis({ path: t.target, lazyConnect: true, maxRetriesPerRequest: 0, enableOfflineQueue: false });
  await redis.connect();
  const text = objects ? values.map((v) => JSON.stringify(v)) : (values as string[]);
  const parse = (s: string | null): unknown => (objects && s !== null ? JSON.parse(s) : s);
  return {
    op: t.op === 'get' ? async (i) => ok(i, parse(await redis.get(keys[i]))) : async (i) => (await redis.set(keys[i], objects ? JSON.stringify(values[i]) : text[i]), true),
    prefill: async () => {
      const batch = Math.max(1, Math.min(1000, (1 << 22) / ((objects ? 200 : len) + 16)));
      for (let i = 0; i < keys.length; i += batch) {
        const args: string[] = [];
        for (let j = i; j < Math.min(i + batch, keys.length); j++) args.push(keys[j], text[j]);
        await redis.mset(...args);
      }
    },
    close: async () => redis.disconnect(),
  };
}

/**
 * Run `op` at random keys for `ms` (at most maxOps operations), checking the
 * clock every `chunk` operations. Synchronous ops run without an await.
 */
async function loop(op: Op, order: Uint32Array, ms: number, maxOps: number, chunk: number, isAsync: boolean): Promise<{ ops: number; ms: number; bad: number }> {
  const mask = order.length - 1;
  let n = 0;
  let bad = 0;
  const t0 = performance.now();
  let t = t0;
  while (n < maxOps && t - t0 < ms) {
    const end = Math.min(n + chunk, maxOps);
    if (isAsync) for (; n < end; n++) bad += (await op(order[n & mask])) ? 0 : 1;
    else for (; n < end; n++) bad += (op(order[n & mask]) as boolean) ? 0 : 1;
    t = performance.now();
  }
  return { ops: n, ms: t - t0, bad };
}

async function main(t: LibTask): Promise<LibReport> {
  const keys: string[] = [];
  const values: unknown[] = [];
  for (let i = 0; i < t.data.keys; i++) {
    keys.push(keyOf(t.data, i));
    values.push(t.data.objects ? objectOf(i) : valueOf(t.data, i));
  }
  const sys = await openSystem(t, keys, values);
  try {
    if (t.mode === 'prefill') {
      await sys.prefill();
      return { ops: keys.length, ms: 0, kps: 0, bad: 0, foreignCores: null, encoding: sys.encoding };
    }
    const isAsync = t.system === 'redis' || t.op === 'aget' || t.op === 'aset';
    const chunk = t.data.valueBytes >= 4096 ? 1 : 64;
    const span = t.op === 'hot' ? Math.min(HOT_KEYS, t.data.keys) : t.data.keys;
    const order = randomOrder(span);
    await loop(sys.op, randomOrder(span, 777), t.warmupMs, t.maxOps, chunk, isAsync);
    const pids = [process.pid, ...t.ownPids];
    const before = snapshot(pids);
    const r = await loop(sys.op, order, t.timedMs, t.maxOps, chunk, isAsync);
    const fc = foreignCores(before, snapshot(pids));
    return { ops: r.ops, ms: r.ms, kps: r.ops / r.ms, bad: r.bad, foreignCores: fc === null ? null : Math.round(fc * 100) / 100, encoding: sys.encoding };
  } finally {
    await sys.close();
  }
}

main(JSON.parse(process.argv[2]) as LibTask).then(
  (r) => process.stdout.write(JSON.stringify(r) + '\n'),
  (e) => {
    process.stderr.write(`library-worker: ${(e as Error).stack ?? String(e)}\n`);
    process.exitCode = 1;
  },
);
