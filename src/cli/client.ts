/**
 * ./client: replay a workload file against the server, n threads with up to
 * w requests in flight each; print two lines (total time and
 * throughput); optionally fork the server, write and check get results.
 */
import * as path from 'node:path';
import { spawn, ChildProcess } from 'node:child_process';
import { Worker } from 'node:worker_threads';
import { parse, runCli, usage, Spec, UsageError } from './args';
import { parseValues, parseWorkload, splitParts, ValueFile, Workload } from '../workload/workload';
import { InputError, readInput } from '../workload/input';
import { notRegular } from '../workload/input';
import { checkOutput, OutputFile, sameFile } from '../workload/output';
import { byteKey, parseStringValues, StringFile } from '../workload/bytes';
import type { ReplayMessage, ReplayReport, ReplayTask } from './replay-contract';
import { ReplayError } from './replay-error';
import { Connection, DEFAULT_RECONNECT_MS } from '../client/connection';
import { fromWire } from '../client/thread-error';
import { resolveRegionPath } from '../layout/region';
import { MAX_WINDOWS, Op } from '../layout/board';
import { MAX_SERVER_THREADS } from '../layout/region-header';
import { ServerGoneError, BoardFullError, RegionError, ServerError } from '../errors';

export const CLIENT_SPEC = {
  threads: { kind: 'int', short: 'n', min: 1, max: 1024, def: 1, arg: 'N', help: 'client threads' },
  window: { kind: 'int', short: 'w', min: 1, max: MAX_WINDOWS, def: 1, arg: 'W', help: 'requests in flight per thread' },
  fork: { kind: 'bool', short: 'f', help: 'fork a server for this run and stop it at the end' },
  input: { kind: 'string', short: 'i', def: 'workload.txt', arg: 'FILE', help: 'workload file' },
  'server-threads': { kind: 'int', short: 't', min: 1, max: MAX_SERVER_THREADS, def: 1, arg: 'N', help: 'threads of the server that -f forks' },
  size: { kind: 'int', short: 's', min: 1, max: 2 ** 30, def: 1024, arg: 'N', help: 'initial table size of the server that -f forks' },
  coarse: { kind: 'bool', help: 'the server that -f forks uses one coarse lock' },
  check: { kind: 'bool', short: 'c', help: 'compare get results with the expected file; exit 1 at the first mismatch' },
  expected: { kind: 'string', short: 'e', def: 'solution.txt', arg: 'FILE', help: 'expected results for -c' },
  output: { kind: 'string', short: 'o', arg: 'FILE', help: 'write every get result, one per line, in workload order' },
  path: { kind: 'string', short: 'p', arg: 'FILE', help: 'region file (default $SHMKV_PATH or ./shmem_file)' },
  'reconnect-ms': {
    kind: 'int',
    min: 0,
    max: 2 ** 31,
    def: DEFAULT_RECONNECT_MS,
    arg: 'MS',
    help: 'ride through a server restart or pause, waiting this long for a server (0, and with -f: exit as soon as it is gone)',
  },
  direct: { kind: 'bool', help: 'answer gets from the shared table in the client thread, not through the ring' },
  verbose: { kind: 'bool', short: 'v', help: 'print per-thread details' },
  help: { kind: 'bool', short: 'h', help: 'show this help' },
} satisfies Spec;

const SERVER_JS = path.join(__dirname, 'server.js');
const FORK_READY_MS = 15000;

class Interrupted extends Error {}

runCli('client', [InputError, RegionError, ServerGoneError, BoardFullError, ServerError, ReplayError], async () => {
  const o = parse(CLIENT_SPEC, process.argv.slice(2));
  if (o.help) {
    process.stdout.write(usage('client', '-n THREADS -w WINDOW [-f] [-i WORKLOAD] [options]', CLIENT_SPEC));
    return 0;
  }
  if (o.expected !== CLIENT_SPEC.expected.def && !o.check) throw new UsageError('-e only makes sense with -c');
  checkFiles(o.input, o.check ? o.expected : null, o.output ?? null);
  const workload = parseWorkload(readInput(o.input, 'workload'), o.input);
  let expected: ValueFile | StringFile | null = null;
  if (o.check) {
    const buf = readInput(o.expected, 'expected file');
    expected = workload.form === 'bytes' ? parseStringValues(buf, o.expected) : parseValues(buf, o.expected);
    checkExpectedCount(workload, expected, o.expected);
  }
  const regionPath = resolveRegionPath(o.path);
  // The server -f forks would refuse it too, in its own line: say it once, before forking.
  const kind = o.fork ? notRegular(regionPath) : null;
  if (kind !== null) throw new InputError(`cannot use ${regionPath} as the region file: it is ${kind}, not a regular file`);

  const server = o.fork ? forkServer(regionPath, o['server-threads'], o.size, o.coarse) : null;
  try {
    // A server forked for this run is this run's alone: nothing would start
    // it again, so its client does not wait for it.
    const conn = await openConnection(regionPath, server, server ? 0 : o['reconnect-ms']);
    checkServerLimits(conn, workload, o.input);
    const keep = o.check || o.output !== undefined;
    const code = await replayAll(conn, workload, o.threads, o.window, o.verbose, o.direct, keep);
    conn.close();
    if (code !== 0) return code;
  } finally {
    if (server) await stopServer(server.child);
  }
  const results = lastResults!;
  if (workload.form === 'bytes') {
    const strings = lastStrings!;
    if (o.output) writeLines(o.output, strings);
    if (expected) return compareStrings(workload, strings, expected as StringFile, o.input, o.expected);
    return 0;
  }
  if (o.output) writeResults(o.output, workload, results);
  if (expected) return compare(workload, results, expected as ValueFile, o.input, o.expected);
  return 0;
});

