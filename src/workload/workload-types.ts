/**
 * The parsed workload's shape: a contract of its own, which the parsers
 * (workload.ts, bytes.ts) and the replays share.
 */
export type WorkloadForm = 'u32' | 'bytes';

/**
 * The byte form's requests, packed so that a replay thread copies a request
 * into a staging block with one set(): request i's key material (a
 * KeyKind.String byte, then the key's UTF-8) is data[start[i], start[i] +
 * keyLen[i]), and a set's value (UTF-8) follows it, valueLen[i] bytes.
 */
export interface ByteRequests {
  data: Uint8Array;
  start: Uint32Array;
  keyLen: Uint32Array;
  valueLen: Uint32Array;
  /** The longest key (UTF-8 bytes, without the KeyKind byte) and value, and their lines. */
  maxKey: number;
  maxKeyLine: number;
  maxValue: number;
  maxValueLine: number;
}

/** A parsed workload in shared typed arrays (worker threads read them in place). */
export interface Workload {
  /** Absent means 'u32' (the bench builds u32 workloads by hand). */
  form?: WorkloadForm;
  count: number;
  /** u32 form: Op.PutU32/Op.GetU32; byte form: Op.Set/Op.Read/Op.Delete. */
  ops: Uint8Array;
  /** u32 form only (empty in the byte form). */
  keys: Uint32Array;
  values: Uint32Array;
  /** Byte form only. */
  bytes?: ByteRequests | null;
  /** 1-based source line of each request. */
  lines: Uint32Array;
}

/**
 * One thread's part of a workload: requests [start, end) of its shared
 * arrays, with up to `width` in flight. What the CLI's replay threads
 * (cli/replay-contract.ts) and the bench's workers (bench/harness/common.ts)
 * are each handed, beside their own fields.
 */
export interface WorkloadSlice {
  width: number;
  start: number;
  end: number;
  ops: Uint8Array;
  keys: Uint32Array;
  values: Uint32Array;
}
