/**
 * `make bench` (node dist/bench/run.js): the benchmark suite.
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
 * and reports medians over the repetitions and ratios of medians, in
 * bench/results/latest.{json,md} and bench/results/throughput.svg.
 *
 * Flags: see `node dist/bench/run.js -h` (or usage() below).
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { spawn, ChildProcess } from 'node:child_process';
import { parseArgs } from 'node:util';
import { Worker } from 'node:worker_threads';
import { Connection } from '../src/client/connection';
import { DEFAULT_WAIT_POLICY, WaitPolicy } from '../src/sync/waiter';
import { generate } from '../src/workload/generate';
import { parseWorkload, splitParts, Workload } from '../src/workload/workload';
import type { SliceReport, SliceTask } from './common';
import type { ReplayTask } from './replay-worker';
import type { RedisTask } from './redis-worker';
import type { LmdbTask } from './lmdb-worker';
import type { TableTask } from './table-worker';
import { Table } from '../src/store/table';
import { ensureRedisBinary, RedisHandle, startRedis } from './redis-server';
import { LatencySummary, median, round, summarize } from './stats';
import { foreignCores, snapshot } from './cpuload';
import { writeMarkdown, writeSvg } from './report';

// ---- Options ---------------------------------------------------------------

const USAGE = `usage: node dist/bench/run.js [options]    (make bench)

  --quick              100,000 requests and fewer points (also BENCH_QUICK=1);
                       results go to bench/results/quick/
  --requests N         requests per run (default 1000000; 100000 with --quick;
                       also BENCH_REQUESTS)
  --reps N             repetitions of every point, systems interleaved
                       (default 3; also BENCH_REPS)
  --keys N             key space (default 100000)
  --systems LIST       of shmkv,redis,lmdb (default all; also BENCH_SYSTEMS)
  --redis-mode M       batch (pipeline()+exec per window, default) or window
                       (sliding window of W commands in flight)
  --sections LIST      of locking,scaling,compare,table (default all)
  --client-threads L   \\
  --windows L           | override the locking matrix axes (comma lists);
  --server-threads L    | mixes: read,mixed,write; dists: uniform,zipf;
  --locking L           | locking: coarse,fine
  --mixes L             |
  --dists L            /
  --no-timing-split    measure throughput on the timed runs (one run per point
                       and system instead of an untimed + a timed run)
  --no-install         do not apt-get install redis-server when missing
                       (skip Redis instead)
  --server-node-args=S extra node flags for the servers, e.g. "--cpu-prof
                       --cpu-prof-dir=/tmp/prof" (also BENCH_SERVER_NODE_ARGS)
  --policy S,Y,MS      experiment: run the servers through bench/server-child.js
                       with wait policy {spins S, yields Y, sleepMs MS} and use
                       it in the clients too (default: ./server and the
                       library's DEFAULT_WAIT_POLICY)
  --out DIR            results directory (default bench/results)
  --rerender FILE      recompute the summaries of a results JSON and rewrite
                       latest.{json,md} and throughput.svg (to --out or its dir)
  -h, --help           this help
`;

interface Options {
  quick: boolean;
  requests: number;
  reps: number;
  keys: number;
  systems: Set<SystemName>;
  redisMode: 'batch' | 'window';
  sections: Set<string>;
  axes: Axes;
  timingSplit: boolean;
  install: boolean;
  serverNodeArgs: string[];
  /** Wait policy for servers and clients (experiments); null: ./server's and the library's defaults. */
  policy: WaitPolicy | null;
  out: string;
}

type SystemName = 'shmkv' | 'redis' | 'lmdb';
type MixName = 'read' | 'mixed' | 'write';
type DistName = 'uniform' | 'zipf';

interface Axes {
  clientThreads: number[];
  windows: number[];
  serverThreads: number[];
  locking: Array<'coarse' | 'fine'>;
  mixes: MixName[];
  dists: DistName[];
}

const MIX_PUT_PERCENT: Record<MixName, number> = { read: 5, mixed: 50, write: 95 };
const MIX_LABEL: Record<MixName, string> = { read: 'read-heavy (95% gets)', mixed: '50/50', write: 'write-heavy (95% puts)' };
const ZIPF_THETA = 0.99;
const REPO = path.resolve(__dirname, '..', '..');

function intList(s: string, what: string): number[] {
  const xs = s.split(',').map((x) => Number(x.trim()));
  if (xs.some((x) => !Number.isInteger(x) || x < 1)) throw new Error(`${what}: expected a comma list of positive integers, got "${s}"`);
  return xs;
}

function choiceList<T extends string>(s: string, allowed: readonly T[], what: string): T[] {
  const xs = s.split(',').map((x) => x.trim()) as T[];
  for (const x of xs) if (!allowed.includes(x)) throw new Error(`${what}: "${x}" is not one of ${allowed.join(', ')}`);
  return xs;
}