let lastResults: Uint32Array | null = null;
/** Byte workloads: every get's result line, in workload order. */
let lastStrings: string[] | null = null;

/** A byte workload's keys and values must fit the server's limits (which may be lower than the defaults checked at parse time). */
function checkServerLimits(conn: Connection, w: Workload, file: string): void {
  const b = w.bytes;
  if (!b) return;
  const { maxKeyBytes, maxValueBytes } = conn.reader;
  if (b.maxKey > maxKeyBytes) throw new InputError(`${file}:${b.maxKeyLine}: key of ${b.maxKey} bytes is over the server's limit of ${maxKeyBytes} bytes`);
  if (b.maxValue > maxValueBytes) throw new InputError(`${file}:${b.maxValueLine}: value of ${b.maxValue} bytes is over the server's limit of ${maxValueBytes} bytes`);
}

async function replayAll(conn: Connection, w: Workload, threads: number, width: number, verbose: boolean, direct: boolean, keep: boolean): Promise<number> {
  const abort = new Int32Array(new SharedArrayBuffer(4));
  let interrupted = false;
  const onSignal = (): void => {
    interrupted = true;
    Atomics.store(abort, 0, 1);
  };
  // Listen before reserving: once its windows are reserved the client is
  // visibly attached, and a signal landing before the listeners exist would
  // take the default action (death by signal, a forked server orphaned).
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  let first = -1;
  try {
    first = conn.reserve(threads * width);
    // u32 gets' results by request index (byte workloads return theirs in the reports).
    const results = new Uint32Array(new SharedArrayBuffer(Math.max(w.form === 'u32' ? 4 * w.count : 0, 8)));
    const parts = splitParts(w.count, threads);
    const reports = await Promise.all(
      parts.map(([start, end], i) => {
        const task: ReplayTask = {
          conn: conn.shared(),
          first: first + i * width,
          width,
          start,
          end,
          ops: w.ops,
          keys: w.keys,
          values: w.values,
          results,
          bytes: w.bytes,
          lines: w.lines,
          direct,
          keep,
          abort,
        };
        return runWorker(task);
      }),
    );
    if (interrupted) throw new Interrupted();
    const t0 = Math.min(...reports.map((r) => r.firstSubmitNs));
    const t1 = Math.max(...reports.map((r) => r.lastCompleteNs));
    const ms = (t1 - t0) / 1e6;
    const full = reports.reduce((a, r) => a + r.full, 0);
    process.stdout.write(`Total time: ${ms.toFixed(2)} ms\nThroughput: ${(w.count / ms).toFixed(2)} K/s\n`);
    if (full > 0) process.stderr.write(`client: ${full} put(s) refused: the server's table is at its memory cap\n`);
    if (verbose)
      reports.forEach((r, i) =>
        process.stderr.write(`client: thread ${i}: ${r.completed} requests, ${((r.lastCompleteNs - r.firstSubmitNs) / 1e6).toFixed(2)} ms\n`),
      );
    lastResults = results;
    if (w.form === 'bytes' && keep) lastStrings = reports.flatMap((r) => r.strings ?? []);
    return 0;
  } catch (e) {
    // Ctrl-C reaches the whole process group: a forked server stops at the
    // same time, and a thread may meet "the server has stopped" before it
    // sees the abort flag. The user interrupted: say that.
    if (e instanceof Interrupted || (interrupted && e instanceof ServerGoneError)) {
      process.stderr.write('client: interrupted\n');
      return 130;
    }
    throw e;
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
    if (first >= 0) conn.release(first);
  }
}

function runWorker(task: ReplayTask): Promise<ReplayReport> {
  return new Promise((resolve, reject) => {
    const worker = new Worker(path.join(__dirname, 'replay-worker.js'), { workerData: task });
    let report: ReplayReport | null = null;
    worker.once('message', (m: ReplayMessage) => {
      if ('report' in m) report = m.report;
      else {
        // ReplayError is the CLI's own: rebuild it so it prints as one line.
        const e = fromWire(m.error);
        reject(e.name === 'ReplayError' ? new ReplayError(e.message) : e);
      }
    });
    worker.once('error', (e) => reject(e));
    worker.once('exit', (code) => (report ? resolve(report) : reject(new Error(`client thread exited with code ${code}`))));
  });
}

