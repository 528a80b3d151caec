/** Every key 0..keys-1 gets a value before any measurement, in every system. */
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { Workload } from '../../src/workload/workload';
import { REPO } from '../harness/options';
import type { RedisHandle } from './redis-server';

/** All keys as puts, replayed through the client like any workload (this store). */
export function prefillWorkload(keys: number): Workload {
  const ops = new Uint8Array(new SharedArrayBuffer(keys));
  const k = new Uint32Array(new SharedArrayBuffer(4 * keys));
  const v = new Uint32Array(new SharedArrayBuffer(4 * keys));
  for (let i = 0; i < keys; i++) {
    ops[i] = 2;
    k[i] = i;
    v[i] = i + 1;
  }
  return { count: keys, ops, keys: k, values: v, lines: new Uint32Array(0) };
}

export async function prefillRedis(r: RedisHandle, keys: number): Promise<void> {
  const { Redis } = await import('ioredis');
  const c = new Redis({ path: r.socket, lazyConnect: true });
  await c.connect();
  await c.flushall();
  for (let i = 0; i < keys; i += 1000) {
    const args: Array<string | number> = [];
    for (let j = i; j < Math.min(i + 1000, keys); j++) args.push(String(j), j + 1);
    await c.mset(...args);
  }
  c.disconnect();
}

/** Prefill the LMDB environment in `dir`; returns the lmdb package's version. */
export async function prefillLmdb(dir: string, keys: number): Promise<string> {
  const { openStore } = await import('../workers/lmdb-worker');
  const db = openStore(dir);
  db.transactionSync(() => {
    for (let i = 0; i < keys; i++) db.putSync(i, i + 1);
  });
  await db.close();
  const pkg = JSON.parse(fs.readFileSync(path.join(REPO, 'node_modules', 'lmdb', 'package.json'), 'utf8')) as { version: string };
  return pkg.version;
}
