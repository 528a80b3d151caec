/**
 * The "library" section (issue 9 "Speed", issue 12's library calls under
 * load): each measurement is a client process (library-worker.ts) that
 * opens one system as a Node user would, warms up, and times one call, one
 * at a time, at random keys of a prefilled data set.
 *
 * Per repetition: the headline calls on 16-byte string keys with 100-byte
 * string values (this store's getSync / await get() / setSync / await set(),
 * lmdb-js get / putSync, Redis GET / SET), each quiet and beside the busy
 * loops back to back (order alternating per repetition), the calls in an
 * order rotated per repetition; then the value-size sweep (quiet only).
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { spawn } from 'node:child_process';
import { BackgroundLoad, startLoad } from '../load/background-load';
import { DataSet, headlineData, HOT_KEYS, LibOp, LibReport, LibSystem, LibTask, objectData, sweepData, SWEEP_SIZES } from '../report/library-data';
import { aggregateLibrary } from '../report/library-results';
import { log } from '../harness/log';
import { Options, REPO } from '../harness/options';
import type { LibraryResult, LibRun } from '../report/results';
import { ownPids, Systems } from '../systems/systems';

const WORKER = path.join(__dirname, 'library-worker.js');

/**
 * The headline calls: [system, op, label, data]: 'str' the headline data
 * set (100-byte strings), 'obj' the objects of issue 22 (objectOf, ~200 B).
 */
const CASES: ReadonlyArray<readonly [LibSystem, LibOp, string, 'str' | 'obj']> = [
  ['shmkv', 'get', 'getSync', 'str'],
  ['shmkv', 'miss', 'getSync miss', 'str'],
  ['shmkv', 'aget', 'await get()', 'str'],
  ['shmkv', 'set', 'setSync', 'str'],
  ['shmkv', 'aset', 'await set()', 'str'],
  ['lmdb', 'get', 'lmdb-js get', 'str'],
  ['lmdb', 'miss', 'lmdb-js get miss', 'str'],
  ['lmdb', 'set', 'lmdb-js putSync', 'str'],
  ['lmdb', 'setns', 'lmdb-js putSync, noSync', 'str'],
  ['redis', 'get', 'Redis await GET', 'str'],
  ['redis', 'set', 'Redis await SET', 'str'],
  ['shmkv', 'get', 'getSync obj', 'obj'],
  ['shmkv', 'hot', `getSync obj, ${HOT_KEYS} hot keys, localCache`, 'obj'],
  ['shmkv', 'set', 'setSync obj', 'obj'],
  ['lmdb', 'get', 'lmdb-js get obj', 'obj'],
  ['lmdb', 'setns', 'lmdb-js putSync obj, noSync', 'obj'],
  ['lru', 'get', 'lru-cache get obj', 'obj'],
  ['lru', 'hot', `lru-cache get obj, ${HOT_KEYS} hot keys`, 'obj'],
  ['redis', 'get', 'Redis await GET obj (JSON)', 'obj'],
  ['redis', 'set', 'Redis await SET obj (JSON)', 'obj'],
];

/** A case's id: system/op for the headline strings, system/op/obj for objects. */
const caseId = (system: LibSystem, op: LibOp, data: 'str' | 'obj'): string => (data === 'str' ? `${system}/${op}` : `${system}/${op}/obj`);

/** Timing of one measurement (ms): warm-up, timed loop (headline, sweep). */
function timing(o: Options): { warmupMs: number; timedMs: number; sweepMs: number } {
  return o.quick ? { warmupMs: 100, timedMs: 300, sweepMs: 150 } : { warmupMs: 300, timedMs: 1500, sweepMs: 700 };
}

/** Where each system lives (region, lmdb directory, Redis socket, lru-cache: the worker itself), null when not measured. */
function targetOf(sys: Systems, s: LibSystem): string | null {
  if (s === 'lru') return 'in-process';
  if (s === 'shmkv') return sys.libServer?.regionPath ?? null;
  if (s === 'lmdb') return sys.libLmdbDir;
  return sys.redis?.socket ?? null;
}

