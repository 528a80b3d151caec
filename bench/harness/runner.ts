/**
 * One measurement: replay a workload's slices from worker threads against
 * one system (this store, Redis, LMDB, or the hash table alone), all threads
 * released together at a barrier, and turn their clock readings into
 * throughput and latency.
 */
import * as path from 'node:path';
import { Worker } from 'node:worker_threads';
import { Table } from '../../src/store/table';
import { splitParts, Workload } from '../../src/workload/workload';
import type { SliceReport, SliceTask } from './common';
import type { LmdbTask } from '../workers/lmdb-worker';
import type { RedisHandle } from '../systems/redis-server';
import type { RedisTask } from '../workers/redis-worker';
import type { ReplayTask } from '../workers/replay-worker';
import { ShmkvServer, sleep } from '../systems/shmkv-server';
import { LatencySummary, summarize } from '../report/stats';
import type { TableTask } from '../workers/table-worker';
import { memoryTable, TableTransfer } from '../../src/store/table-format';

export interface RunResult {
  throughputKps: number;
  ms: number;
  notFound: number;
  latency: LatencySummary | null;
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
        const worker = new Worker(path.join(__dirname, '..', 'workers', script), { workerData: task });
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

function toResult(reports: SliceReport[], count: number): RunResult;
function toResult(reports: SliceReport[], count: number, summary: false): RunResult & { latencies: Float64Array[] | null };
function toResult(reports: SliceReport[], count: number, summary = true): RunResult & { latencies?: Float64Array[] | null } {
  const t0 = Math.min(...reports.map((r) => r.firstSubmitNs));
  const t1 = Math.max(...reports.map((r) => r.lastCompleteNs));
  const ms = (t1 - t0) / 1e6;
  const completed = reports.reduce((a, r) => a + r.completed, 0);
  if (completed !== count) throw new Error(`only ${completed} of ${count} requests completed`);
  const lats = reports.map((r) => r.latencies).filter((x): x is Float64Array => x !== null);
  const notFound = reports.reduce((a, r) => a + r.notFound, 0);
  // summary false: the caller merges the per-request latencies of several runs itself.
  if (!summary) return { throughputKps: count / ms, ms, notFound, latency: null, latencies: lats.length ? lats : null };
  return {
    throughputKps: count / ms,
    ms,
    notFound,
    latency: lats.length ? summarize(lats) : null,
  };
}

async function replayShmkv(s: ShmkvServer, w: Workload, count: number, threads: number, width: number, timed: boolean): Promise<SliceReport[]> {
  const first = s.conn.reserve(threads * width);
  try {
    const tasks: ReplayTask[] = sliceTasks(w, count, threads, width, timed).map((t, i) => ({ ...t, conn: s.conn.shared(), first: first + i * width }));
    return await runWorkers('replay-worker.js', tasks);
  } finally {
    s.conn.release(first);
  }
}

export async function runShmkv(s: ShmkvServer, w: Workload, count: number, threads: number, width: number, timed: boolean): Promise<RunResult> {
  return toResult(await replayShmkv(s, w, count, threads, width, timed), count);
}

/**
 * Like runShmkv, but stops early once `budgetMs` is spent: under background
 * load a run can be 100x slower than quiet, and a fixed count would make the
 * loaded section's length unbounded. The run replays the workload's first
 * requests in chunks (the first 1,000, then about 1 s worth each at the rate
 * seen so far) until `count` are done or the budget is out; throughput is
 * the requests over the summed chunk durations (each from first submission
 * to last completion, so worker start-up between chunks is not counted),
 * latencies are those of all chunks together.
 */
export async function runShmkvBudgeted(s: ShmkvServer, w: Workload, count: number, threads: number, width: number, timed: boolean, budgetMs: number): Promise<RunResult> {
  const t0 = performance.now();
  let done = 0;
  let ms = 0;
  let notFound = 0;
  const lats: Float64Array[] = [];
  while (done < count && (done === 0 || performance.now() - t0 < budgetMs)) {
    const perSecond = done ? (done / ms) * 1000 : 0;
    const n = Math.min(count - done, Math.max(1000, Math.round(perSecond)), done ? count : 1000);
    const r = toResult(await replayShmkv(s, w, n, threads, width, timed), n, false);
    done += n;
    ms += r.ms;
    notFound += r.notFound;
    if (r.latencies) lats.push(...r.latencies);
  }
  return { throughputKps: done / ms, ms, notFound, latency: lats.length ? summarize(lats) : null };
}

export async function runRedis(r: RedisHandle, mode: 'batch' | 'window', w: Workload, count: number, threads: number, width: number, timed: boolean): Promise<RunResult> {
  const tasks: RedisTask[] = sliceTasks(w, count, threads, width, timed).map((t) => ({ ...t, socket: r.socket, mode }));
  return toResult(await runWorkers('redis-worker.js', tasks), count);
}

export async function runLmdb(dir: string, w: Workload, count: number, threads: number, width: number, timed: boolean): Promise<RunResult> {
  const tasks: LmdbTask[] = sliceTasks(w, count, threads, width, timed).map((t) => ({ ...t, dir }));
  return toResult(await runWorkers('lmdb-worker.js', tasks), count);
}

const TABLE_ARENA_BYTES = 256 * 1024 * 1024;

/** A fresh table in memory per locking mode, prefilled with every key. */
export function tableArena(coarse: boolean, keys: number): TableArena {
  const parts = memoryTable({ initialBuckets: 1024, dataBytes: TABLE_ARENA_BYTES });
  const t = new Table(parts, undefined, coarse);
  for (let i = 0; i < keys; i++) t.putU32(i, i + 1);
  return { table: parts.transfer, coarse };
}

export interface TableArena {
  table: TableTransfer;
  coarse: boolean;
}

export async function runTable(arena: TableArena, w: Workload, count: number, threads: number): Promise<RunResult> {
  const tasks: TableTask[] = sliceTasks(w, count, threads, 1, false).map((t) => ({ ...t, ...arena }));
  return toResult(await runWorkers('table-worker.js', tasks), count);
}
