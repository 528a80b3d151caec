/**
 * A server worker thread: take a window index from the ring, execute the
 * request in it against the table (execute.ts), repeat.
 *
 * BUSY PROTOCOL (for the window reaper, see reaper.ts): each worker owns one
 * header word `busy`, even while it holds no request and odd while it may.
 * It becomes odd BEFORE the take attempt (so a reaper never misses a request
 * taken between its check and the store) and even after the response is
 * published or the take found the ring empty.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { Region } from '../layout/region';
import { Ring, RING_EMPTY } from '../store/ring';
import { Board } from '../store/board';
import { Table } from '../store/table';
import { HDR_BUSY } from '../layout/layout';
import { Executor } from './execute';
import { Staging } from './staging';
import { WaitPolicy } from '../sync/waiter';

export interface ServerWorkerData {
  region: ReturnType<Region['transferable']>;
  data: SharedArrayBuffer;
  staging: SharedArrayBuffer;
  /**
   * Server-private word (Int32 0), 1 once the server is stopping. Not the
   * region's state word: any same-user process can write that one, and a
   * forged STOPPING must not make the workers quit.
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
  let win = RING_EMPTY;
  const attempt = (): boolean => {
    Atomics.add(w, busy, 1); // odd: may hold a request
    win = ring.tryTake();
    if (win !== RING_EMPTY) return true;
    Atomics.add(w, busy, 1); // even: holds nothing
    return false;
  };
  const stopWhenDrained = (): void => {
    if (Atomics.load(control, 0) !== 0) throw STOP;
  };

  // Orderly stop: once a worker sees the stop word (set by the server right
  // after it publishes STOPPING in the region) it answers every request
  // published before that moment (positions < stopAt) and then leaves;
  // requests published later are not accepted (their clients see STOPPED).
  let stopAt: number | null = null;
  for (;;) {
    if (stopAt === null && Atomics.load(control, 0) !== 0) stopAt = ring.tail();
    if (stopAt !== null && ((ring.head() - stopAt) | 0) >= 0) return;
    if (!attempt()) {
      try {
        ring.notEmpty.await(attempt, data.policy, stopWhenDrained);
      } catch (e) {
        if (e === STOP) return;
        throw e;
      }
    }
    // ---- validity of the ring entry (robust branch) -------------------------
    // A ring slot is client-writable: its window field may name no window at
    // all (>= windowCount, e.g. the page padding after the board). Using it
    // as an index would throw in Atomics (killing this worker, hence the
    // server) or touch memory that is no window. There is nobody to answer:
    // drop it, report the first one, and go on serving.
    if (!board.isWindow(win)) {
      reportDropped(data.index, win, board.windowCount);
      Atomics.add(w, busy, 1); // even: nothing held
      continue;
    }
    // ---- end of validity check ------------------------------------------------
    exec.run(win);
    Atomics.add(w, busy, 1); // even: the response is published
  }
}

const STOP = new Error('stop');

let droppedReported = false;
/** One line for the first garbage ring entry of this worker; later ones are dropped silently. */
function reportDropped(worker: number, win: number, windows: number): void {
  if (droppedReported) return;
  droppedReported = true;
  process.stderr.write(`server: worker ${worker} dropped a ring entry naming window ${win} (the board has ${windows}): a process wrote garbage into the region\n`);
}

run(workerData as ServerWorkerData);
parentPort?.postMessage('done');
