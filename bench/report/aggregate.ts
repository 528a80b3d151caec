/**
 * From raw runs to the summaries in latest.json: medians over the
 * repetitions (and over the quiet ones), ratios of medians, targets, and the
 * run-wide noise and timing-overhead figures. Pure functions of the runs, so
 * --rerender can recompute everything from a stored results file.
 */
import type { SystemName } from '../harness/options';
import type { Point, TablePoint } from '../harness/plan';
import { LoadedResult, LoadedRuns, PointResult, QUIET_CORES, Results, Run, SystemResult, TableResult } from './results';
import { median, round } from './stats';
import { ceilingTargets, checkTableTargets, checkTargets } from './targets';
import { aggregateLibrary, libraryTargets } from './library-results';

/** One system's runs at one point: rounded, with medians over all of them and over the quiet ones. */
function aggregateSystem(runs: Run[]): SystemResult {
  const tp = runs.map((r) => r.throughputKps);
  const tt = runs.map((r) => r.timedThroughputKps).filter((x): x is number => x !== null);
  const quiet = runs.filter((r) => r.foreignCores !== null && r.foreignCores < QUIET_CORES);
  return {
    runs: runs.map((r) => ({
      ...r,
      throughputKps: round(r.throughputKps),
      timedThroughputKps: r.timedThroughputKps === null ? null : round(r.timedThroughputKps),
      latencyUs: r.latencyUs && Object.fromEntries(Object.entries(r.latencyUs).map(([k, x]) => [k, round(x, 2)])),
    })),
    median: {
      throughputKps: round(median(tp)),
      timedThroughputKps: tt.length ? round(median(tt)) : null,
      p50Us: round(median(runs.map((r) => r.latencyUs!.p50)), 2),
      p99Us: round(median(runs.map((r) => r.latencyUs!.p99)), 2),
      p999Us: round(median(runs.map((r) => r.latencyUs!.p999)), 2),
      foreignCores: runs.some((r) => r.foreignCores !== null) ? round(median(runs.map((r) => r.foreignCores ?? 0)), 2) : null,
    },
    quiet: { runs: quiet.length, throughputKps: quiet.length ? round(median(quiet.map((r) => r.throughputKps))) : null },
    min: round(Math.min(...tp)),
    max: round(Math.max(...tp)),
  };
}

/**
 * Medians over the repetitions (and over the quiet ones), ratios of medians;
 * `lr`: this store's quiet and loaded runs of the "loaded" section, if measured.
 */
export function aggregatePoint(p: Point, bySys: Map<SystemName, Run[]>, lr?: LoadedRuns): PointResult {
  const systems: Partial<Record<SystemName, SystemResult>> = {};
  for (const [sys, runs] of bySys) systems[sys] = aggregateSystem(runs);
  const ratios: Record<string, number> = {};
  const me = systems.shmkv;
  if (me) {
    for (const [other, key] of [['redis', 'vsRedis'], ['lmdb', 'vsLmdb']] as const) {
      const o = systems[other];
      if (!o) continue;
      ratios[key] = round(me.median.throughputKps / o.median.throughputKps, 2);
      if (me.quiet.throughputKps !== null && o.quiet.throughputKps !== null) ratios[`${key}Quiet`] = round(me.quiet.throughputKps / o.quiet.throughputKps, 2);
    }
  }
  // Only points of the loaded section get the key, so older results re-render unchanged.
  if (!lr || !lr.quiet.length || !lr.loaded.length) return { ...p, systems, ratios };
  const loaded: LoadedResult = { requests: lr.requests, quiet: aggregateSystem(lr.quiet), loaded: aggregateSystem(lr.loaded) };
  ratios.loadedVsQuiet = round(loaded.loaded.median.throughputKps / loaded.quiet.median.throughputKps, 3);
  return { ...p, systems, loaded, ratios };
}

export function aggregateTable(p: TablePoint, runs: TableResult['runs']): TableResult {
  const tp = runs.map((r) => r.throughputKps);
  const quiet = runs.filter((r) => r.foreignCores !== null && r.foreignCores < QUIET_CORES);
  return {
    id: p.id,
    workload: p.workload,
    threads: p.threads,
    locking: p.locking,
    runs: runs.map((r) => ({ ...r, throughputKps: round(r.throughputKps) })),
    median: {
      throughputKps: round(median(tp)),
      foreignCores: runs.some((r) => r.foreignCores !== null) ? round(median(runs.map((r) => r.foreignCores ?? 0)), 2) : null,
    },
    quiet: { runs: quiet.length, throughputKps: quiet.length ? round(median(quiet.map((r) => r.throughputKps))) : null },
    min: round(Math.min(...tp)),
    max: round(Math.max(...tp)),
  };
}

/** Fill in the derived parts of the results: targets, noise and timing-overhead summaries. */
export function finish(out: Results): void {
  out.table = (out.table ?? []).map((t) => aggregateTable(t, t.runs));
  if (out.library) out.library = aggregateLibrary(out.library);
  out.targets = [
    ...checkTargets(out.points),
    ...checkTableTargets(out.table),
    ...ceilingTargets(out.points, out.table),
    ...(out.library ? libraryTargets(out.library) : []),
  ];
  const runs = out.points.flatMap((p) => Object.values(p.systems).flatMap((s) => s!.runs));
  const fc = runs.map((r) => r.foreignCores).filter((x): x is number => x !== null);
  out.meta.foreignCoresMedian = fc.length ? round(median(fc), 2) : null;
  out.meta.quietRunsShare = fc.length ? round(fc.filter((x) => x < QUIET_CORES).length / fc.length, 2) : null;
  out.meta.foreignCoresNote =
    `average cores busy in processes other than the bench and its servers during each run (the machine may be shared); per run in points[].systems[].runs[].foreignCores; quiet runs: < ${QUIET_CORES} cores`;
  // Timing overhead of this store's timed runs, per window, on quiet runs.
  const byWindow: Record<string, number> = {};
  for (const w of [...new Set(out.points.map((p) => p.window))].sort((a, b) => a - b)) {
    const xs = out.points
      .filter((p) => p.window === w)
      .flatMap((p) => p.systems.shmkv?.runs ?? [])
      .filter((r) => r.timedThroughputKps !== null && r.foreignCores !== null && r.foreignCores < QUIET_CORES)
      .map((r) => 1 - r.timedThroughputKps! / r.throughputKps);
    if (xs.length) byWindow[`w${w}`] = round(median(xs) * 100, 1);
  }
  out.meta.timingOverheadPercentByWindow = byWindow;
  out.meta.timingOverheadNote =
    'median percent of throughput lost by the timed runs of this store (one process.hrtime.bigint() per request) against the untimed runs of the same repetition, quiet runs only; throughput figures come from untimed runs, latency percentiles from timed runs';
}