/** Run one client process and parse its report. */
function runWorker(task: LibTask): Promise<LibReport> {
  return new Promise((resolve, reject) => {
    const c = spawn(process.execPath, [WORKER, JSON.stringify(task)], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    c.stdout.on('data', (d: Buffer) => (out += d.toString()));
    c.stderr.on('data', (d: Buffer) => (err += d.toString()));
    c.once('error', reject);
    c.once('exit', (code, sig) => {
      if (code === 0) {
        try {
          resolve(JSON.parse(out.trim().split('\n').pop()!) as LibReport);
          return;
        } catch {
          // fall through
        }
      }
      reject(new Error(`library-worker ${task.system} ${task.op} exited with ${sig ?? code}: ${err.trim().slice(-500)}`));
    });
  });
}

/** An empty results record: the cases and sweep points this run measures. */
export function libraryPlan(o: Options, sys: Systems): LibraryResult {
  const t = timing(o);
  // lru-cache needs no setup: measured beside this store.
  const have = (s: LibSystem): boolean => o.systems.has(s === 'lru' ? 'shmkv' : s) && targetOf(sys, s) !== null;
  const head = headlineData(o.libraryKeys);
  return {
    meta: {
      headline: head,
      keyBytes: 16,
      ...t,
      maxOps: 5_000_000,
      loadProcs: o.loadProcs,
      worker: `node ${path.relative(process.cwd(), WORKER)} '<task JSON>' (one process per measurement; every task is in library.meta.tasks)`,
      lmdbVersion: (JSON.parse(fs.readFileSync(path.join(REPO, 'node_modules', 'lmdb', 'package.json'), 'utf8')) as { version: string }).version,
      lmdb: 'lmdb-js open({ path }) with default options in a temp dir: string keys (ordered-binary key encoding), values in its default encoding (reported by the worker below), synced commits (putSync = one durable write transaction)',
      redis: 'ioredis over a unix socket, one await GET/SET at a time, persistence off',
      shmkv: 'connect({ path }) to a ./server -n 2 -s 1024 started by the bench (its default codec); getSync/setSync, one-at-a-time await get()/set(); hot keys: connect({ path, localCache: true })',
      lru: 'lru-cache in the measuring process (max = the keys), holding the objects themselves',
      objects: `${objectData(o.libraryKeys).keys} objects of about 200 B (bench/report/library-data.ts objectOf: id, name, email, roles, a flag, a score, tags, a timestamp) under 16-byte string keys; Redis stores them as JSON text`,
      tasks: [] as LibTask[],
    },
    cases: CASES.filter(([s]) => have(s)).map(([system, op, label, data]) => ({ id: caseId(system, op, data), system, op, label, quiet: null, loaded: null })),
    sweep: SWEEP_SIZES.flatMap((valueBytes) =>
      (['shmkv', 'lmdb', 'redis'] as const)
        .filter(have)
        .flatMap((system) => (['get', 'set'] as const).map((op) => ({ system, op, valueBytes, keys: sweepData(valueBytes, o.quick).keys, stat: null }))),
    ),
    ratios: {},
  };
}

/** Prefill the headline and sweep data sets into every system measured (once, before the first repetition). */
export async function prefillLibrary(o: Options, sys: Systems, lib: LibraryResult): Promise<void> {
  const sets: DataSet[] = [headlineData(o.libraryKeys), objectData(o.libraryKeys), ...SWEEP_SIZES.map((b) => sweepData(b, o.quick))];
  for (const system of new Set(lib.cases.map((c) => c.system))) {
    if (system === 'lru') continue; // in each measuring process
    const t0 = Date.now();
    for (const data of sets) {
      const r = await runWorker({ mode: 'prefill', system, op: 'set', data, target: targetOf(sys, system)!, warmupMs: 0, timedMs: 0, maxOps: 0, ownPids: [] });
      if (system === 'lmdb' && r.encoding) lib.meta.lmdbEncoding = r.encoding;
    }
    log(`bench: library: ${system} prefilled (${sets.map((d) => `${d.keys} x ${d.valueBytes} B`).join(', ')}) in ${Date.now() - t0} ms`);
  }
}

async function measure(o: Options, sys: Systems, lib: LibraryResult, system: LibSystem, op: LibOp, data: DataSet, timedMs: number, rep: number, loaded: boolean): Promise<LibRun> {
  let load: BackgroundLoad | null = null;
  try {
    if (loaded) load = await startLoad(o.loadProcs);
    const task: LibTask = {
      mode: 'measure',
      system,
      op,
      data,
      target: targetOf(sys, system)!,
      warmupMs: timing(o).warmupMs,
      timedMs,
      maxOps: lib.meta.maxOps as number,
      ownPids: [...ownPids(sys), ...(load?.pids ?? [])],
    };
    const tasks = lib.meta.tasks as LibTask[];
    if (rep === 0 && !tasks.some((t) => t.system === system && t.op === op && t.data.tag === data.tag && t.timedMs === timedMs)) tasks.push({ ...task, ownPids: [] });
    const r = await runWorker(task);
    return { rep, kps: r.kps, ops: r.ops, bad: r.bad, foreignCores: r.foreignCores };
  } finally {
    await load?.stop();
  }
}

/** One repetition of the section; returns the results so far (aggregated) and a progress line. */
export async function measureLibraryRep(o: Options, sys: Systems, lib: LibraryResult, rep: number, loaded: boolean): Promise<{ lib: LibraryResult; line: string }> {
  const t = timing(o);
  const t0 = Date.now();
  const head = headlineData(o.libraryKeys);
  const objs = objectData(o.libraryKeys);
  const rot = <T>(xs: T[]): T[] => xs.map((_, i) => xs[(i + rep) % xs.length]);
  const line: string[] = [];
  for (const c of rot(lib.cases)) {
    const settings = !loaded ? [false] : rep % 2 ? [true, false] : [false, true];
    for (const ld of settings) {
      const r = await measure(o, sys, lib, c.system, c.op, c.id.endsWith('/obj') ? objs : head, t.timedMs, rep, ld);
      const stat = (ld ? c.loaded : c.quiet) ?? { runs: [], median: NaN, min: NaN, max: NaN, foreignCores: null, quiet: { runs: 0, kps: null } };
      stat.runs.push(r);
      if (ld) c.loaded = stat;
      else c.quiet = stat;
      line.push(`${c.label}${ld ? ' loaded' : ''} ${r.kps.toPrecision(3)}${r.bad ? ` (${r.bad} bad)` : ''}`);
    }
  }
  for (const s of rot(lib.sweep)) {
    const r = await measure(o, sys, lib, s.system, s.op, sweepData(s.valueBytes, o.quick), t.sweepMs, rep, false);
    s.stat ??= { runs: [], median: NaN, min: NaN, max: NaN, foreignCores: null, quiet: { runs: 0, kps: null } };
    s.stat.runs.push(r);
  }
  line.push(`sweep: ${lib.sweep.length} points`);
  const agg = aggregateLibrary(lib);
  return { lib: agg, line: `${line.join(', ')} K/s (${Math.round((Date.now() - t0) / 1000)} s)` };
}
