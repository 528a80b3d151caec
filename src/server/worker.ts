/**
 * A server worker thread: warm its request path up on a private scratch
 * region (warmup.ts), then take window indices from the ring (up to
 * BATCH_MAX at once, batches.ts, which also holds the busy protocol the
 * reaper relies on), execute the requests in them against the table
 * (execute.ts), repeat.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { Region } from '../layout/region';
import { Ring } from '../transport/ring';
import { Board } from '../transport/window';
import { Table } from '../store/table';
import { partsOf } from '../store/table-format';
import { HDR_BUSY } from '../layout/region-header';
import { CONTROL_STOP } from '../layout/server-private';
import { IdleWorkers } from './idle';
import { Executor } from './execute';
import { Staging } from './staging';
import { Batches, BATCH_MAX } from './batches';
import { warmUp } from './warmup';
import { logLine } from './log';
import { WORKER_READY, type ServerWorkerData } from './worker-data';

function run(data: ServerWorkerData): void {
  // Hidden classes (warmup.ts, MAPS): a table over the real data first, so
  // that the warm-up's objects take the classes real numbers need; the
  // serving objects after it, so that they take what the warm-up widened.
  const parts = partsOf(data.table);
  new Table(parts, data.index, data.coarse);
  warmUp(data.index, parts.header.eviction);
  const region = Region.fromShared(data.region);
  const ring = new Ring(region);
  const board = new Board(region);
  const table = new Table(parts, data.index, data.coarse);
  const staging = new Staging(data.staging, data.arena, data.arenaState, board, table.maxKeyBytes, table.maxValueBytes);
  const exec = new Executor(board, table, staging);
  const batches = new Batches(ring, board, exec, region.i32, (HDR_BUSY >> 2) + data.index, (win) => reportDropped(data.index, win, board.windowCount));
  const control = new Int32Array(data.control);
  const idle = new IdleWorkers(control, data.index, data.policy);
  parentPort?.postMessage(WORKER_READY);
  let stopAt: number | null = null;
  // While stopping, one at a time: the stop position is checked per take.
  const attempt = (): boolean => batches.attempt(stopAt === null ? BATCH_MAX : 1);
  const stopWhenDrained = (): void => {
    if (Atomics.load(control, CONTROL_STOP) !== 0) throw STOP;
  };

  // Orderly stop: once a worker sees the stop word (set by the server right
  // after it publishes STOPPING in the region) it answers every request
  // published before that moment (positions < stopAt) and then leaves;
  // requests published later are not accepted (their clients see STOPPED).
  for (;;) {
    if (stopAt === null && Atomics.load(control, CONTROL_STOP) !== 0) stopAt = ring.tail();
    if (stopAt !== null && ((ring.head() - stopAt) | 0) >= 0) return;
    if (!attempt()) {
      try {
        idle.wait(ring.notEmpty, attempt, stopWhenDrained);
      } catch (e) {
        if (e === STOP) return;
        throw e;
      }
    }
    // A full batch: more requests are likely waiting; call a benched worker.
    // (Also calling when the ring is merely non-empty cost more wake-ups:
    // -n 2 -w 16 -t 2 beside two busy loops ran 599 K/s against 855 with
    // full batches only, medians of 5; quiet the two were alike.)
    if (batches.taken === BATCH_MAX && idle.benched()) idle.callHelper();
    batches.runTaken();
  }
}

const STOP = new Error('stop');

let droppedReported = false;
/** One line for the first garbage ring entry of this worker; later ones are dropped silently. */
function reportDropped(worker: number, win: number, windows: number): void {
  if (droppedReported) return;
  droppedReported = true;
  logLine(`worker ${worker} dropped a ring entry naming window ${win} (the board has ${windows}): a process wrote garbage into the region`);
}

run(workerData as ServerWorkerData);