function parsePolicy(s: string): WaitPolicy {
  const xs = s.split(',').map((x) => Number(x.trim()));
  if (xs.length !== 3 || xs.some((x) => !Number.isInteger(x) || x < 0)) throw new Error(`--policy: expected SPINS,YIELDS,SLEEP_MS (non-negative integers), got "${s}"`);
  return { spins: xs[0], yields: xs[1], sleepMs: Math.max(xs[2], 1) };
}

function parseOptions(argv: string[]): Options | null {
  const { values: v } = parseArgs({
    args: argv,
    strict: true,
    allowPositionals: false,
    options: {
      quick: { type: 'boolean' },
      requests: { type: 'string' },
      reps: { type: 'string' },
      keys: { type: 'string' },
      systems: { type: 'string' },
      'redis-mode': { type: 'string' },
      sections: { type: 'string' },
      'client-threads': { type: 'string' },
      windows: { type: 'string' },
      'server-threads': { type: 'string' },
      locking: { type: 'string' },
      mixes: { type: 'string' },
      dists: { type: 'string' },
      'no-timing-split': { type: 'boolean' },
      'no-install': { type: 'boolean' },
      'server-node-args': { type: 'string' },
      policy: { type: 'string' },
      out: { type: 'string' },
      rerender: { type: 'string' },
      help: { type: 'boolean', short: 'h' },
    },
  });
  if (v.help) {
    process.stdout.write(USAGE);
    return null;
  }
  if (v.rerender) {
    rerender(v.rerender, path.resolve(v.out ?? path.dirname(v.rerender)));
    return null;
  }
  const env = process.env;
  const quick = v.quick === true || (env.BENCH_QUICK !== undefined && env.BENCH_QUICK !== '' && env.BENCH_QUICK !== '0');
  const requests = intList(v.requests ?? env.BENCH_REQUESTS ?? (quick ? '100000' : '1000000'), '--requests')[0];
  const reps = intList(v.reps ?? env.BENCH_REPS ?? '3', '--reps')[0];
  const keys = intList(v.keys ?? '100000', '--keys')[0];
  const systems = new Set(choiceList<SystemName>(v.systems ?? env.BENCH_SYSTEMS ?? 'shmkv,redis,lmdb', ['shmkv', 'redis', 'lmdb'], '--systems'));
  const redisMode = choiceList(v['redis-mode'] ?? 'batch', ['batch', 'window'] as const, '--redis-mode')[0];
  const sections = new Set(choiceList(v.sections ?? 'locking,scaling,compare,table', ['locking', 'scaling', 'compare', 'table'] as const, '--sections'));
  // The locking matrix: see "Choice of the matrix" in the results' Markdown.
  const axes: Axes = quick
    ? { clientThreads: [2], windows: [16], serverThreads: [1, 2], locking: ['coarse', 'fine'], mixes: ['read', 'mixed', 'write'], dists: ['uniform', 'zipf'] }
    : { clientThreads: [1, 2], windows: [1, 16], serverThreads: [1, 2], locking: ['coarse', 'fine'], mixes: ['read', 'mixed', 'write'], dists: ['uniform', 'zipf'] };
  if (v['client-threads']) axes.clientThreads = intList(v['client-threads'], '--client-threads');
  if (v.windows) axes.windows = intList(v.windows, '--windows');
  if (v['server-threads']) axes.serverThreads = intList(v['server-threads'], '--server-threads');
  if (v.locking) axes.locking = choiceList(v.locking, ['coarse', 'fine'] as const, '--locking');
  if (v.mixes) axes.mixes = choiceList(v.mixes, ['read', 'mixed', 'write'] as const, '--mixes');
  if (v.dists) axes.dists = choiceList(v.dists, ['uniform', 'zipf'] as const, '--dists');
  const nodeArgs = (v['server-node-args'] ?? env.BENCH_SERVER_NODE_ARGS ?? '').split(/\s+/).filter((s) => s !== '');
  return {
    quick,
    requests,
    reps,
    keys,
    systems,
    redisMode,
    sections,
    axes,
    timingSplit: v['no-timing-split'] !== true,
    install: v['no-install'] !== true,
    serverNodeArgs: nodeArgs,
    policy: v.policy ? parsePolicy(v.policy) : null,
    out: path.resolve(v.out ?? path.join(REPO, 'bench', 'results', quick ? 'quick' : '')),
  };
}

// ---- The plan --------------------------------------------------------------

export interface WorkloadSpec {
  id: string;
  mix: MixName;
  dist: DistName;
  putPercent: number;
  zipf: number | null;
  label: string;
}

export interface Point {
  id: string;
  sections: string[];
  workload: string;
  clientThreads: number;
  window: number;
  serverThreads: number;
  locking: 'coarse' | 'fine';
  /** Run Redis and LMDB at this point too. */
  compare: boolean;
}

