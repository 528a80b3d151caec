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
 *   ERROR      nonzero: the notifier gave up (server gone); message posted
 * Invariant: NOTIFIED <= SUBMITTED, and the notifier touches request n only
 * while n >= NOTIFIED, while the main thread reads and recycles window n only
 * when n < NOTIFIED. So each window has exactly one user at any moment; the
 * seq-cst store of NOTIFIED hands window n from the notifier to the main
 * thread, and the store of SUBMITTED hands a freshly prepared one back.
 */
import type { SharedConnection } from './connection';

export const CTRL_SUBMITTED = 0;
export const CTRL_NOTIFIED = 1;
export const CTRL_STOP = 2;
export const CTRL_ERROR = 3;
export const CTRL_WORDS = 4;

export interface NotifierData {
  conn: SharedConnection;
  width: number;
  ctrl: Int32Array;
  /** The lane's order array (lane.ts): window of submission n at n % width. */
  order: Int32Array;
}

