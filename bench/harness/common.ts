/**
 * Types shared by the bench orchestrator (run.ts) and its worker scripts
 * (replay-worker.ts for this store, redis-worker.ts, lmdb-worker.ts).
 *
 * Every worker replays one contiguous slice [start, end) of a workload held
 * in shared typed arrays, keeping up to `width` requests in flight, and
 * reports its first-submit / last-complete clock readings. With `timed`, it
 * also records each request's submit-to-completion latency (ns) at its index
 * relative to `start` in a Float64Array it hands back.
 */
import type { WorkloadSlice } from '../../src/workload/workload-types';

export interface SliceTask extends WorkloadSlice {
  /** Record per-request latencies (process.hrtime.bigint() deltas). */
  timed: boolean;
  /** Int32Array word the main thread sets to 1 once every worker is ready (a start barrier). */
  go: Int32Array;
  /** Int32Array word each worker increments when it is ready to start. */
  ready: Int32Array;
}

export interface SliceReport {
  /** process.hrtime.bigint() of the first submission / last completion, in ns (as numbers). */
  firstSubmitNs: number;
  lastCompleteNs: number;
  completed: number;
  /** Gets that found no value (after the prefill, every key is present: should be 0). */
  notFound: number;
  /** Per-request latencies in ns, in slice order, or null when untimed. */
  latencies: Float64Array | null;
}

/**
 * Requests of its own slice a bench thread of this store (replay-worker.ts,
 * table-worker.ts) replays before the start barrier, untimed and not
 * counted. Why: every run (and every chunk of a budgeted run, runner.ts)
 * starts fresh worker threads, whose loop runs in V8's interpreter and
 * baseline tiers until the optimizing compiler has caught up, and a short
 * run is over before that: at 200,000 requests the replay at -n 2 -w 16
 * -t 2 measured 1940 K/s without this and 3823 with it, the table alone at
 * 2 threads ~5 M/s where 1,000,000 requests give ~12 M/s. The warm-up's
 * puts store the values the slice's own puts store, on data prefilled with
 * every key, so the table ends as it would anyway.
 */
export const WARMUP_REQUESTS = 20_000;

/** Wait at the start barrier: say ready, then block until the main thread says go. */
export function barrier(t: SliceTask): void {
  Atomics.add(t.ready, 0, 1);
  Atomics.notify(t.ready, 0);
  while (Atomics.load(t.go, 0) === 0) Atomics.wait(t.go, 0, 0, 50);
}

/** Op codes as stored in the workload arrays (src/layout/board.ts, Op.GetU32 and Op.PutU32). */
export const OP_GET = 1;
export const OP_PUT = 2;