function workloadSpec(mix: MixName, dist: DistName): WorkloadSpec {
  return {
    id: `${mix}-${dist}`,
    mix,
    dist,
    putPercent: MIX_PUT_PERCENT[mix],
    zipf: dist === 'zipf' ? ZIPF_THETA : null,
    label: `${MIX_LABEL[mix]}, ${dist === 'zipf' ? `zipf ${ZIPF_THETA}` : 'uniform'}`,
  };
}

/** Build the list of points (deduplicated: a point may serve several sections). */
function plan(o: Options): { points: Point[]; tablePoints: TablePoint[]; workloads: WorkloadSpec[] } {
  const byId = new Map<string, Point>();
  const add = (p: Omit<Point, 'id' | 'sections' | 'compare'>, section: string, compare = false): void => {
    const id = `${p.workload}/c${p.clientThreads}/w${p.window}/s${p.serverThreads}/${p.locking}`;
    const have = byId.get(id);
    if (have) {
      if (!have.sections.includes(section)) have.sections.push(section);
      have.compare ||= compare;
    } else byId.set(id, { id, sections: [section], compare, ...p });
  };
  const a = o.axes;
  if (o.sections.has('locking'))
    for (const mix of a.mixes)
      for (const dist of a.dists)
        for (const c of a.clientThreads)
          for (const w of a.windows)
            for (const s of a.serverThreads)
              for (const l of a.locking) add({ workload: `${mix}-${dist}`, clientThreads: c, window: w, serverThreads: s, locking: l }, 'locking');
  // Scaling (the chart): throughput against client threads and window, on the
  // 50/50 uniform workload (the demo's), fine locking, 2 server threads.
  if (o.sections.has('scaling')) {
    const cs = [1, 2, 4];
    const ws = [1, 4, 16, 64];
    for (const c of cs) for (const w of ws) add({ workload: 'mixed-uniform', clientThreads: c, window: w, serverThreads: 2, locking: 'fine' }, 'scaling');
  }
  // Comparison with Redis and LMDB: same workload, same client threads and
  // requests in flight; this store with fine locking and 2 server threads.
  if (o.sections.has('compare')) {
    const mixes: MixName[] = o.quick ? ['mixed'] : ['read', 'mixed', 'write'];
    const dists: DistName[] = ['uniform'];
    for (const mix of mixes)
      for (const dist of dists)
        for (const c of [1, 2])
          for (const w of [1, 16]) add({ workload: `${mix}-${dist}`, clientThreads: c, window: w, serverThreads: 2, locking: 'fine' }, 'compare', true);
  }
  const points = [...byId.values()];
  // Table: the hash table alone (bench/table-worker.ts), 1 and 2 threads x
  // coarse/fine x every mix and key distribution of the locking matrix.
  const tablePoints: TablePoint[] = [];
  if (o.sections.has('table'))
    for (const mix of a.mixes)
      for (const dist of a.dists)
        for (const threads of [1, 2])
          for (const locking of ['coarse', 'fine'] as const) tablePoints.push({ id: `table/${mix}-${dist}/t${threads}/${locking}`, workload: `${mix}-${dist}`, threads, locking });
  const wl = new Map<string, WorkloadSpec>();
  for (const p of [...points, ...tablePoints]) {
    const [mix, dist] = p.workload.split('-') as [MixName, DistName];
    wl.set(p.workload, workloadSpec(mix, dist));
  }
  return { points, tablePoints, workloads: [...wl.values()] };
}

export interface TablePoint {
  id: string;
  workload: string;
  threads: number;
  locking: 'coarse' | 'fine';
}

export interface TableResult extends TablePoint {
  runs: Array<{ rep: number; throughputKps: number; foreignCores: number | null }>;
  median: { throughputKps: number; foreignCores: number | null };
  quiet: { runs: number; throughputKps: number | null };
  min: number;
  max: number;
}

const TABLE_ARENA_BYTES = 256 * 1024 * 1024;

/** A fresh table arena per locking mode, prefilled with every key. */
function tableArena(coarse: boolean, keys: number): SharedArrayBuffer {
  const arena = new SharedArrayBuffer(TABLE_ARENA_BYTES);
  Table.format(arena, { initialBuckets: 1024, dataBytes: TABLE_ARENA_BYTES, coarse });
  const t = new Table(arena);
  for (let i = 0; i < keys; i++) t.putU32(i, i + 1);
  return arena;
}

async function runTable(arena: SharedArrayBuffer, w: Workload, count: number, threads: number): Promise<RunResult> {
  const tasks: TableTask[] = sliceTasks(w, count, threads, 1, false).map((t) => ({ ...t, arena }));
  return toResult(await runWorkers('table-worker.js', tasks), count);
}

// ---- Servers ---------------------------------------------------------------

interface ShmkvServer {
  key: string;
  threads: number;
  coarse: boolean;
  dir: string;
  regionPath: string;
  child: ChildProcess;
  conn: Connection;
}

const SERVER_JS = path.join(REPO, 'dist', 'src', 'cli', 'server.js');

