/**
 * The end-to-end sections (locking, scaling, compare): one repetition of one
 * point. At a comparison point this store, Redis and LMDB run back to back,
 * in an order rotated per repetition, so slow drifts of the machine spread
 * over all systems alike.
 */
import type { Workload } from '../src/workload/workload';
import { foreignCores, snapshot } from './cpuload';
import type { Options, SystemName } from './options';
import type { Point } from './plan';
import type { Run } from './results';
import { RunResult, runLmdb, runRedis, runShmkv } from './runner';
import { round } from './stats';
import { ownPids, serverFor, Systems } from './systems';

/** Raw runs by point id and system, in the order measured. */
export type PointRuns = Map<string, Map<SystemName, Run[]>>;

/** Measure point `p` once per system, append the runs to `raw`, return the progress line. */
export async function measurePoint(o: Options, sys: Systems, p: Point, w: Workload, rep: number, raw: PointRuns): Promise<string> {
  const candidates: SystemName[] = p.compare ? ['shmkv', 'redis', 'lmdb'] : ['shmkv'];
  const systems = candidates.filter((s) => o.systems.has(s));
  for (let k = 0; k < rep % systems.length; k++) systems.push(systems.shift()!);
  const line: string[] = [];
  for (const name of systems) {
    const measure = (timed: boolean): Promise<RunResult> => {
      if (name === 'shmkv') return runShmkv(serverFor(sys, p), w, o.requests, p.clientThreads, p.window, timed);
      if (name === 'redis') return runRedis(sys.redis!, o.redisMode, w, o.requests, p.clientThreads, p.window, timed);
      return runLmdb(sys.lmdbDir!, w, o.requests, p.clientThreads, p.window, timed);
    };
    // Throughput from an untimed run, latency from a timed one (this
    // store only: for Redis and LMDB one clock read per request is far
    // below their noise, see the notes), unless --no-timing-split.
    const split = o.timingSplit && name === 'shmkv';
    const pids = ownPids(sys);
    const before = snapshot(pids);
    const plain = split ? await measure(false) : null;
    const timed = await measure(true);
    const foreign = foreignCores(before, snapshot(pids));
    const l = timed.latency!;
    const run = {
      rep,
      throughputKps: (plain ?? timed).throughputKps,
      timedThroughputKps: split ? timed.throughputKps : null,
      latencyUs: { p50: l.p50 / 1e3, p99: l.p99 / 1e3, p999: l.p999 / 1e3, max: l.max / 1e3, mean: l.mean / 1e3 },
      notFound: timed.notFound + (plain?.notFound ?? 0),
      foreignCores: foreign === null ? null : round(foreign, 2),
    };
    if (!raw.has(p.id)) raw.set(p.id, new Map());
    const m = raw.get(p.id)!;
    if (!m.has(name)) m.set(name, []);
    m.get(name)!.push(run);
    line.push(`${name} ${run.throughputKps.toFixed(0)} K/s${split ? ` (timed ${timed.throughputKps.toFixed(0)})` : ''} p50 ${run.latencyUs.p50.toFixed(1)} us p99 ${run.latencyUs.p99.toFixed(1)} us${foreign !== null && foreign >= 0.25 ? ` [others: ${foreign.toFixed(1)} cores]` : ''}`);
  }
  return line.join(' | ');
}
