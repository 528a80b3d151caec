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
import { HDR_BUSY, HDR_SERVER_STATE, ServerState } from '../layout/layout';
import { Executor } from './execute';
import { Staging } from './staging';
import { WaitPolicy } from '../sync/waiter';

export interface ServerWorkerData {
  region: ReturnType<Region['transferable']>;
  data: SharedArrayBuffer;
  staging: SharedArrayBuffer;
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
  const stateI = HDR_SERVER_STATE >> 2;
  let win = RING_EMPTY;
  const attempt = (): boolean => {
    Atomics.add(w, busy, 1); // odd: may hold a request
    win = ring.tryTake();
    if (win !== RING_EMPTY) return true;
    Atomics.add(w, busy, 1); // even: holds nothing
    return false;
  };
  const stopWhenDrained = (): void => {
    if (Atomics.load(w, stateI) >= ServerState.Stopping) throw STOP;
  };

  // Orderly stop: once a worker sees STOPPING it answers every request
  // published before that moment (positions < stopAt) and then leaves;
  // requests published later are not accepted (their clients see STOPPED).
  let stopAt: number | null = null;
  for (;;) {
    if (stopAt === null && Atomics.load(w, stateI) >= ServerState.Stopping) stopAt = ring.tail();
    if (stopAt !== null && ((ring.head() - stopAt) | 0) >= 0) return;
    if (!attempt()) {
      try {
        ring.notEmpty.await(attempt, data.policy, stopWhenDrained);
      } catch (e) {
        if (e === STOP) return;
        throw e;
      }
    }
    // An index past the board (junk in the ring) names no window: drop it.
    if (win < board.windowCount) exec.run(win);
    Atomics.add(w, busy, 1); // even: the response is published
  }
}

const STOP = new Error('stop');

run(workerData as ServerWorkerData);
parentPort?.postMessage('done');
