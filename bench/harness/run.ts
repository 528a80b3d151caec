/**
 * `make bench` (node dist/bench/harness/run.js): the benchmark suite.
 *
 * One run measures, on the same generated workloads:
 *  - this store over a matrix of client threads x window x server threads x
 *    coarse/fine locking x workload mix (95% gets / 50-50 / 95% puts, uniform
 *    or zipf 0.99 keys): throughput and submit-to-completion latency
 *    percentiles;
 *  - Redis (ioredis over a unix socket, pipelined to the window depth) and
 *    LMDB (the lmdb package, embedded) at the comparison points, with the
 *    same client threads and requests in flight, interleaved with this store
 *    in every repetition;
 *  - the library calls (getSync/setSync, await get()/set()) on string keys
 *    and values from separate client processes against lmdb-js and Redis,
 *    quiet and loaded, and a value-size sweep (library-measure.ts);
 * and reports medians over the repetitions and ratios of medians, in
 * bench/results/latest.{json,md} and bench/results/throughput.svg.
 *
 * This file is the entry point and the top of the import graph; imports go
 * one way only, down: run -> measure-points/measure-table -> systems ->
 * runner -> shmkv-server, run -> library-measure -> library-results, and
 * run -> output -> aggregate -> targets/library-results, with
 * report, results, plan and options below (no module imports run.ts).
 * Flags: see `node dist/bench/harness/run.js -h` (options.ts).
 */
import * as os from 'node:os';
import * as path from 'node:path';
import { DEFAULT_WAIT_POLICY } from '../../src/sync/waiter';
import { generate } from '../../src/workload/generate';
import { parseWorkload, Workload } from '../../src/workload/workload';
import { aggregatePoint, finish } from '../report/aggregate';
import { log } from './log';
import { killAllLoad } from '../load/background-load';
import { libraryPlan, measureLibraryRep, prefillLibrary } from '../workers/library-measure';
import { LoadedPointRuns, measurePoint, PointRuns } from '../workers/measure-points';
import { measureTablePoint, tableArenas, TableRuns } from '../workers/measure-table';
import { Options, parseCommand, REPO, USAGE } from './options';
import { Plan, plan } from './plan';
import { rerender, writeOutputs } from './output';
import type { LibraryResult, Results, TableResult, Target } from '../report/results';
import { round } from '../report/stats';
import { noSystems, startSystems, stopSystems, Systems } from '../systems/systems';

/** Workloads: exactly what `./genworkload -n N -p PCT -k K [-z 0.99] -r SEED` writes. */
function generateWorkloads(o: Options, pl: Plan): Map<string, Workload> {
  const wls = new Map<string, Workload>();
  for (const [i, ws] of pl.workloads.entries()) {
    const t0 = Date.now();
    const g = generate({ count: o.requests, putPercent: ws.putPercent, keys: ws.keys ?? o.keys, zipf: ws.zipf ?? undefined, seed: 1 + i, threads: 1, window: 1, spread: false });
    wls.set(ws.id, parseWorkload(Buffer.from(g.workload), ws.id));
    log(`bench: workload ${ws.id} (${ws.label}) generated in ${Date.now() - t0} ms`);
  }
  return wls;
}

/** Everything measured so far, summarized (the run's meta first). */
function collect(
  o: Options,
  pl: Plan,
  sys: Systems,
  started: number,
  repsDone: number,
  raw: PointRuns,
  loadedRaw: LoadedPointRuns,
  tableRaw: TableRuns,
  library: LibraryResult | null,
  notes: string[],
): Results {
  const finished = Date.now();
  const out: Results = {
    meta: {
      // With the BENCH_* variables that changed the run (make bench passes BENCH_QUICK=1 that way).
      command: [
        ...['BENCH_QUICK', 'BENCH_REQUESTS', 'BENCH_REPS', 'BENCH_SYSTEMS', 'BENCH_SERVER_NODE_ARGS'].filter((v) => process.env[v]).map((v) => `${v}=${JSON.stringify(process.env[v])}`),
        `node ${path.relative(REPO, process.argv[1])} ${process.argv.slice(2).join(' ')}`.trim(),
      ].join(' '),
      quick: o.quick,
      complete: repsDone === o.reps,
      repsDone,
      started: new Date(started).toISOString(),
      durationSec: Math.round((finished - started) / 1000),
      requestsPerRun: o.requests,
      reps: repsDone,
      keys: o.keys,
      node: process.version,
      cpus: os.cpus().length,
      cpuModel: os.cpus()[0]?.model ?? '?',
      loadavgAtEnd: os.loadavg().map((x) => round(x, 2)),
      redis: sys.redis ? { version: sys.redis.version, binary: sys.redis.provenance, mode: o.redisMode } : null,
      lmdb: sys.lmdbVersion ? { version: sys.lmdbVersion, options: 'keyEncoding uint32, msgpack values, noSync' } : null,
      axes: o.axes,
      waitPolicy: o.policy ? { ...o.policy, note: 'experiment: servers run through bench/systems/server-child.js' } : { ...DEFAULT_WAIT_POLICY, note: './server and the library defaults' },
      ...(o.sections.has('loaded')
        ? {
            loaded: {
              procs: o.loadProcs,
              loadedRequests: o.loadedRequests,
              loadedSeconds: o.loadedSeconds,
              note: 'points of the "loaded" section also run beside this many busy-looping processes (bench/busy-loop.ts), started before and killed after each loaded run; points[].loaded: quiet and loaded runs back to back, each of up to loadedRequests requests (fewer once loadedSeconds are spent); ratios.loadedVsQuiet',
            },
          }
        : {}),
    },
    workloads: pl.workloads,
    points: pl.points.map((p) => aggregatePoint(p, raw.get(p.id) ?? new Map(), loadedRaw.get(p.id))),
    table: pl.tablePoints.map((p) => ({ ...p, runs: tableRaw.get(p.id) ?? [] }) as TableResult),
    ...(library ? { library } : {}),
    targets: [],
    notes,
  };
  finish(out);
  return out;
}

