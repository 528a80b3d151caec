/**
 * The bench's command line: flags, environment variables and the defaults
 * they fall back to. The bottom layer of the orchestrator: it imports nothing
 * from the other bench modules, so every module may import its types.
 */
import * as os from 'node:os';
import * as path from 'node:path';
import { parseArgs } from 'node:util';
import type { WaitPolicy } from '../../src/sync/waiter';

export const USAGE = `usage: node dist/bench/harness/run.js [options]    (make bench)

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
  --sections LIST      of locking,scaling,compare,table,ceiling,loaded,library
                       (default all); ceiling: the 50/50 replay at -n 2 -w 16
                       -t 2 against the table alone at 2 threads, and the
                       hand-off alone (gets of one key) at the same point
  --client-threads L   \\
  --windows L           | override the locking matrix axes (comma lists);
  --server-threads L    | mixes: read,mixed,write; dists: uniform,zipf;
  --locking L           | locking: coarse,fine
  --mixes L             |
  --dists L            /
  --loaded             add the "loaded" section (on by default; --no-loaded or
                       --sections without it: off): the headline points (the
                       README's ./client figures: 50/50 uniform, fine locking,
                       -n 1 -w 1 -t 1|2, -n 2 -w 16 -t 1|2) are also measured
                       beside busy-looping processes, interleaved with their
                       quiet runs, and reported as loaded / quiet
  --load-procs N       busy-looping processes in the loaded setting (default:
                       one per core, ${os.cpus().length} here)
  --loaded-requests N  requests per run in the loaded section, quiet and loaded
                       alike (default: --requests, at most 200000; 50000 with
                       --quick) ...
  --loaded-seconds S   ... or fewer: such a run stops after the chunk that
                       outlasts S seconds (default 8; 3 with --quick)
  --library-keys N     keys of the library section's data set (16-byte string
                       keys, 100-byte string values; default 100000, 20000
                       with --quick); its calls run quiet and, unless
                       --no-loaded, beside the busy loops too
  --no-timing-split    measure throughput on the timed runs (one run per point
                       and system instead of an untimed + a timed run)
  --no-install         do not apt-get install redis-server when missing
                       (skip Redis instead)
  --server-node-args=S extra node flags for the servers, e.g. "--cpu-prof
                       --cpu-prof-dir=/tmp/prof" (also BENCH_SERVER_NODE_ARGS)
  --policy S,Y,MS      experiment: run the servers through bench/systems/server-child.js
                       with wait policy {spins S, yields Y, sleepMs MS} and use
                       it in the clients too (default: ./server and the
                       library's DEFAULT_WAIT_POLICY)
  --out DIR            results directory (default bench/results)
  --rerender FILE      recompute the summaries of a results JSON and rewrite
                       latest.{json,md} and throughput.svg (to --out or its dir)
  -h, --help           this help
`;

export interface Options {
  quick: boolean;
  requests: number;
  reps: number;
  keys: number;
  systems: Set<SystemName>;
  redisMode: 'batch' | 'window';
  sections: Set<string>;
  axes: Axes;
  timingSplit: boolean;
  /** Busy-looping processes beside the store in the "loaded" section. */
  loadProcs: number;
  /** Requests per run in the "loaded" section (a loaded run can be 20x slower than a quiet one). */
  loadedRequests: number;
  /** Time budget of one run in the "loaded" section, in seconds. */
  loadedSeconds: number;
  /** Keys of the library section's headline data set. */
  libraryKeys: number;
  /** The library section's calls also run beside the busy loops (not with --no-loaded). */
  libraryLoaded: boolean;
  install: boolean;
  serverNodeArgs: string[];
  /** Wait policy for servers and clients (experiments); null: ./server's and the library's defaults. */
  policy: WaitPolicy | null;
  out: string;
}

export type SystemName = 'shmkv' | 'redis' | 'lmdb';
/** 'hot' (the ceiling section's hand-off alone: gets of one key) is not a --mixes choice. */
export type MixName = 'read' | 'mixed' | 'write' | 'hot';
export type DistName = 'uniform' | 'zipf';
export type Locking = 'coarse' | 'fine';

export interface Axes {
  clientThreads: number[];
  windows: number[];
  serverThreads: number[];
  locking: Locking[];
  mixes: MixName[];
  dists: DistName[];
}

