/**
 * The end-to-end sections (locking, scaling, compare, loaded): one repetition
 * of one point. At a comparison point this store, Redis and LMDB run back to
 * back; at a point of the loaded section this store also runs a quiet/loaded
 * pair. The order is rotated per repetition, so slow drifts of the machine
 * spread over all of them alike.
 */
import type { Workload } from '../../src/workload/workload';
import { BackgroundLoad, startLoad } from '../load/background-load';
import { foreignCores, snapshot } from '../load/cpuload';
import type { Options, SystemName } from '../harness/options';
import type { Point } from '../harness/plan';
import type { LoadedRuns, Run } from '../report/results';
import { RunResult, runLmdb, runRedis, runShmkv, runShmkvBudgeted } from '../harness/runner';
import { round } from '../report/stats';
import { ownPids, serverFor, Systems } from '../systems/systems';

/** Raw runs by point id and system, in the order measured. */
export type PointRuns = Map<string, Map<SystemName, Run[]>>;
/** Raw runs of the loaded section by point id. */
export type LoadedPointRuns = Map<string, LoadedRuns>;

/** One measurement of one system: a run record and its progress text. */
async function measureOnce(o: Options, sys: Systems, p: Point, w: Workload, rep: number, name: SystemName, pair: boolean, loadProcs: number): Promise<{ run: Run; text: string }> {
  const measure = (timed: boolean): Promise<RunResult> => {
    // The pair's runs, quiet and loaded alike, are capped in time as well as in requests.
    if (pair) return runShmkvBudgeted(serverFor(sys, p), w, o.loadedRequests, p.clientThreads, p.window, timed, o.loadedSeconds * 1000);
    const requests = o.requests;
    if (name === 'shmkv') return runShmkv(serverFor(sys, p), w, requests, p.clientThreads, p.window, timed);
    if (name === 'redis') return runRedis(sys.redis!, o.redisMode, w, requests, p.clientThreads, p.window, timed);
    return runLmdb(sys.lmdbDir!, w, requests, p.clientThreads, p.window, timed);
  };
  // Throughput from an untimed run, latency from a timed one (this
  // store only: for Redis and LMDB one clock read per request is far
  // below their noise, see the notes), unless --no-timing-split. The
  // loaded section splits the same way, so loaded / quiet compares like with like.
  const split = o.timingSplit && name === 'shmkv';
  let load: BackgroundLoad | null = null;
  let plain: RunResult | null;
  let timed: RunResult;
  let foreign: number | null;
  try {
    if (loadProcs > 0) load = await startLoad(loadProcs);
    // The load's CPU time counts as ours: foreignCores keeps measuring the rest of the machine.
    const pids = [...ownPids(sys), ...(load?.pids ?? [])];
    const before = snapshot(pids);
    plain = split ? await measure(false) : null;
    timed = await measure(true);
    foreign = foreignCores(before, snapshot(pids));
  } finally {
    await load?.stop();
  }
  const l = timed.latency!;
  const run = {
    rep,
    throughputKps: (plain ?? timed).throughputKps,
    timedThroughputKps: split ? timed.throughputKps : null,
    latencyUs: { p50: l.p50 / 1e3, p99: l.p99 / 1e3, p999: l.p999 / 1e3, max: l.max / 1e3, mean: l.mean / 1e3 },
    notFound: timed.notFound + (plain?.notFound ?? 0),
    foreignCores: foreign === null ? null : round(foreign, 2),
  };
  const text = `${run.throughputKps.toFixed(0)} K/s${split ? ` (timed ${timed.throughputKps.toFixed(0)})` : ''} p50 ${run.latencyUs.p50.toFixed(1)} us p99 ${run.latencyUs.p99.toFixed(1)} us${foreign !== null && foreign >= 0.25 ? ` [others: ${foreign.toFixed(1)} cores]` : ''}`;
  return { run, text };
}

/** Measure point `p` once per system (and the loaded pair), append the runs to `raw`/`loadedRaw`, return the progress line. */
export async function measurePoint(o: Options, sys: Systems, p: Point, w: Workload, rep: number, raw: PointRuns, loadedRaw: LoadedPointRuns): Promise<string> {
  // A point of the loaded section alone needs only its pair (its quiet run is the quiet figure).
  const candidates: SystemName[] = p.compare ? ['shmkv', 'redis', 'lmdb'] : p.sections.some((s) => s !== 'loaded') ? ['shmkv'] : [];
  // 'pair': this store quiet and loaded at o.loadedRequests, back to back.
  const entries: Array<SystemName | 'pair'> = candidates.filter((s) => o.systems.has(s));
  if (p.sections.includes('loaded')) entries.push('pair');
  for (let k = 0; k < rep % entries.length; k++) entries.push(entries.shift()!);
  const line: string[] = [];
  for (const entry of entries) {
    if (entry === 'pair') {
      if (!loadedRaw.has(p.id)) loadedRaw.set(p.id, { requests: o.loadedRequests, quiet: [], loaded: [] });
      const lr = loadedRaw.get(p.id)!;
      // Alternate which goes first: the run after a loaded one may start on caches the busy loops evicted.
      for (const loaded of rep % 2 ? [true, false] : [false, true]) {
        const { run, text } = await measureOnce(o, sys, p, w, rep, 'shmkv', true, loaded ? o.loadProcs : 0);
        (loaded ? lr.loaded : lr.quiet).push(run);
        line.push(`${loaded ? `loaded (${o.loadProcs} busy)` : 'quiet'} ${text}`);
      }
      continue;
    }
    const { run, text } = await measureOnce(o, sys, p, w, rep, entry, false, 0);
    if (!raw.has(p.id)) raw.set(p.id, new Map());
    const m = raw.get(p.id)!;
    if (!m.has(entry)) m.set(entry, []);
    m.get(entry)!.push(run);
    line.push(`${entry} ${text}`);
  }
  return line.join(' | ');
}
