/**
 * Worker-thread entry of the completion notifier (protocol in notifier.ts).
 */
import { parentPort, workerData } from 'node:worker_threads';
import { Session } from './session';
import { toWire } from './thread-error';
import { CTRL_ERROR, CTRL_NOTIFIED, CTRL_STOP, CTRL_SUBMITTED, NotifierData, NotifierMessage } from './notifier';

/** How long the notifier sleeps on an empty lane before re-checking STOP. */
const IDLE_SLEEP_MS = 1000;

/** Thrown by the idle check of a wait: the server does not serve. */
class HandBack {
  constructor(readonly problem: string) {}
}

function run(d: NotifierData): void {
  const session = Session.fromShared(d.session, d.policy);
  const { ctrl, order, width } = d;
  // Between sleeps on a window: the server's liveness (not sticky: the
  // main thread decides what a problem means, see pipeline.ts).
  const idle = (): void => {
    const problem = session.problem();
    if (problem !== null) throw new HandBack(problem);
  };
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
    session.board.awaitDone(order[n % width], d.policy, idle);
    Atomics.store(ctrl, CTRL_NOTIFIED, n + 1);
    Atomics.notify(ctrl, CTRL_NOTIFIED);
  }
}

const d = workerData as NotifierData;
try {
  run(d);
} catch (e) {
  const m: NotifierMessage = e instanceof HandBack ? { problem: e.problem } : { error: toWire(e) };
  parentPort!.postMessage(m);
  Atomics.store(d.ctrl, CTRL_ERROR, 1);
  Atomics.notify(d.ctrl, CTRL_NOTIFIED);
}
