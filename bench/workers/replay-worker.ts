/**
 * Bench client thread for this store: replay one slice of the workload
 * through a Lane with up to `width` requests in flight, by the very loop of
 * ./client's u32 replay (src/cli/replay-loop.ts, replayU32).
 *
 * Timed mode records each request's submit-to-completion latency with
 * process.hrtime.bigint(), one clock read per request: the loop submits
 * request k right after request k - width completed (its window is the one
 * freed), so the reading taken at that completion is request k's submit
 * time, kept in a ring of `width` stamps until request k completes. The
 * first `width` requests are submitted at the start. run.ts measures
 * throughput untimed and latency timed (see bench/README.md).
 */
import { parentPort, workerData } from 'node:worker_threads';
import { Connection, SharedConnection } from '../../src/client/connection';
import { Lane } from '../../src/client/lane';
import { replayU32 } from '../../src/cli/replay-loop';
import { Status } from '../../src/layout/board';
import { barrier, SliceReport, SliceTask, WARMUP_REQUESTS } from '../harness/common';

export interface ReplayTask extends SliceTask {
  conn: SharedConnection;
  first: number;
}

/** Never set: a bench slice runs to its end. */
const NO_ABORT = new Int32Array(new SharedArrayBuffer(4));

function replayUntimed(t: ReplayTask, lane: Lane): SliceReport {
  let notFound = 0;
  const firstSubmit = process.hrtime.bigint();
  const done = replayU32(lane, t, NO_ABORT, () => {
    if (lane.status === Status.NotFound) notFound++;
  });
  const lastComplete = process.hrtime.bigint();
  return { firstSubmitNs: Number(firstSubmit), lastCompleteNs: Number(lastComplete), completed: done - t.start, notFound, latencies: null };
}

function replayTimed(t: ReplayTask, lane: Lane): SliceReport {
  const { start, width } = t;
  const lat = new Float64Array(t.end - start);
  // stamps[k % width]: the submit time of request k in flight (ns since base).
  const stamps = new Float64Array(width);
  let notFound = 0;
  let now = 0;
  const base = process.hrtime.bigint();
  const done = replayU32(lane, t, NO_ABORT, (i) => {
    now = Number(process.hrtime.bigint() - base);
    if (lane.status === Status.NotFound) notFound++;
    const k = i - start;
    lat[k] = now - stamps[k % width];
    stamps[k % width] = now;
  });
  const b = Number(base);
  return { firstSubmitNs: b, lastCompleteNs: b + now, completed: done - start, notFound, latencies: lat };
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
