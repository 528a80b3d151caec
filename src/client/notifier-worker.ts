/**
 * Worker-thread entry of the completion notifier (protocol in notifier.ts).
 */
import { parentPort, workerData } from 'node:worker_threads';
import { Connection } from './connection';
import { toWire } from './thread-error';
import { CTRL_ERROR, CTRL_NOTIFIED, CTRL_STOP, CTRL_SUBMITTED, NotifierData } from './notifier';

/** How long the notifier sleeps on an empty lane before re-checking STOP. */
const IDLE_SLEEP_MS = 1000;

function run(d: NotifierData): void {
  const conn = Connection.fromShared(d.conn);
  const { ctrl, order, width } = d;
  for (;;) {
    // The next request to watch. NOTIFIED is ours while we have requests
    // outstanding; when we have none the main thread may have answered
    // some itself and moved NOTIFIED (then SUBMITTED) past them.
    let n = Atomics.load(ctrl, CTRL_NOTIFIED);
    while (Atomics.load(ctrl, CTRL_SUBMITTED) === n) {
      if (Atomics.load(ctrl, CTRL_STOP) !== 0) return;
      Atomics.wait(ctrl, CTRL_SUBMITTED, n, IDLE_SLEEP_MS);
      n = Atomics.load(ctrl, CTRL_NOTIFIED);
    }
    // NOTIFIED may have moved between our load of it and our load of
    // SUBMITTED (the main thread stores NOTIFIED, then SUBMITTED, when it
    // answered requests itself): then n names an answered request. A
    // SUBMITTED that differs from a NOTIFIED read after it is a hand-off,
    // and the main thread leaves NOTIFIED alone until we move it.
    if (Atomics.load(ctrl, CTRL_NOTIFIED) !== n) continue;
    if (Atomics.load(ctrl, CTRL_STOP) !== 0) return;
    // SUBMITTED's seq-cst load above orders this read after the main
    // thread's write of order[n % width].
    conn.board.awaitDone(order[n % width], conn.policy, conn.check);
    Atomics.store(ctrl, CTRL_NOTIFIED, n + 1);
    Atomics.notify(ctrl, CTRL_NOTIFIED);
  }
}

try {
  run(workerData as NotifierData);
} catch (e) {
  const d = workerData as NotifierData;
  parentPort!.postMessage(toWire(e));
  Atomics.store(d.ctrl, CTRL_ERROR, 1);
  Atomics.notify(d.ctrl, CTRL_NOTIFIED);
}