/** What the command line asks for: the help text, a re-render of stored results, or a run. */
export type Command = { kind: 'help' } | { kind: 'rerender'; file: string; out: string } | { kind: 'run'; options: Options };

/** The repository root (this file runs from dist/bench/). */
export const REPO = path.resolve(__dirname, '..', '..', '..');

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

/** Parse argv (and the BENCH_* environment); throws on a bad flag. */
export function parseCommand(argv: string[]): Command {
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
      loaded: { type: 'boolean' },
      'no-loaded': { type: 'boolean' },
      'load-procs': { type: 'string' },
      'loaded-requests': { type: 'string' },
      'loaded-seconds': { type: 'string' },
      'library-keys': { type: 'string' },
      'no-timing-split': { type: 'boolean' },
      'no-install': { type: 'boolean' },
      'server-node-args': { type: 'string' },
      policy: { type: 'string' },
      out: { type: 'string' },
      rerender: { type: 'string' },
      help: { type: 'boolean', short: 'h' },
    },
  });
  if (v.help) return { kind: 'help' };
  if (v.rerender) return { kind: 'rerender', file: v.rerender, out: path.resolve(v.out ?? path.dirname(v.rerender)) };
  const env = process.env;
  const quick = v.quick === true || (env.BENCH_QUICK !== undefined && env.BENCH_QUICK !== '' && env.BENCH_QUICK !== '0');
  const requests = intList(v.requests ?? env.BENCH_REQUESTS ?? (quick ? '100000' : '1000000'), '--requests')[0];
  const reps = intList(v.reps ?? env.BENCH_REPS ?? '3', '--reps')[0];
  const keys = intList(v.keys ?? '100000', '--keys')[0];
  const systems = new Set(choiceList<SystemName>(v.systems ?? env.BENCH_SYSTEMS ?? 'shmkv,redis,lmdb', ['shmkv', 'redis', 'lmdb'], '--systems'));
  const redisMode = choiceList(v['redis-mode'] ?? 'batch', ['batch', 'window'] as const, '--redis-mode')[0];
  const sections = new Set(choiceList(v.sections ?? 'locking,scaling,compare,table,ceiling,loaded,library', ['locking', 'scaling', 'compare', 'table', 'ceiling', 'loaded', 'library'] as const, '--sections'));
  if (v.loaded && v['no-loaded']) throw new Error('--loaded and --no-loaded contradict each other');
  if (v.loaded) sections.add('loaded');
  // The loaded runs are this store's only (Redis and LMDB would add ~10 min under load, for figures the issue does not ask for).
  if (v['no-loaded'] || !systems.has('shmkv')) sections.delete('loaded');
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
  const loadProcs = intList(v['load-procs'] ?? String(os.cpus().length), '--load-procs')[0];
  // Under load the window-1 points ran 10-20x slower than quiet (issue 12):
  // a cap keeps the section within minutes, and throughput hardly depends
  // on the count once a run lasts longer than a fraction of a second.
  const loadedRequests = Math.min(intList(v['loaded-requests'] ?? String(Math.min(requests, quick ? 50000 : 200000)), '--loaded-requests')[0], requests);
  const nodeArgs = (v['server-node-args'] ?? env.BENCH_SERVER_NODE_ARGS ?? '').split(/\s+/).filter((s) => s !== '');
  return {
    kind: 'run',
    options: {
      quick,
      requests,
      reps,
      keys,
      systems,
      redisMode,
      sections,
      axes,
      timingSplit: v['no-timing-split'] !== true,
      loadProcs,
      loadedRequests,
      libraryKeys: intList(v['library-keys'] ?? (quick ? '20000' : '100000'), '--library-keys')[0],
      libraryLoaded: v['no-loaded'] !== true,
      loadedSeconds: intList(v['loaded-seconds'] ?? (quick ? '3' : '8'), '--loaded-seconds')[0],
      install: v['no-install'] !== true,
      serverNodeArgs: nodeArgs,
      policy: v.policy ? parsePolicy(v.policy) : null,
      out: path.resolve(v.out ?? path.join(REPO, 'bench', 'results', quick ? 'quick' : '')),
    },
  };
}
