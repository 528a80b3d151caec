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
 */
import type { WaitPolicy } from '../sync/waiter';
import type { SharedSession } from './session';

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

