/**
 * A server worker thread: take window indices from the ring (up to
 * BATCH_MAX at once), execute the requests in them against the table
 * (execute.ts), repeat.
 *
 * BUSY PROTOCOL (for the window reaper, see reaper.ts): each worker owns one
 * header word `busy`, even while it holds no request and odd while it may.
 * It becomes odd BEFORE the take attempt (so a reaper never misses a request
 * taken between its check and the store) and even after the responses of
 * the whole batch are published or the take found the ring empty.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { Region } from '../layout/region';
import { Ring, RING_EMPTY } from '../store/ring';
import { Board } from '../store/board';
import { Table } from '../store/table';
import { CONTROL_STOP, HDR_BUSY } from '../layout/layout';
import { IdleWorkers } from './idle';
import { Executor } from './execute';
import { Staging } from './staging';
import { WaitPolicy } from '../sync/waiter';

export interface ServerWorkerData {
  region: ReturnType<Region['transferable']>;
  data: SharedArrayBuffer;
  staging: SharedArrayBuffer;
  /**
   * The server's private control words (layout.ts CONTROL_*): the stop
   * word and the idle workers' spinner role and bench (idle.ts). Not in the
   * region: any same-user process can write that, and a forged STOPPING
   * must not make the workers quit.
   */
  control: SharedArrayBuffer;
  index: number;
  policy: WaitPolicy;
}

function run(data: ServerWorkerData): void {
  const region = Region.fromShared(data.region);
  const ring = new Ring(region);
  const board = new Board(region);
  const table = new Table(data.data, data.index);
  const exec = new Executor(board, table, new Staging(data.staging, table, board));
  const w = region.i32;
  const busy = (HDR_BUSY >> 2) + data.index;
  const control = new Int32Array(data.control);
  const idle = new IdleWorkers(control, data.index, data.policy);
  // BATCHES: a worker takes up to BATCH_MAX published windows at once (all
  // inside one odd period of its busy word), so that the cache misses of
  // their table lookups can overlap (Executor.prefetch).
  const batch = new Int32Array(BATCH_MAX);
  let taken = 0;
  let stopAt: number | null = null;
  const attempt = (): boolean => {
    Atomics.add(w, busy, 1); // odd: may hold requests
    // While stopping, one at a time: the stop position is checked per take.
    const max = stopAt === null ? BATCH_MAX : 1;
    taken = 0;
    while (taken < max) {
      const win = ring.tryTake();
      if (win === RING_EMPTY) break;
      batch[taken++] = win;
    }
    if (taken > 0) return true;
    Atomics.add(w, busy, 1); // even: holds nothing
    return false;
  };
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
    // A ring slot is client-writable: its window field may name no window at
    // all (>= windowCount, e.g. the page padding after the board). Using it
    // as an index would throw in Atomics (killing this worker, hence the
    // server) or touch memory that is no window. There is nobody to answer:
    // drop it, report the first one, and go on serving.
    // A full batch: more requests are likely waiting; call a benched worker.
    // (Also calling when the ring is merely non-empty cost more wake-ups:
    // -n 2 -w 16 -t 2 beside two busy loops ran 599 K/s against 855 with
    // full batches only, medians of 5; quiet the two were alike.)
    if (taken === BATCH_MAX && idle.benched()) idle.callHelper();
    let valid = 0;
    for (let i = 0; i < taken; i++) {
      if (board.isWindow(batch[i])) batch[valid++] = batch[i];
      else reportDropped(data.index, batch[i], board.windowCount);
    }
    exec.prefetch(batch, valid);
    for (let i = 0; i < valid; i++) exec.run(batch[i]);
    Atomics.add(w, busy, 1); // even: the responses are published
  }
}

const STOP = new Error('stop');

/**
 * Windows a worker takes from the ring at once (see BATCHES). The seed's
 * replay (-n 2 -w 16 -t 2) ran 1.41 M/s with batches of 8 and prefetch,
 * 1.25 M/s without prefetch (medians of 5, interleaved); 16 measured the
 * same as 8 at -n 1 -w 16 -t 1.
 */
const BATCH_MAX = 8;

let droppedReported = false;
/** One line for the first garbage ring entry of this worker; later ones are dropped silently. */
function reportDropped(worker: number, win: number, windows: number): void {
  if (droppedReported) return;
  droppedReported = true;
  process.stderr.write(`server: worker ${worker} dropped a ring entry naming window ${win} (the board has ${windows}): a process wrote garbage into the region\n`);
}

run(workerData as ServerWorkerData);
parentPort?.postMessage('done');
