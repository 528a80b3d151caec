/**
 * Bench client thread for this store, modelled on src/cli/replay-worker.ts:
 * replay one slice of the workload through a Lane with up to `width`
 * requests in flight.
 *
 * Timed mode records each request's submit-to-completion latency with
 * process.hrtime.bigint(), one clock read per request: the reading taken
 * right after a completion is that request's completion time AND the submit
 * time of the request submitted next (the loop submits immediately after
 * consuming a completion), so the timing costs one hrtime call and one
 * BigInt subtraction per request. Untimed mode is the CLI's loop unchanged;
 * run.ts measures throughput untimed and latency timed (see README).
 */
import { parentPort, workerData } from 'node:worker_threads';
import { Connection, SharedConnection } from '../../src/client/connection';
import { Lane } from '../../src/client/lane';
import { Status } from '../../src/layout/board';
import { barrier, SliceReport, SliceTask, WARMUP_REQUESTS } from '../harness/common';

export interface ReplayTask extends SliceTask {
  conn: SharedConnection;
  first: number;
}

function replayUntimed(t: ReplayTask, lane: Lane): SliceReport {
  const { ops, keys, values, width } = t;
  let notFound = 0;
  let done = t.start;
  const firstSubmit = process.hrtime.bigint();
  for (let i = t.start; i < t.end; i++) {
    if (lane.inFlight === width) {
      lane.awaitNext();
      if (lane.status === Status.NotFound) notFound++;
      done++;
    }
    lane.submit(ops[i], keys[i], values[i]);
  }
  while (lane.inFlight > 0) {
    lane.awaitNext();
    if (lane.status === Status.NotFound) notFound++;
    done++;
  }
  const lastComplete = process.hrtime.bigint();
  return { firstSubmitNs: Number(firstSubmit), lastCompleteNs: Number(lastComplete), completed: done - t.start, notFound, latencies: null };
}

function replayTimed(t: ReplayTask, lane: Lane): SliceReport {
  const { ops, keys, values, width, start, end } = t;
  const lat = new Float64Array(end - start);
  // Submit time of the request in flight in each window slot, ns since base.
  const sub = new Float64Array(width);
  const base = process.hrtime.bigint();
  let notFound = 0;
  let done = start;
  let now = 0;
  let firstNow = -1;
  for (let i = start; i < end; i++) {
    if (lane.inFlight === width) {
      lane.awaitNext();
      now = Number(process.hrtime.bigint() - base);
      if (lane.status === Status.NotFound) notFound++;
      lat[done - start] = now - sub[(done - start) % width];
      done++;
    } else {
      // Filling the window: no completion in this iteration, read the clock.
      now = Number(process.hrtime.bigint() - base);
      if (firstNow < 0) firstNow = now;
    }
    sub[(i - start) % width] = now;
    lane.submit(ops[i], keys[i], values[i]);
  }
  while (lane.inFlight > 0) {
    lane.awaitNext();
    now = Number(process.hrtime.bigint() - base);
    if (lane.status === Status.NotFound) notFound++;
    lat[done - start] = now - sub[(done - start) % width];
    done++;
  }
  const b = Number(base);
  return { firstSubmitNs: b + Math.max(firstNow, 0), lastCompleteNs: b + now, completed: done - start, notFound, latencies: lat };
}

function main(t: ReplayTask): SliceReport {
  const conn = Connection.fromShared(t.conn);
  const lane = new Lane(conn, t.first, t.width);
  const warm = { ...t, end: Math.min(t.end, t.start + WARMUP_REQUESTS) };
  if (t.timed) replayTimed(warm, lane);
  else replayUntimed(warm, lane);
  barrier(t);
  return t.timed ? replayTimed(t, lane) : replayUntimed(t, lane);
}

const report = main(workerData as ReplayTask);
parentPort!.postMessage(report, report.latencies ? [report.latencies.buffer as ArrayBuffer] : []);
