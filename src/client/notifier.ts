/**
 * The completion notifier of a Client's promise API: a helper worker thread
 * that blocks (spin, yield, futex) on the lane's oldest unanswered window so
 * that the main thread never has to, and wakes the main thread through
 * Atomics.notify on a process-local word it awaits with Atomics.waitAsync.
 *
 * CONTROL WORDS (process-local SharedArrayBuffer, Int32):
 *   SUBMITTED  requests sent so far; written by the main thread only
 *   NOTIFIED   responses known to be DONE; written by the notifier only
 *   STOP       nonzero: exit
 *   ERROR      nonzero: the notifier handed every window back to the main
 *              thread (the server stopped serving: the reason is posted
 *              first) and exited; the main thread owns them all from then on
 * Invariant: NOTIFIED <= SUBMITTED, and the notifier touches request n only
 * while NOTIFIED <= n < SUBMITTED, while the main thread reads and recycles
 * the window of request n only when n < NOTIFIED, or when n >= SUBMITTED
 * (not yet handed over). So each window has exactly one user at any moment;
 * the seq-cst store of NOTIFIED hands request n from the notifier to the main
 * thread, and the store of SUBMITTED hands freshly sent ones over.
 *
 * FAST PATH (pipeline.ts): while the notifier has nothing outstanding
 * (NOTIFIED === SUBMITTED), the main thread first spins briefly (bounded)
 * on the requests it has just sent and answers those that complete itself.
 * Then it stores NOTIFIED, then SUBMITTED, to the counts it reached: the
 * notifier, idle until SUBMITTED moves, re-reads NOTIFIED after it moves,
 * and (seq-cst) sees the new value, so it never touches an answered one.
 *
 * THE MAIN THREAD'S SIDE (NotifierLink below, used by pipeline.ts): it
 * starts the thread when requests first wait, awaits NOTIFIED with
 * Atomics.waitAsync (the event loop stays free), and stops the thread by
 * STOP. Control words belong to one thread's life: stopping, or resuming
 * after a hand-back, starts a fresh set, so a wake-up or a message of a
 * thread that is gone is recognised (its words are not the current ones)
 * and ignored.
 */
import * as path from 'node:path';
import { Worker } from 'node:worker_threads';
import type { WaitPolicy } from '../sync/waiter';
import type { SharedSession } from './session';
import { fromWire, WireError } from './thread-error';

export const CTRL_SUBMITTED = 0;
export const CTRL_NOTIFIED = 1;
export const CTRL_STOP = 2;
export const CTRL_ERROR = 3;
export const CTRL_WORDS = 4;

export interface NotifierData {
  /** The session of the lane's windows. */
  session: SharedSession;
  policy: WaitPolicy;
  width: number;
  ctrl: Int32Array;
  /** The lane's order array (lane.ts): window of submission n at n % width. */
  order: Int32Array;
}


/** What the notifier posts: why it handed the windows back, or an error of its own. */
export type NotifierMessage = { problem: string } | { error: WireError };

/** What the main thread's side reports to its owner (pipeline.ts). */
export interface NotifierOwner {
  /** NOTIFIED moved (answers to settle), or ERROR was raised (`handedBack`: the windows are the main thread's again). */
  woken(handedBack: boolean): void;
  /** The reason the notifier posted before it handed the windows back. */
  reason(problem: string): void;
  /** The notifier thread failed on its own. */
  failed(e: Error): void;
}

function freshWords(): Int32Array {
  return new Int32Array(new SharedArrayBuffer(CTRL_WORDS * 4));
}

export class NotifierLink {
  /** The control words of the current thread (or of the next one). */
  ctrl = freshWords();
  private worker: Worker | null = null;
  private waiting = false;

  constructor(private readonly owner: NotifierOwner) {}

  /**
   * Have the owner woken once NOTIFIED passes `completed` (or ERROR is
   * raised), starting the thread (with `data()`) if none runs. Once per
   * wait: a second call while waiting does nothing.
   */
  arm(completed: number, data: () => Omit<NotifierData, 'ctrl'>): void {
    if (this.waiting) return;
    if (!this.worker) this.start(data());
    const ctrl = this.ctrl;
    const seen = Atomics.load(ctrl, CTRL_NOTIFIED);
    this.waiting = true;
    if (seen !== completed || Atomics.load(ctrl, CTRL_ERROR) !== 0) {
      queueMicrotask(() => this.wake(ctrl));
      return;
    }
    const r = Atomics.waitAsync(ctrl, CTRL_NOTIFIED, seen);
    if (r.async) void r.value.then(() => this.wake(ctrl));
    else queueMicrotask(() => this.wake(ctrl));
  }

  private wake(ctrl: Int32Array): void {
    if (ctrl !== this.ctrl) return; // a wait on a notifier that is gone
    this.waiting = false;
    // The notifier posts its reason before raising ERROR; 'message' may not have been delivered yet (the owner falls back).
    this.owner.woken(Atomics.load(ctrl, CTRL_ERROR) !== 0);
  }

  private start(data: Omit<NotifierData, 'ctrl'>): void {
    const ctrl = this.ctrl;
    const workerData: NotifierData = { ...data, ctrl };
    const w = new Worker(path.join(__dirname, 'notifier-worker.js'), { workerData });
    w.on('message', (m: NotifierMessage) => {
      if (ctrl !== this.ctrl) return;
      if ('problem' in m) this.owner.reason(m.problem);
      else this.owner.failed(fromWire(m.error));
    });
    w.on('error', (e) => this.owner.failed(e));
    w.unref();
    this.worker = w;
  }

  /**
   * A pending Atomics.waitAsync does not keep Node alive; the thread does,
   * exactly while requests are outstanding (`busy`).
   */
  keepAlive(busy: boolean): void {
    if (!this.worker) return;
    if (busy) this.worker.ref();
    else this.worker.unref();
  }

  /** The thread handed the windows back and exits by itself. */
  exited(): void {
    this.worker = null;
  }

  /** Fresh control words for the next thread, at the lane's counts (resuming after a hand-back). */
  renew(completed: number, submitted: number): void {
    this.ctrl = freshWords();
    this.ctrl[CTRL_NOTIFIED] = completed;
    this.ctrl[CTRL_SUBMITTED] = submitted;
    this.waiting = false;
  }

  stop(): void {
    Atomics.store(this.ctrl, CTRL_STOP, 1);
    Atomics.notify(this.ctrl, CTRL_SUBMITTED);
    // Not awaited: with nothing outstanding (NOTIFIED === SUBMITTED) the
    // notifier touches no window any more, and awaiting its 'exit' was seen
    // to leave close() pending forever when the thread had already ended by
    // itself on STOP (the process then exited with the caller's await
    // unsettled). Unref'd, it never keeps the process alive.
    if (this.worker) {
      this.worker.unref();
      this.worker.terminate().catch(() => undefined);
    }
    this.worker = null;
    this.ctrl = freshWords();
    this.waiting = false;
  }
}