async function startShmkv(threads: number, coarse: boolean, nodeArgs: string[], policy: WaitPolicy | null): Promise<ShmkvServer> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'shmkv-bench-'));
  const regionPath = path.join(dir, 'region');
  let args: string[];
  if (policy) {
    const locking = coarse ? 'coarse' : 'fine';
    args = [...nodeArgs, path.join(__dirname, 'server-child.js'), regionPath, String(threads), locking, String(policy.spins), String(policy.yields), String(policy.sleepMs)];
  } else {
    args = [...nodeArgs, SERVER_JS, '-n', String(threads), '-s', '1024', '-p', regionPath, '-q'];
    if (coarse) args.push('--coarse');
  }
  const child = spawn(process.execPath, args, { stdio: ['ignore', 'inherit', 'inherit'] });
  let exited = false;
  child.once('exit', () => (exited = true));
  const deadline = Date.now() + 15000;
  for (;;) {
    await sleep(20);
    if (exited) throw new Error(`server (${threads} threads${coarse ? ', coarse' : ''}) exited at start`);
    try {
      const conn = Connection.open({ path: regionPath, ...(policy ? { policy } : {}) });
      return { key: serverKey(threads, coarse), threads, coarse, dir, regionPath, child, conn };
    } catch (e) {
      if (Date.now() > deadline) throw e;
    }
  }
}

async function stopShmkv(s: ShmkvServer): Promise<void> {
  s.conn.close();
  if (s.child.exitCode === null && s.child.signalCode === null) {
    const gone = new Promise((r) => s.child.once('exit', r));
    s.child.kill('SIGTERM');
    const timer = setTimeout(() => s.child.kill('SIGKILL'), 10000);
    await gone;
    clearTimeout(timer);
  }
  fs.rmSync(s.dir, { recursive: true, force: true });
}

function serverKey(threads: number, coarse: boolean): string {
  return `s${threads}/${coarse ? 'coarse' : 'fine'}`;
}

// ---- Running one measurement -------------------------------------------------

interface RunResult {
  throughputKps: number;
  ms: number;
  notFound: number;
  latency: LatencySummary | null;
}

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

/**
 * Start one worker per slice, wait until all are ready (connected, at the
 * barrier), release them together and collect their reports.
 */
async function runWorkers<T extends SliceTask>(script: string, tasks: T[]): Promise<SliceReport[]> {
  const go = tasks[0].go;
  const ready = tasks[0].ready;
  const reports = tasks.map(
    (task) =>
      new Promise<SliceReport>((resolve, reject) => {
        const worker = new Worker(path.join(__dirname, script), { workerData: task });
        let report: SliceReport | null = null;
        worker.once('message', (m: SliceReport) => (report = m));
        worker.once('error', (e) => reject(e));
        worker.once('exit', (code) => (report ? resolve(report) : reject(new Error(`${script} exited with code ${code}`))));
      }),
  );
  let failed: unknown = null;
  void Promise.all(reports).catch((e) => (failed = e));
  while (Atomics.load(ready, 0) < tasks.length) {
    if (failed) break;
    await sleep(2);
  }
  Atomics.store(go, 0, 1);
  Atomics.notify(go, 0);
  return Promise.all(reports);
}

function sliceTasks(w: Workload, count: number, threads: number, width: number, timed: boolean): SliceTask[] {
  const go = new Int32Array(new SharedArrayBuffer(4));
  const ready = new Int32Array(new SharedArrayBuffer(4));
  return splitParts(count, threads).map(([start, end]) => ({ width, start, end, ops: w.ops, keys: w.keys, values: w.values, timed, go, ready }));
}

function toResult(reports: SliceReport[], count: number): RunResult {
  const t0 = Math.min(...reports.map((r) => r.firstSubmitNs));
  const t1 = Math.max(...reports.map((r) => r.lastCompleteNs));
  const ms = (t1 - t0) / 1e6;
  const completed = reports.reduce((a, r) => a + r.completed, 0);
  if (completed !== count) throw new Error(`only ${completed} of ${count} requests completed`);
  const lats = reports.map((r) => r.latencies).filter((x): x is Float64Array => x !== null);
  return {
    throughputKps: count / ms,
    ms,
    notFound: reports.reduce((a, r) => a + r.notFound, 0),
    latency: lats.length ? summarize(lats) : null,
  };
}

async function runShmkv(s: ShmkvServer, w: Workload, count: number, threads: number, width: number, timed: boolean): Promise<RunResult> {
  const first = s.conn.reserve(threads * width);
  try {
    const tasks: ReplayTask[] = sliceTasks(w, count, threads, width, timed).map((t, i) => ({ ...t, conn: s.conn.shared(), first: first + i * width }));
    return toResult(await runWorkers('replay-worker.js', tasks), count);
  } finally {
    s.conn.release(first);
  }
}

