/**
 * Adaptive waiting: spin briefly, then yield, then sleep on a futex.
 *
 * Why three phases: on these machines a cross-process round trip through
 * shared memory takes ~300 ns when the other side is spinning, while a futex
 * sleep/wake round trip costs ~50 us. So a waiter first spins (the answer is
 * usually a few hundred ns away), then yields (with 2 cores, the thread we
 * wait for may need our core), and only then sleeps. Spinning is always
 * bounded: an unbounded spin can starve the very thread it waits for.
 */
import { futexWait, futexWake, yieldCpu } from '../native/shim';

export interface WaitPolicy {
  /** Polls of the condition before the first yield. */
  spins: number;
  /** sched_yield calls (each followed by a poll) before sleeping. */
  yields: number;
  /** Longest single futex sleep; the idle callback runs after each one. */
  sleepMs: number;
}

export const DEFAULT_WAIT_POLICY: Readonly<WaitPolicy> = { spins: 200, yields: 50, sleepMs: 100 };

/**
 * Poll `ready` through the spin and yield phases. Returns true as soon as it
 * holds, false when both phases are spent and the caller should sleep.
 */
export function spinThenYield(ready: () => boolean, policy: WaitPolicy): boolean {
  for (let i = 0; i < policy.spins; i++) if (ready()) return true;
  for (let i = 0; i < policy.yields; i++) {
    yieldCpu();
    if (ready()) return true;
  }
  return false;
}

/**
 * An event count in shared memory: two Int32 words, a sequence (the futex
 * word) and the number of sleepers. It lets a waiter sleep until "something
 * changed" without the waking side paying a syscall when nobody sleeps.
 *
 * Invariant (no lost wake-up): a waiter reads the sequence, then increments
 * `waiters`, then re-tests its condition, then sleeps only while the sequence
 * still has the value it read. A notifier makes its change visible, then
 * reads `waiters`. All of these are sequentially consistent Atomics, so
 * either the waiter's re-test sees the change, or the notifier sees
 * waiters > 0 and bumps the sequence, which makes the futex wait return at
 * once (the kernel compares the word atomically with queueing the sleeper).
 */
export class EventCount {
  constructor(
    private readonly words: Int32Array,
    private readonly seqIndex: number,
    private readonly waitersIndex: number,
  ) {}

  /** Call after making a change a waiter may be waiting for. */
  notify(count = 1): void {
    if (Atomics.load(this.words, this.waitersIndex) !== 0) {
      Atomics.add(this.words, this.seqIndex, 1);
      futexWake(this.words, this.seqIndex, count);
    }
  }

  /** Wake every sleeper whatever it waits for (shutdown, repair). */
  notifyAll(): void {
    Atomics.add(this.words, this.seqIndex, 1);
    futexWake(this.words, this.seqIndex, 0x7fffffff);
  }

  /**
   * Block until `attempt()` returns true. `attempt` must be the operation
   * itself (try to take, try to put), not a read-only test, so that success
   * is never lost between the test and the use. `onIdle` runs after every
   * sleep that ended without success: it may throw to abandon the wait
   * (for example when the peer process has died).
   */
  await(attempt: () => boolean, policy: WaitPolicy, onIdle?: () => void): void {
    if (spinThenYield(attempt, policy)) return;
    const w = this.words;
    for (;;) {
      const key = Atomics.load(w, this.seqIndex);
      Atomics.add(w, this.waitersIndex, 1);
      let done: boolean;
      try {
        done = attempt();
        if (!done) futexWait(w, this.seqIndex, key, policy.sleepMs);
      } finally {
        Atomics.sub(w, this.waitersIndex, 1);
      }
      if (done || attempt()) return;
      if (onIdle) onIdle();
    }
  }
}
