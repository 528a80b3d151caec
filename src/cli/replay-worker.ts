/**
 * A client CLI thread: replay one contiguous part of the workload through a
 * lane, keeping up to `width` requests in flight, and store each get's result
 * at its request index.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { Connection, SharedConnection } from '../client/connection';
import { Lane } from '../client/lane';
import { toWire, WireError } from '../client/thread-error';
import { Op, Status } from '../layout/layout';

export interface ReplayTask {
  conn: SharedConnection;
  first: number;
  width: number;
  start: number;
  end: number;
  ops: Uint8Array;
  keys: Uint32Array;
  values: Uint32Array;
  results: Uint32Array;
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
}

function replay(t: ReplayTask): ReplayReport {
  const conn = Connection.fromShared(t.conn);
  const lane = new Lane(conn, t.first, t.width);
  const { ops, keys, values, results, width, abort } = t;
  let done = t.start;
  let full = 0;
  const record = (): void => {
    if (ops[done] === Op.Get) results[done] = lane.result;
    else if (lane.status === Status.Full) full++;
    done++;
  };
  const firstSubmit = process.hrtime.bigint();
  for (let i = t.start; i < t.end; i++) {
    if (lane.inFlight === width) {
      lane.awaitNext();
      record();
      if (Atomics.load(abort, 0) !== 0) break;
    }
    lane.submit(ops[i], keys[i], values[i]);
  }
  while (lane.inFlight > 0) {
    lane.awaitNext();
    record();
  }
  const lastComplete = process.hrtime.bigint();
  return { firstSubmitNs: Number(firstSubmit), lastCompleteNs: Number(lastComplete), completed: done - t.start, full };
}

try {
  parentPort!.postMessage({ report: replay(workerData as ReplayTask) });
} catch (e) {
  parentPort!.postMessage({ error: toWire(e) });
}