interface Forked {
  child: ChildProcess;
  exited: Promise<string>;
}

function forkServer(regionPath: string, threads: number, size: number, coarse: boolean): Forked {
  // --temporary: a replay starts from an empty table, and leaves no cache behind.
  const args = [SERVER_JS, '-n', String(threads), '-s', String(size), '-p', regionPath, '-q', '--temporary'];
  if (coarse) args.push('--coarse');
  const child = spawn(process.execPath, args, { stdio: ['ignore', 'inherit', 'pipe'] });
  let stderr = '';
  child.stderr!.on('data', (d: Buffer) => {
    stderr += d.toString();
    process.stderr.write(d);
  });
  const exited = new Promise<string>((resolve) =>
    child.once('exit', (code, signal) => resolve(stderr.trim().split('\n').pop() || `exit ${code ?? signal}`)),
  );
  return { child, exited };
}

async function openConnection(regionPath: string, server: Forked | null, reconnectMs: number): Promise<Connection> {
  const opts = { path: regionPath, reconnect: reconnectMs > 0, reconnectMs };
  if (!server) return Connection.open(opts);
  const deadline = Date.now() + FORK_READY_MS;
  let exitedWith: string | null = null;
  void server.exited.then((why) => (exitedWith = why));
  for (;;) {
    await new Promise((r) => setTimeout(r, 10));
    if (exitedWith !== null) throw new ServerGoneError(`the forked server failed to start: ${String(exitedWith).replace(/^server: /, '')}`);
    try {
      return Connection.open(opts);
    } catch (e) {
      if (!(e instanceof RegionError || e instanceof ServerGoneError)) throw e;
      if (Date.now() > deadline) throw new ServerGoneError(`the forked server was not ready after ${FORK_READY_MS} ms: ${(e as Error).message}`);
    }
  }
}

async function stopServer(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const gone = new Promise((r) => child.once('exit', r));
  child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), 5000);
  await gone;
  clearTimeout(timer);
}

function getCount(w: Workload): number {
  const get = w.form === 'bytes' ? Op.Read : Op.GetU32;
  let n = 0;
  for (let i = 0; i < w.count; i++) if (w.ops[i] === get) n++;
  return n;
}

function checkExpectedCount(w: Workload, expected: ValueFile | StringFile, file: string): void {
  const gets = getCount(w);
  if (gets !== expected.values.length) throw new InputError(`${file}: holds ${expected.values.length} values but the workload has ${gets} gets`);
}

function writeResults(file: string, w: Workload, results: Uint32Array): void {
  const out: string[] = [];
  for (let i = 0; i < w.count; i++) if (w.ops[i] === Op.GetU32) out.push(String(results[i]));
  writeLines(file, out);
}

/**
 * The files a run reads and writes, checked before anything starts: -o must
 * be writable (output.ts), and must not be the workload or the expected file.
 */
function checkFiles(input: string, expected: string | null, output: string | null): void {
  if (output === null) return;
  if (sameFile(output, input)) throw new UsageError(`-o ${output} is the workload file: the results would overwrite it`);
  if (expected !== null && sameFile(output, expected)) throw new UsageError(`-o ${output} is the expected file: the results would overwrite it`);
  checkOutput(output, 'results');
}

function writeLines(file: string, out: string[]): void {
  const f = OutputFile.open(file, 'results');
  try {
    for (const line of out) f.write(`${line}\n`);
    f.close();
  } catch (e) {
    f.remove();
    throw e;
  }
}

function compare(w: Workload, results: Uint32Array, expected: ValueFile, input: string, expFile: string): number {
  let g = 0;
  for (let i = 0; i < w.count; i++) {
    if (w.ops[i] !== Op.GetU32) continue;
    if (results[i] !== expected.values[g]) {
      process.stderr.write(
        `client: mismatch at ${input}:${w.lines[i]} (get ${w.keys[i]}): got ${results[i]}, ${expFile} line ${expected.lines[g]} expects ${expected.values[g]}\n`,
      );
      return 1;
    }
    g++;
  }
  process.stderr.write(`client: all ${g} get results match ${expFile}\n`);
  return 0;
}

/** -c of a byte workload: result lines against expected lines ('' = absent). */
function compareStrings(w: Workload, results: string[], expected: StringFile, input: string, expFile: string): number {
  const show = (v: string): string => (v === '' ? '(absent)' : JSON.stringify(v.length > 60 ? v.slice(0, 60) + '...' : v));
  let g = 0;
  for (let i = 0; i < w.count; i++) {
    if (w.ops[i] !== Op.Read) continue;
    if (results[g] !== expected.values[g]) {
      const key = byteKey(w, i);
      process.stderr.write(
        `client: mismatch at ${input}:${w.lines[i]} (get ${key.length > 60 ? key.slice(0, 60) + '...' : key}): got ${show(results[g])}, ${expFile} line ${expected.lines[g]} expects ${show(expected.values[g])}\n`,
      );
      return 1;
    }
    g++;
  }
  process.stderr.write(`client: all ${g} get results match ${expFile}\n`);
  return 0;
}
