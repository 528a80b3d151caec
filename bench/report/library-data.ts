/**
 * The "library" section's data sets and cases, shared by the orchestrator
 * (library-measure.ts) and the client process (library-worker.ts). A leaf
 * module: it imports nothing from the bench.
 *
 * Keys are 16-byte ASCII strings (`tag:000...0123`), values ASCII strings of
 * exactly the data set's size, both deterministic, so every process (the
 * prefill, each measuring client, every system) builds the same data.
 */

/**
 * A data set: `keys` keys of 16 bytes under `tag`, values of `valueBytes`
 * bytes; or, `objects`, the ~200 B objects of objectOf (issue 22).
 */
export interface DataSet {
  tag: string;
  keys: number;
  valueBytes: number;
  objects?: boolean;
}

/** lru: lru-cache in the measuring process itself (the in-process cache this store is compared with). */
export type LibSystem = 'shmkv' | 'lmdb' | 'redis' | 'lru';
/**
 * get/set: getSync/setSync (shmkv), get/putSync (lmdb), await GET/SET
 * (redis), get/set (lru); aget/aset: shmkv's one-at-a-time await
 * get()/set(); setns: lmdb putSync with noSync; hot: get of the first
 * HOT_KEYS keys only (shmkv: connect({ localCache: true })).
 */
export type LibOp = 'get' | 'set' | 'aget' | 'aset' | 'setns' | 'miss' | 'hot';

/** Keys the 'hot' calls read (random among the first HOT_KEYS of the data set). */
export const HOT_KEYS = 1000;

/** What one client process does. */
export interface LibTask {
  mode: 'prefill' | 'measure';
  system: LibSystem;
  op: LibOp;
  data: DataSet;
  /** shmkv region, lmdb environment directory, redis unix socket. */
  target: string;
  /** Warm-up, then timed, in ms; at most maxOps timed operations. */
  warmupMs: number;
  timedMs: number;
  maxOps: number;
  /** Processes whose CPU time is not "others'" (cpuload.ts), besides the worker itself. */
  ownPids: number[];
}

export interface LibReport {
  ops: number;
  ms: number;
  kps: number;
  /** Gets that found nothing or a value of the wrong length (0 expected). */
  bad: number;
  foreignCores: number | null;
  /** lmdb: the encoding it used for values (its default). */
  encoding?: string;
}

/** The headline data set of issue 9: 16-byte string keys, 100-byte string values. */
export function headlineData(keys: number): DataSet {
  return { tag: 'lib', keys, valueBytes: 100 };
}

/** The objects data set of issue 22: 16-byte string keys, objectOf values (about 200 B as JSON). */
export function objectData(keys: number): DataSet {
  return { tag: 'obj', keys, valueBytes: 0, objects: true };
}

/**
 * The i-th object: what a cache mostly holds (issue 22): an id, a name, an
 * email, roles, a flag, a score, tags and a timestamp, about 200 bytes as JSON.
 */
export function objectOf(i: number): { id: number; name: string; email: string; roles: string[]; verified: boolean; score: number; tags: string[]; updatedAt: number } {
  return {
    id: 100000 + i,
    name: `Ada Lovelace ${i}`,
    email: `ada.lovelace${i}@example.com`,
    roles: ['admin', 'editor'],
    verified: i % 2 === 0,
    score: 4.75 + (i % 100),
    tags: ['alpha', 'beta', 'gamma', 'delta'],
    updatedAt: 1_700_000_000_000 + i * 1000,
  };
}

/** The sweep's value sizes (issue 9: 16 B .. 1 MiB). */
export const SWEEP_SIZES = [16, 256, 4096, 65536, 1048576];

/** A sweep data set: fewer keys for big values (the 1 MiB set is 32 MiB per system). */
export function sweepData(valueBytes: number, quick: boolean): DataSet {
  const keys = valueBytes >= 1048576 ? 32 : valueBytes >= 65536 ? 256 : quick ? 2000 : 10000;
  return { tag: `v${valueBytes}`, keys, valueBytes };
}

/** The i-th key of a data set: 16 ASCII bytes. */
export function keyOf(d: DataSet, i: number): string {
  return `${d.tag}:${String(i).padStart(15 - d.tag.length, '0')}`;
}

/** The i-th value: `valueBytes` ASCII bytes that start with the index (so values differ). */
export function valueOf(d: DataSet, i: number): string {
  const head = `${i}:`;
  if (d.valueBytes <= head.length) return head.slice(0, d.valueBytes).padEnd(d.valueBytes, '.');
  return head + 'abcdefghijklmnopqrstuvwxyz0123456789'.repeat(Math.ceil(d.valueBytes / 36)).slice(0, d.valueBytes - head.length);
}

/** A fixed pseudo-random sequence of key indices (xorshift32), 2^16 long, cycled by the timed loops. */
export function randomOrder(keys: number, seed = 12345): Uint32Array {
  const out = new Uint32Array(1 << 16);
  let x = seed >>> 0 || 1;
  for (let i = 0; i < out.length; i++) {
    x ^= x << 13;
    x >>>= 0;
    x ^= x >>> 17;
    x ^= x << 5;
    x >>>= 0;
    out[i] = x % keys;
  }
  return out;
}
