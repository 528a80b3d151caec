/**
 * What the CLI's main thread hands a replay thread and what it gets back:
 * the contract of replay-worker.ts and the replays it dispatches to
 * (replay-bytes.ts, replay-direct.ts).
 */
import type { SharedConnection } from '../client/connection';
import type { WireError } from '../client/thread-error';
import type { ByteRequests, WorkloadSlice } from '../workload/workload-types';

export interface ReplayTask extends WorkloadSlice {
  conn: SharedConnection;
  first: number;
  results: Uint32Array;
  /** Byte workloads: the packed requests (null for u32 workloads). */
  bytes?: ByteRequests | null;
  /** 1-based workload line of each request (error messages). */
  lines: Uint32Array;
  /** Gets read the shared table directly (--direct) instead of going through the ring. */
  direct: boolean;
  /** Byte workloads: return get results (for -c/-o) in the report. */
  keep: boolean;
  /** Int32Array word set to 1 by the main thread to stop early (Ctrl-C). */
  abort: Int32Array;
}

export type ReplayMessage = { report: ReplayReport } | { error: WireError };

export interface ReplayReport {
  /** process.hrtime.bigint() of the first submission / last completion, as ns numbers. */
  firstSubmitNs: number;
  lastCompleteNs: number;
  completed: number;
  /** Puts refused because the table is at its memory cap. */
  full: number;
  /** Byte workloads with `keep`: the result line of each get, in order. */
  strings?: string[];
}
