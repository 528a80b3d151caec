/**
 * A client CLI thread: replay one contiguous part of the workload through a
 * lane, keeping up to `width` requests in flight, and store each get's result
 * at its request index. u32 workloads take replay-loop.ts's replayU32,
 * kept lean: it is what ./client's figures measure (with --direct:
 * replay-direct.ts); byte workloads take replay-bytes.ts.
 *
 * RIDING THROUGH: when the server is replaced mid-replay, the lane moves
 * (lane.ts) and throws LaneMoved; every request of a replay is idempotent
 * (put, get, set, del), so the replay sends again, from the workload, each
 * one that was in flight, then goes on (replay-loop.ts). A get resent to a
 * cold-started server answers from its (empty) table.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { Connection } from '../client/connection';
import { Lane } from '../client/lane';
import { replayU32 } from './replay-loop';
import { toWire } from '../client/thread-error';
import { Op, Status } from '../layout/board';
import type { ReplayReport, ReplayTask } from './replay-contract';

function replay(t: ReplayTask): ReplayReport {
  const conn = Connection.fromShared(t.conn);
  const lane = new Lane(conn, t.first, t.width);
  const { ops, results } = t;
  let full = 0;
  const firstSubmit = process.hrtime.bigint();
  const done = replayU32(lane, t, t.abort, (i) => {
    if (ops[i] === Op.GetU32) results[i] = lane.result;
    else if (lane.status === Status.Full) full++;
  });
  lane.close();
  const lastComplete = process.hrtime.bigint();
  return { firstSubmitNs: Number(firstSubmit), lastCompleteNs: Number(lastComplete), completed: done - t.start, full };
}

try {
  const task = workerData as ReplayTask;
  // Loaded only when used: the u32 replay thread loads neither.
  const bytes = (): typeof import('./replay-bytes') => require('./replay-bytes') as typeof import('./replay-bytes');
  const direct = (): typeof import('./replay-direct') => require('./replay-direct') as typeof import('./replay-direct');
  parentPort!.postMessage({ report: task.bytes ? bytes().replayBytes(task) : task.direct ? direct().replayDirect(task) : replay(task) });
} catch (e) {
  parentPort!.postMessage({ error: toWire(e) });
}