async function runBench(o: Options): Promise<number> {
  const started = Date.now();
  const pl = plan(o);
  const { points, tablePoints } = pl;
  const notes: string[] = [];
  const cmpPoints = points.filter((p) => p.compare);
  const loadedPoints = points.filter((p) => p.sections.includes('loaded'));
  log(
    `bench: ${points.length} points (${cmpPoints.length} compared with ${[...o.systems].filter((s) => s !== 'shmkv').join(' and ') || 'nothing'}` +
      `${loadedPoints.length ? `, ${loadedPoints.length} also beside ${o.loadProcs} busy-looping processes` : ''}), ` +
      `${o.requests} requests per run, ${o.reps} repetitions${o.quick ? ' (quick mode)' : ''}`,
  );
  const wls = generateWorkloads(o, pl);

  const sys = noSystems();
  let interrupted = false;
  const onSignal = (): void => {
    // The busy loops first: they would slow down everything else.
    killAllLoad();
    // `timeout` and a terminal's Ctrl-C may deliver the signal twice (to us and to our process group).
    if (interrupted) return;
    interrupted = true;
    log('bench: interrupted; stopping the servers');
    void stopSystems(sys).then(() => process.exit(130));
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);

  try {
    await startSystems(sys, o, points, notes);

    // Measure: every repetition walks all points, then the table points; the
    // results are rewritten after every repetition, so a stopped run leaves
    // its partial results.
    const raw: PointRuns = new Map();
    const loadedRaw: LoadedPointRuns = new Map();
    const tableRaw: TableRuns = new Map();
    const arenas = tableArenas(tablePoints, o.keys);
    // The library section: its own data sets, prefilled once; one step per repetition.
    const libRaw = o.sections.has('library') ? libraryPlan(o, sys) : null;
    if (libRaw) await prefillLibrary(o, sys, libRaw);
    let library: LibraryResult | null = null;
    let targets: Target[] = [];
    const total = o.reps * (points.length + tablePoints.length + (libRaw ? 1 : 0));
    let n = 0;
    for (let rep = 0; rep < o.reps; rep++) {
      for (const p of points) {
        n++;
        const line = await measurePoint(o, sys, p, wls.get(p.workload)!, rep, raw, loadedRaw);
        log(`bench: [${n}/${total}] rep ${rep + 1} ${p.id}: ${line}`);
      }
      for (const p of tablePoints) {
        n++;
        const line = await measureTablePoint(arenas, p, wls.get(p.workload)!, o.requests, rep, tableRaw);
        log(`bench: [${n}/${total}] rep ${rep + 1} ${p.id}: ${line}`);
      }
      if (libRaw) {
        n++;
        const r = await measureLibraryRep(o, sys, libRaw, rep, o.libraryLoaded);
        library = r.lib;
        log(`bench: [${n}/${total}] rep ${rep + 1} library: ${r.line}`);
      }
      const out = collect(o, pl, sys, started, rep + 1, raw, loadedRaw, tableRaw, library, notes);
      writeOutputs(o.out, out);
      targets = out.targets;
    }
    const finished = Date.now();

    log(`bench: done in ${Math.round((finished - started) / 1000)} s; results in ${path.relative(process.cwd(), o.out) || '.'}/latest.{json,md} and throughput.svg`);
    for (const t of targets) log(`bench: target ${t.status.toUpperCase()}: ${t.name} at ${t.point}: ${t.detail}`);
    return 0;
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
    killAllLoad();
    await stopSystems(sys);
  }
}

async function main(): Promise<number> {
  let cmd: ReturnType<typeof parseCommand>;
  try {
    cmd = parseCommand(process.argv.slice(2));
  } catch (e) {
    process.stderr.write(`bench: ${(e as Error).message}\n${USAGE}`);
    return 2;
  }
  if (cmd.kind === 'help') {
    process.stdout.write(USAGE);
    return 0;
  }
  if (cmd.kind === 'rerender') {
    rerender(cmd.file, cmd.out);
    return 0;
  }
  return runBench(cmd.options);
}

main().then(
  (code) => {
    process.exitCode = code;
  },
  (e) => {
    process.stderr.write(`bench: ${(e as Error).stack ?? String(e)}\n`);
    process.exitCode = 1;
  },
);
