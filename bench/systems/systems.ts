/**
 * The systems one run measures, started once up front and stopped at the end
 * (also on errors and signals): one ./server per server configuration, one
 * redis-server, one LMDB environment, each prefilled with every key.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { log } from '../harness/log';
import type { Options } from '../harness/options';
import type { Point } from '../harness/plan';
import { prefillLmdb, prefillRedis, prefillWorkload } from './prefill';
import { ensureRedisBinary, RedisHandle, startRedis } from './redis-server';
import { runShmkv } from '../harness/runner';
import { serverKey, ShmkvServer, startShmkv, stopShmkv } from './shmkv-server';

export interface Systems {
  /** This store's servers by serverKey(). */
  servers: Map<string, ShmkvServer>;
  redis: RedisHandle | null;
  lmdbDir: string | null;
  lmdbVersion: string | null;
  /** The "library" section's server (2 threads, fine locking; shared with the points that use it). */
  libServer: ShmkvServer | null;
  /** The "library" section's lmdb-js environment (default options). */
  libLmdbDir: string | null;
}

export function noSystems(): Systems {
  return { servers: new Map(), redis: null, lmdbDir: null, lmdbVersion: null, libServer: null, libLmdbDir: null };
}

/** The server that measures point `p`. */
export function serverFor(sys: Systems, p: Point): ShmkvServer {
  return sys.servers.get(serverKey(p.serverThreads, p.locking === 'coarse'))!;
}

/** Our own processes, whose CPU time does not count as "others" (cpuload.ts). */
export function ownPids(sys: Systems): number[] {
  return [process.pid, ...[...sys.servers.values()].map((s) => s.child.pid ?? 0), sys.redis?.pid ?? 0].filter((x) => x > 0);
}

/**
 * Start and prefill what the points need, into `sys` as they come up (so a
 * failure half-way still leaves stopSystems() everything to stop). Redis that
 * cannot be had is skipped with a note, and dropped from o.systems.
 */
export async function startSystems(sys: Systems, o: Options, points: Point[], notes: string[]): Promise<void> {
  const cmpPoints = points.filter((p) => p.compare);
  if (o.systems.has('shmkv')) {
    const prefill = prefillWorkload(o.keys);
    for (const p of points) {
      const k = serverKey(p.serverThreads, p.locking === 'coarse');
      if (sys.servers.has(k)) continue;
      const s = await startShmkv(p.serverThreads, p.locking === 'coarse', o.serverNodeArgs, o.policy);
      sys.servers.set(k, s);
      await runShmkv(s, prefill, prefill.count, 1, 16, false);
    }
    const lk = serverKey(2, false);
    if (o.sections.has('library') && !sys.servers.has(lk)) sys.servers.set(lk, await startShmkv(2, false, o.serverNodeArgs, o.policy));
    if (o.sections.has('library')) sys.libServer = sys.servers.get(lk)!;
    log(`bench: started and prefilled ${sys.servers.size} server(s): ${[...sys.servers.keys()].join(', ')}`);
  }
  const library = o.sections.has('library');
  if (o.systems.has('redis') && (cmpPoints.length || library)) {
    try {
      let bin: { bin: string; provenance: string };
      if (o.install) bin = ensureRedisBinary(log);
      else {
        bin = ensureRedisBinary(() => {
          throw new Error('redis-server is not installed and --no-install was given');
        });
      }
      sys.redis = await startRedis(bin.bin, bin.provenance);
      await prefillRedis(sys.redis, o.keys);
      log(`bench: redis-server ${sys.redis.version} (${bin.provenance}) on unix socket ${sys.redis.socket}, persistence off`);
    } catch (e) {
      const why = `Redis skipped: ${(e as Error).message}`;
      log(`bench: ${why}`);
      notes.push(why);
      o.systems.delete('redis');
    }
  }
  if (o.systems.has('lmdb') && cmpPoints.length) {
    sys.lmdbDir = fs.mkdtempSync(path.join(os.tmpdir(), 'shmkv-bench-lmdb-'));
    sys.lmdbVersion = await prefillLmdb(sys.lmdbDir, o.keys);
    log(`bench: lmdb ${sys.lmdbVersion} environment in ${sys.lmdbDir} (noSync), prefilled`);
  }
  if (o.systems.has('lmdb') && library) sys.libLmdbDir = fs.mkdtempSync(path.join(os.tmpdir(), 'shmkv-bench-lmdb-lib-'));
}

/** Stop everything startSystems() started; safe to call twice. */
export async function stopSystems(sys: Systems): Promise<void> {
  for (const s of sys.servers.values()) await stopShmkv(s).catch(() => undefined);
  sys.servers.clear();
  if (sys.redis) await sys.redis.stop().catch(() => undefined);
  sys.redis = null;
  if (sys.lmdbDir) fs.rmSync(sys.lmdbDir, { recursive: true, force: true });
  sys.lmdbDir = null;
  if (sys.libLmdbDir) fs.rmSync(sys.libLmdbDir, { recursive: true, force: true });
  sys.libLmdbDir = null;
  sys.libServer = null;
}
