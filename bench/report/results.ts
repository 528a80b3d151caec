/**
 * The shape of bench/results/latest.json: per point and system every
 * repetition's run, plus the medians, ratios and targets derived from them.
 * Types only (and the quiet threshold), so the writers (aggregate.ts,
 * targets.ts) and the readers (report.ts) depend on it and not on each other.
 */
import type { LibOp, LibSystem } from './library-data';
import type { SystemName } from '../harness/options';
import type { Point, TablePoint, WorkloadSpec } from '../harness/plan';

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

/** One run of one system at one point, as stored. */
export type Run = SystemResult['runs'][number];

export interface PointResult extends Point {
  systems: Partial<Record<SystemName, SystemResult>>;
  /** Points of the "loaded" section only: ratios.loadedVsQuiet = loaded.loaded / loaded.quiet (medians). */
  loaded?: LoadedResult;
  ratios: Record<string, number>;
}

/**
 * This store at one point, quiet and beside the bench's busy-looping
 * processes, run back to back in every repetition with the same requests.
 */
export interface LoadedResult {
  /** Requests per run at most (the first of the point's workload; a run stops earlier once meta.loaded.loadedSeconds are spent). */
  requests: number;
  quiet: SystemResult;
  loaded: SystemResult;
}

/** The raw runs of a LoadedResult. */
export interface LoadedRuns {
  requests: number;
  quiet: Run[];
  loaded: Run[];
}

export interface TableResult extends TablePoint {
  runs: Array<{ rep: number; throughputKps: number; foreignCores: number | null }>;
  median: { throughputKps: number; foreignCores: number | null };
  quiet: { runs: number; throughputKps: number | null };
  min: number;
  max: number;
}

export interface Results {
  meta: Record<string, unknown>;
  workloads: WorkloadSpec[];
  points: PointResult[];
  /** The "table" section: the hash table alone, coarse vs fine. */
  table?: TableResult[];
  /** The "library" section: calls of the library API from a client process, against lmdb-js and Redis. */
  library?: LibraryResult;
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

/** One timed loop of one library call in one client process. */
export interface LibRun {
  rep: number;
  kps: number;
  ops: number;
  /** Gets that did not return the expected value (0 expected). */
  bad: number;
  foreignCores: number | null;
}

/** A library call's runs with their medians (all runs, and quiet runs only). */
export interface LibStat {
  runs: LibRun[];
  median: number;
  min: number;
  max: number;
  foreignCores: number | null;
  quiet: { runs: number; kps: number | null };
}

/** One call of the headline data set (16-byte string keys, 100-byte string values), quiet and beside busy loops. */
export interface LibCaseResult {
  id: string;
  system: LibSystem;
  op: LibOp;
  label: string;
  quiet: LibStat | null;
  loaded: LibStat | null;
}

/** One point of the value-size sweep (quiet only). */
export interface LibSweepResult {
  system: LibSystem;
  op: 'get' | 'set';
  valueBytes: number;
  keys: number;
  stat: LibStat | null;
}

export interface LibraryResult {
  meta: Record<string, unknown>;
  cases: LibCaseResult[];
  sweep: LibSweepResult[];
  ratios: Record<string, number>;
}

/** A run counts as quiet when other processes kept fewer than this many cores busy. */
export const QUIET_CORES = 0.25;