async function runRedis(r: RedisHandle, mode: 'batch' | 'window', w: Workload, count: number, threads: number, width: number, timed: boolean): Promise<RunResult> {
  const tasks: RedisTask[] = sliceTasks(w, count, threads, width, timed).map((t) => ({ ...t, socket: r.socket, mode }));
  return toResult(await runWorkers('redis-worker.js', tasks), count);
}

async function runLmdb(dir: string, w: Workload, count: number, threads: number, width: number, timed: boolean): Promise<RunResult> {
  const tasks: LmdbTask[] = sliceTasks(w, count, threads, width, timed).map((t) => ({ ...t, dir }));
  return toResult(await runWorkers('lmdb-worker.js', tasks), count);
}

// ---- Prefill -----------------------------------------------------------------

/** Every key 0..keys-1 gets a value before any measurement, in every system. */
function prefillWorkload(keys: number): Workload {
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

async function prefillRedis(r: RedisHandle, keys: number): Promise<void> {
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

async function prefillLmdb(dir: string, keys: number): Promise<string> {
  const { openStore } = await import('./lmdb-worker');
  const db = openStore(dir);
  db.transactionSync(() => {
    for (let i = 0; i < keys; i++) db.putSync(i, i + 1);
  });
  await db.close();
  const pkg = JSON.parse(fs.readFileSync(path.join(REPO, 'node_modules', 'lmdb', 'package.json'), 'utf8')) as { version: string };
  return pkg.version;
}

// ---- Main --------------------------------------------------------------------

export interface SystemResult {
  runs: Array<{
    rep: number;
    throughputKps: number;
    timedThroughputKps: number | null;
    latencyUs: Record<string, number> | null;
    notFound: number;
    /** Average cores busy in other processes during the run(s) (noise indicator). */
    foreignCores: number | null;
  }>;
  median: {
    throughputKps: number;
    timedThroughputKps: number | null;
    p50Us: number | null;
    p99Us: number | null;
    p999Us: number | null;
    foreignCores: number | null;
  };
  /** Median over the quiet runs only (other processes below QUIET_CORES). */
  quiet: { runs: number; throughputKps: number | null };
  min: number;
  max: number;
}

export interface PointResult extends Point {
  systems: Partial<Record<SystemName, SystemResult>>;
  ratios: Record<string, number>;
}

export interface Results {
  meta: Record<string, unknown>;
  workloads: WorkloadSpec[];
  points: PointResult[];
  /** The "table" section: the hash table alone, coarse vs fine. */
  table?: TableResult[];
  targets: Target[];
  notes: string[];
}

export interface Target {
  name: string;
  point: string;
  ratio: number;
  want: number;
  status: 'met' | 'missed' | 'missed (within noise)';
  /** The same ratio on quiet runs only, and whether it meets the target (null: no quiet runs). */
  quietRatio: number | null;
  quietMet: boolean | null;
  detail: string;
}

/** A run counts as quiet when other processes kept fewer than this many cores busy. */
export const QUIET_CORES = 0.25;

type Run = SystemResult['runs'][number];

/** Medians over the repetitions (and over the quiet ones), ratios of medians. */
function aggregatePoint(p: Point, bySys: Map<SystemName, Run[]>): PointResult {
  const systems: Partial<Record<SystemName, SystemResult>> = {};
  for (const [sys, runs] of bySys) {
    const tp = runs.map((r) => r.throughputKps);
    const tt = runs.map((r) => r.timedThroughputKps).filter((x): x is number => x !== null);
    const quiet = runs.filter((r) => r.foreignCores !== null && r.foreignCores < QUIET_CORES);
    systems[sys] = {
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
  return { ...p, systems, ratios };
}

/** Fill in the derived parts of the results: targets, noise and timing-overhead summaries. */
function finish(out: Results): void {
  out.table = (out.table ?? []).map((t) => aggregateTable(t, t.runs));
  out.targets = [...checkTargets(out.points), ...checkTableTargets(out.table)];
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

function aggregateTable(p: TablePoint, runs: TableResult['runs']): TableResult {
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

/** Spread of one configuration's repetitions, enough to tell a clear win from noise. */
interface RepRange {
  min: number;
  max: number;
}

/**
 * The two locking targets at one point: fine >= coarse, and (for write-heavy
 * points with 2 threads) fine clearly faster, i.e. median above AND rep
 * ranges disjoint. `prefix` names the section ('' or 'table alone: ').
 */
function lockingTargets(
  prefix: string,
  threadsWord: string,
  point: string,
  ratio: number,
  quiet: number | null,
  f: RepRange,
  c: RepRange,
  detail: string,
  writeHeavyTwoThreads: boolean,
): Target[] {
  const out: Target[] = [
    {
      name: `${prefix}fine >= coarse`,
      point,
      ratio: round(ratio, 3),
      want: 1,
      status: ratio >= 1 ? 'met' : f.max >= c.min ? 'missed (within noise)' : 'missed',
      quietRatio: quiet,
      quietMet: quiet === null ? null : quiet >= 1,
      detail,
    },
  ];
  if (writeHeavyTwoThreads) {
    const clearly = f.min > c.max;
    out.push({
      name: `${prefix}fine faster than coarse (write-heavy, 2 ${threadsWord})`,
      point,
      ratio: round(ratio, 3),
      want: 1,
      status: ratio > 1 && clearly ? 'met' : ratio > 1 ? 'missed (within noise)' : 'missed',
      quietRatio: quiet,
      quietMet: quiet === null ? null : quiet > 1,
      detail: detail + (clearly ? '; rep ranges disjoint' : '; rep ranges overlap'),
    });
  }
  return out;
}

function checkTableTargets(table: TableResult[]): Target[] {
  const out: Target[] = [];
  const byId = new Map(table.map((t) => [t.id, t]));
  for (const f of table) {
    if (f.locking !== 'fine') continue;
    const c = byId.get(f.id.replace(/\/fine$/, '/coarse'));
    if (!c) continue;
    const ratio = f.median.throughputKps / c.median.throughputKps;
    const q = f.quiet.throughputKps !== null && c.quiet.throughputKps !== null ? round(f.quiet.throughputKps / c.quiet.throughputKps, 3) : null;
    const label = `${f.workload}/t${f.threads}`;
    const detail = `table alone: fine ${f.median.throughputKps.toFixed(0)} K/s vs coarse ${c.median.throughputKps.toFixed(0)} K/s (x${ratio.toFixed(2)})`;
    out.push(...lockingTargets('table alone: ', 'threads', label, ratio, q, f, c, detail, f.workload.startsWith('write-') && f.threads === 2));
  }
  return out;
}

function writeOutputs(dir: string, out: Results): void {
  fs.mkdirSync(dir, { recursive: true });
  fs.writeFileSync(path.join(dir, 'latest.json'), JSON.stringify(out, null, 1) + '\n');
  writeMarkdown(path.join(dir, 'latest.md'), out);
  writeSvg(path.join(dir, 'throughput.svg'), out);
}

/** --rerender FILE: recompute the summaries of a results file and rewrite the outputs. */
function rerender(file: string, outDir: string): void {
  const old = JSON.parse(fs.readFileSync(file, 'utf8')) as Results;
  const points = old.points.map((p) => {
    const { systems, ratios: _r, ...point } = p;
    void _r;
    const bySys = new Map<SystemName, Run[]>();
    for (const [sys, res] of Object.entries(systems)) bySys.set(sys as SystemName, res!.runs);
    return aggregatePoint(point, bySys);
  });
  const out: Results = { ...old, points, targets: [] };
  delete out.meta.timingOverheadMedian;
  finish(out);
  writeOutputs(outDir, out);
}

function log(s: string): void {
  process.stderr.write(s + '\n');
}

async function main(): Promise<number> {
  let o: Options | null;
  try {
    o = parseOptions(process.argv.slice(2));
  } catch (e) {
    process.stderr.write(`bench: ${(e as Error).message}\n${USAGE}`);
    return 2;
  }
  if (!o) return 0;
  const started = Date.now();
  const { points, tablePoints, workloads } = plan(o);
  const notes: string[] = [];
  const cmpPoints = points.filter((p) => p.compare);
  log(
    `bench: ${points.length} points (${cmpPoints.length} compared with ${[...o.systems].filter((s) => s !== 'shmkv').join(' and ') || 'nothing'}), ` +
      `${o.requests} requests per run, ${o.reps} repetitions${o.quick ? ' (quick mode)' : ''}`,
  );

  // Workloads: exactly what `./genworkload -n N -p PCT -k K [-z 0.99] -r SEED` writes.
  const wls = new Map<string, Workload>();
  for (const [i, ws] of workloads.entries()) {
    const t0 = Date.now();
    const g = generate({ count: o.requests, putPercent: ws.putPercent, keys: o.keys, zipf: ws.zipf ?? undefined, seed: 1 + i, threads: 1, window: 1, spread: false });
    wls.set(ws.id, parseWorkload(Buffer.from(g.workload), ws.id));
    log(`bench: workload ${ws.id} (${ws.label}) generated in ${Date.now() - t0} ms`);
  }

  // Systems.
  const servers = new Map<string, ShmkvServer>();
  let redis: RedisHandle | null = null;
  let lmdbDir: string | null = null;
  let lmdbVersion: string | null = null;
  const cleanup = async (): Promise<void> => {
    for (const s of servers.values()) await stopShmkv(s).catch(() => undefined);
    servers.clear();
    if (redis) await redis.stop().catch(() => undefined);
    redis = null;
    if (lmdbDir) fs.rmSync(lmdbDir, { recursive: true, force: true });
    lmdbDir = null;
  };
  const onSignal = (): void => {
    log('bench: interrupted; stopping the servers');
    void cleanup().then(() => process.exit(130));
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);

  try {
    if (o.systems.has('shmkv')) {
      const prefill = prefillWorkload(o.keys);
      for (const p of points) {
        const k = serverKey(p.serverThreads, p.locking === 'coarse');
        if (servers.has(k)) continue;
        const s = await startShmkv(p.serverThreads, p.locking === 'coarse', o.serverNodeArgs, o.policy);
        servers.set(k, s);
        await runShmkv(s, prefill, prefill.count, 1, 16, false);
      }
      log(`bench: started and prefilled ${servers.size} server(s): ${[...servers.keys()].join(', ')}`);
    }
    if (o.systems.has('redis') && cmpPoints.length) {
      try {
        let bin: { bin: string; provenance: string };
        if (o.install) bin = ensureRedisBinary(log);
        else {
          bin = ensureRedisBinary(() => {
            throw new Error('redis-server is not installed and --no-install was given');
          });
        }
        redis = await startRedis(bin.bin, bin.provenance);
        await prefillRedis(redis, o.keys);
        log(`bench: redis-server ${redis.version} (${bin.provenance}) on unix socket ${redis.socket}, persistence off`);
      } catch (e) {
        const why = `Redis skipped: ${(e as Error).message}`;
        log(`bench: ${why}`);
        notes.push(why);
        o.systems.delete('redis');
      }
    }
    if (o.systems.has('lmdb') && cmpPoints.length) {
      lmdbDir = fs.mkdtempSync(path.join(os.tmpdir(), 'shmkv-bench-lmdb-'));
      lmdbVersion = await prefillLmdb(lmdbDir, o.keys);
      log(`bench: lmdb ${lmdbVersion} environment in ${lmdbDir} (noSync), prefilled`);
    }

    const raw = new Map<string, Map<SystemName, SystemResult['runs']>>();
    let targets: Target[] = [];
    // Aggregate and write (after every repetition, so a stopped run leaves its partial results).
    const report = (repsDone: number): Target[] => {
      const results = points.map((p) => aggregatePoint(p, raw.get(p.id) ?? new Map()));
      const finished = Date.now();
      const out: Results = {
        meta: {
          command: `node ${path.relative(REPO, process.argv[1])} ${process.argv.slice(2).join(' ')}`.trim(),
          quick: o!.quick,
          complete: repsDone === o!.reps,
          repsDone,
          started: new Date(started).toISOString(),
          durationSec: Math.round((finished - started) / 1000),
          requestsPerRun: o!.requests,
          reps: repsDone,
          keys: o!.keys,
          node: process.version,
          cpus: os.cpus().length,
          cpuModel: os.cpus()[0]?.model ?? '?',
          loadavgAtEnd: os.loadavg().map((x) => round(x, 2)),
          redis: redis ? { version: (redis as RedisHandle).version, binary: (redis as RedisHandle).provenance, mode: o!.redisMode } : null,
          lmdb: lmdbVersion ? { version: lmdbVersion, options: 'keyEncoding uint32, msgpack values, noSync' } : null,
          axes: o!.axes,
          waitPolicy: o!.policy ? { ...o!.policy, note: 'experiment: servers run through bench/server-child.js' } : { ...DEFAULT_WAIT_POLICY, note: './server and the library defaults' },
        },
        workloads,
        points: results,
        table: tablePoints.map((p) => ({ ...p, runs: tableRaw.get(p.id) ?? [] }) as TableResult),
        targets: [],
        notes,
      };
      finish(out);
      writeOutputs(o!.out, out);
      return out.targets;
    };

    // Measure: every repetition walks all points; at a comparison point the
    // systems run back to back, in an order rotated per repetition.
    const tableRaw = new Map<string, TableResult['runs']>();
    const arenas = new Map<string, SharedArrayBuffer>();
    for (const p of tablePoints) if (!arenas.has(p.locking)) arenas.set(p.locking, tableArena(p.locking === 'coarse', o.keys));
    const total = o.reps * (points.length + tablePoints.length);
    let n = 0;
    for (let rep = 0; rep < o.reps; rep++) {
      for (const p of points) {
        n++;
        const w = wls.get(p.workload)!;
        const candidates: SystemName[] = p.compare ? ['shmkv', 'redis', 'lmdb'] : ['shmkv'];
        const systems = candidates.filter((s) => o!.systems.has(s));
        for (let k = 0; k < rep % systems.length; k++) systems.push(systems.shift()!);
        const line: string[] = [];
        for (const sys of systems) {
          const measure = (timed: boolean): Promise<RunResult> => {
            if (sys === 'shmkv') return runShmkv(servers.get(serverKey(p.serverThreads, p.locking === 'coarse'))!, w, o!.requests, p.clientThreads, p.window, timed);
            if (sys === 'redis') return runRedis(redis!, o!.redisMode, w, o!.requests, p.clientThreads, p.window, timed);
            return runLmdb(lmdbDir!, w, o!.requests, p.clientThreads, p.window, timed);
          };
          // Throughput from an untimed run, latency from a timed one (this
          // store only: for Redis and LMDB one clock read per request is far
          // below their noise, see the notes), unless --no-timing-split.
          const split = o.timingSplit && sys === 'shmkv';
          const pids = [process.pid, ...[...servers.values()].map((s) => s.child.pid ?? 0), redis?.pid ?? 0].filter((x) => x > 0);
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
          if (!m.has(sys)) m.set(sys, []);
          m.get(sys)!.push(run);
          line.push(`${sys} ${run.throughputKps.toFixed(0)} K/s${split ? ` (timed ${timed.throughputKps.toFixed(0)})` : ''} p50 ${run.latencyUs.p50.toFixed(1)} us p99 ${run.latencyUs.p99.toFixed(1)} us${foreign !== null && foreign >= 0.25 ? ` [others: ${foreign.toFixed(1)} cores]` : ''}`);
        }
        log(`bench: [${n}/${total}] rep ${rep + 1} ${p.id}: ${line.join(' | ')}`);
      }
      for (const p of tablePoints) {
        n++;
        const before = snapshot([process.pid]);
        const r = await runTable(arenas.get(p.locking)!, wls.get(p.workload)!, o.requests, p.threads);
        const foreign = foreignCores(before, snapshot([process.pid]));
        if (!tableRaw.has(p.id)) tableRaw.set(p.id, []);
        tableRaw.get(p.id)!.push({ rep, throughputKps: r.throughputKps, foreignCores: foreign === null ? null : round(foreign, 2) });
        log(`bench: [${n}/${total}] rep ${rep + 1} ${p.id}: ${r.throughputKps.toFixed(0)} K/s${foreign !== null && foreign >= 0.25 ? ` [others: ${foreign.toFixed(1)} cores]` : ''}`);
      }
      targets = report(rep + 1);
    }
    const finished = Date.now();

    log(`bench: done in ${Math.round((finished - started) / 1000)} s; results in ${path.relative(process.cwd(), o.out) || '.'}/latest.{json,md} and throughput.svg`);
    for (const t of targets) log(`bench: target ${t.status.toUpperCase()}: ${t.name} at ${t.point}: ${t.detail}`);
    return 0;
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
    await cleanup();
  }
}

/** The issue's targets, checked on medians (status "within noise" when the rep ranges overlap). */
function checkTargets(points: PointResult[]): Target[] {
  const out: Target[] = [];
  const byId = new Map(points.map((p) => [p.id, p]));
  const quietRatio = (a: SystemResult, b: SystemResult): number | null =>
    a.quiet.throughputKps !== null && b.quiet.throughputKps !== null ? round(a.quiet.throughputKps / b.quiet.throughputKps, 3) : null;
  const quietNote = (q: number | null, a: SystemResult, b: SystemResult): string =>
    q === null ? '; no quiet runs' : `; quiet runs only (${a.quiet.runs} vs ${b.quiet.runs}): x${q.toFixed(2)}`;
  for (const p of points) {
    if (p.locking !== 'fine') continue;
    const c = byId.get(p.id.replace(/\/fine$/, '/coarse'));
    const f = p.systems.shmkv;
    const cs = c?.systems.shmkv;
    if (!c || !f || !cs) continue;
    const ratio = f.median.throughputKps / cs.median.throughputKps;
    const q = quietRatio(f, cs);
    const label = `${p.workload}/c${p.clientThreads}/w${p.window}/s${p.serverThreads}`;
    const detail = `fine ${f.median.throughputKps.toFixed(0)} K/s vs coarse ${cs.median.throughputKps.toFixed(0)} K/s (x${ratio.toFixed(2)})${quietNote(q, f, cs)}`;
    out.push(...lockingTargets('', 'server threads', label, ratio, q, f, cs, detail, p.workload.startsWith('write-') && p.serverThreads === 2));
  }
  for (const p of points) {
    const me = p.systems.shmkv;
    const r = p.systems.redis;
    if (!p.compare || !me || !r || (p.window !== 1 && p.window !== 16)) continue;
    const want = p.window === 1 ? 10 : 3;
    const ratio = me.median.throughputKps / r.median.throughputKps;
    const q = quietRatio(me, r);
    out.push({
      name: p.window === 1 ? '>= 10x Redis at window 1' : '>= 3x Redis pipelined to depth 16',
      point: `${p.workload}/c${p.clientThreads}/w${p.window}`,
      ratio: round(ratio, 2),
      want,
      status: ratio >= want ? 'met' : me.max >= r.min * want ? 'missed (within noise)' : 'missed',
      quietRatio: q,
      quietMet: q === null ? null : q >= want,
      detail: `this store ${me.median.throughputKps.toFixed(0)} K/s vs Redis ${r.median.throughputKps.toFixed(1)} K/s (x${ratio.toFixed(2)})${quietNote(q, me, r)}`,
    });
  }
  return out;
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
