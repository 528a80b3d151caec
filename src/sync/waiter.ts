/**
 * Adaptive waiting: poll briefly (spin, then optionally yield), then sleep
 * on a futex.
 *
 * Why: on these machines a cross-process round trip through shared memory
 * takes ~300 ns when the other side is spinning, while a futex sleep/wake
 * round trip costs ~50 us. So a waiter first spins (the answer is usually a
 * few hundred ns away) and only then sleeps. A yield phase between the two
 * (policy.yields) is there for policies that want it; the default has none
 * (DEFAULT_WAIT_POLICY says what yielding cost under load). Spinning is
 * always bounded: an unbounded spin can starve the very thread it waits for.
 */
import { futexWait, futexWake, yieldCpu } from '../native/shim';

export interface WaitPolicy {
  /** Polls of the condition before the first yield. */
  spins: number;
  /**
   * Then go on polling for this many microseconds (default none): a count
   * of polls is no measure of time (a load takes 5 ns, a ring take 100).
   */
  spinMicros?: number;
  /** sched_yield calls (each followed by a poll) before sleeping. */
  yields: number;
  /** Longest single futex sleep; the idle callback runs after each one. */
  sleepMs: number;
}

/**
 * Spin 200 polls, then up to 20 us by the clock, then sleep: no yields.
 * Measured on this 2-core machine (same session, two runs each; setSync of
 * 100-byte strings, ./client -f -n 1 -w 1 -t 1 and -n 2 -w 16 -t 2):
 *   beside two busy loops: 50 yields gave 34-52 K/s, 20-76 K/s and 22 K/s;
 *     no yields and a 20 us spin 133-156, 140 and 128-138 K/s (a 50 us
 *     spin: 107-209, 9 and 78-103). Under CFS a thread that yields to busy
 *     loops waits out their slices (ms each), while one that sleeps on a
 *     futex is woken with a sleeper's priority and runs at once.
 *   quiet-ish: 20 us spin 231-232, 633-654 and 670-691 K/s; 50 yields
 *     283-291, 577-637 and 887-928 K/s; no spin and no yields fell to
 *     36-71 K/s at window 1 (200 polls are ~1 us: every answer then
 *     needs a futex wake-up).
 */
export const DEFAULT_WAIT_POLICY: Readonly<WaitPolicy> = { spins: 200, spinMicros: 20, yields: 0, sleepMs: 100 };

/**
 * Poll `ready` before a sleep: `spins` polls, then for `spinMicros`, then
 * `yields` times after a sched_yield each (none by default). Returns true as
 * soon as it holds, false when every phase is spent and the caller should
 * sleep.
 */
export function pollBeforeSleep(ready: () => boolean, policy: WaitPolicy): boolean {
  for (let i = 0; i < policy.spins; i++) if (ready()) return true;
  if (policy.spinMicros) {
    const end = performance.now() + policy.spinMicros / 1000;
    for (let i = 1; ; i++) {
      if (ready()) return true;
      if ((i & 63) === 0 && performance.now() > end) break;
    }
  }
  for (let i = 0; i < policy.yields; i++) {
    yieldCpu();
    if (ready()) return true;
  }
  return false;
}

/**
 * A sleeper leaves a lock's wait: decrement the shared waiter count, and if
 * that made it negative, clamp it back to 0.
 *
 * Why: a lock word pair may live in the region, where any same-user process
 * can write. A negative count after our own decrement can only come from
 * such a write (each thread increments before it decrements, so legit counts
 * never go below 0); clamping only raises the word, from a value no legit
 * interleaving produces. A count forced too low but not negative can stay
 * low: an unlock then skips a wake-up and the waiter takes the lock after
 * its sleep timeout (policy.sleepMs), a bounded cost per contended
 * acquisition. Event counts, on the hot path, use a flag instead (below).
 */
export function settleWaiters(words: Int32Array, index: number): void {
  const after = Atomics.sub(words, index, 1) - 1;
  if (after < 0) Atomics.compareExchange(words, index, after, 0);
}

/**
 * An event count in shared memory: two Int32 words, a sequence (the futex
 * word) and a "someone may sleep" flag. It lets a waiter sleep until
 * "something changed" without the waking side paying a syscall when nobody
 * sleeps.
 *
 * Invariant (no lost wake-up): a waiter reads the sequence, then sets the
 * flag to 1, then re-tests its condition, then sleeps only while the sequence
 * still has the value it read. A notifier makes its change visible, then
 * reads the flag; if it is set, the notifier clears it, bumps the sequence
 * and wakes every sleeper. All of these are sequentially consistent Atomics,
 * so either the waiter's re-test sees the change, or the notifier sees the
 * flag (set by this waiter, or by another one and cleared by the notifier
 * only after this waiter's store, in which case the bump follows the
 * waiter's read of the sequence) and the futex wait returns at once (the
 * kernel compares the word atomically with queueing the sleeper). A woken
 * waiter that must sleep again sets the flag again.
 *
 * Why a flag and not a count of sleepers: the words are in the region, where
 * any same-user process can write. A count forced below the true number of
 * sleepers stays wrong for good (every sleeper's later +1/-1 pair keeps the
 * deficit) and the notifier would skip wake-ups forever, each request then
 * waiting for a sleeper's timeout. A cleared flag costs only until each
 * sleeper's timeout (policy.sleepMs): it sets the flag again before its next
 * sleep. A flag forced to 1 costs one needless wake. The price is waking all
 * sleepers instead of one, for a handful of server workers (not-empty) or
 * the producers of a full ring (not-full).
 */
export class EventCount {
  constructor(
    private readonly words: Int32Array,
    private readonly seqIndex: number,
    private readonly flagIndex: number,
  ) {}

  /** Call after making a change a waiter may be waiting for. */
  notify(): void {
    if (Atomics.load(this.words, this.flagIndex) !== 0 && Atomics.exchange(this.words, this.flagIndex, 0) !== 0) {
      Atomics.add(this.words, this.seqIndex, 1);
      futexWake(this.words, this.seqIndex, 0x7fffffff);
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
    if (pollBeforeSleep(attempt, policy)) return;
    const w = this.words;
    for (;;) {
      const key = Atomics.load(w, this.seqIndex);
      Atomics.store(w, this.flagIndex, 1);
      if (attempt()) return;
      futexWait(w, this.seqIndex, key, policy.sleepMs);
      if (attempt()) return;
      if (onIdle) onIdle();
    }
  }
}
