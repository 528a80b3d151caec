/**
 * A lock for short critical sections, usable by threads of several processes
 * on one shared word pair: [owner, waiters].
 *
 * owner is 0 when free, else the holder's token (a process id for locks
 * shared between processes). Invariant: only the holder stores to `owner`
 * while it is nonzero, and it stores 0 exactly once per acquisition.
 * Acquire is a CAS 0 -> token (seq-cst, so everything the previous holder
 * wrote before its releasing store is visible); release stores 0 and then
 * reads `waiters`, the same Dekker pairing as EventCount: a sleeper
 * increments `waiters` before re-trying the CAS and sleeps only while `owner`
 * still holds the value it saw, so a release can never be missed.
 *
 * Robustness: when `isAlive` is given, a waiter that has slept finds out
 * whether the holder still exists and, if not, takes the lock over with a
 * CAS from the dead token. The data it protects must then be repairable
 * (callers document how).
 *
 * Liveness against a holder that is alive but makes no progress (SIGSTOP,
 * a debugger, a hostile process that stores its pid into `owner`): a thread
 * that must never block on such a holder (the server) uses tryTakeOver(),
 * which never waits; a thread that may wait gives lock() a deadline and gets
 * LockTimeoutError naming the holder instead of hanging forever.
 *
 * `waiters` is client-writable: a foreign write may set it below the true
 * number of sleepers (then unlock skips a wake-up and the sleeper waits for
 * its timeout, policy.sleepMs) or above (then unlock pays a needless wake).
 * A sleeper that finds it negative after its own decrement clamps it back
 * to 0 (see settleWaiters in waiter.ts), so the damage of a write is bounded
 * to one timeout per sleeper, never permanent.
 */
import { futexWait, futexWake } from '../native/shim';
import { DEFAULT_WAIT_POLICY, pollBeforeSleep, settleWaiters, WaitPolicy } from './waiter';
import * as fs from 'node:fs';
import { LockTimeoutError } from '../errors';

export const LOCK_WORDS = 2;
const OWNER = 0;
const WAITERS = 1;

export class Lock {
  private readonly owner: number;
  private readonly waiters: number;

  /**
   * @param words  the shared Int32Array holding the lock
   * @param index  index of the lock's first word (LOCK_WORDS words are used)
   * @param token  nonzero identity of the locking side (e.g. process id)
   * @param isAlive tells whether a holder's token still names a live holder
   */
  constructor(
    private readonly words: Int32Array,
    index: number,
    private readonly token: number,
    private readonly isAlive?: (token: number) => boolean,
    private readonly policy: WaitPolicy = DEFAULT_WAIT_POLICY,
  ) {
    if (token === 0 || (token | 0) !== token) throw new RangeError(`lock token must be a nonzero int32, got ${token}`);
    this.owner = index + OWNER;
    this.waiters = index + WAITERS;
  }

  tryLock(): boolean {
    return Atomics.compareExchange(this.words, this.owner, 0, this.token) === 0;
  }

  /**
   * Never waits: take the lock if it is free, or take it over if its holder
   * is dead (needs `isAlive`). False when a live holder has it: try later.
   */
  tryTakeOver(): boolean {
    if (this.tryLock()) return true;
    const holder = Atomics.load(this.words, this.owner);
    if (holder === 0) return this.tryLock();
    if (this.isAlive === undefined || this.isAlive(holder)) return false;
    // The holder died inside its critical section: take over from it. The
    // CAS fails if anyone else moved the word meanwhile.
    return Atomics.compareExchange(this.words, this.owner, holder, this.token) === holder;
  }

  /**
   * Acquire, waiting as long as needed, or at most `timeoutMs` (then throw
   * LockTimeoutError). A dead holder is taken over after a sleep.
   */
  lock(timeoutMs = Infinity): void {
    if (this.tryLock()) return;
    if (pollBeforeSleep(() => Atomics.load(this.words, this.owner) === 0 && this.tryLock(), this.policy)) return;
    const w = this.words;
    const start = Date.now();
    for (;;) {
      Atomics.add(w, this.waiters, 1);
      let holder = 0;
      let got = false;
      try {
        holder = Atomics.compareExchange(w, this.owner, 0, this.token);
        got = holder === 0;
        if (!got) futexWait(w, this.owner, holder, Math.min(this.policy.sleepMs, Math.max(1, timeoutMs)));
      } finally {
        settleWaiters(w, this.waiters);
      }
      if (got || this.tryTakeOver()) return;
      const waited = Date.now() - start;
      if (waited >= timeoutMs) throw new LockTimeoutError(Atomics.load(w, this.owner), waited);
    }
  }

  unlock(): void {
    Atomics.store(this.words, this.owner, 0);
    if (Atomics.load(this.words, this.waiters) !== 0) futexWake(this.words, this.owner, 1);
  }

  /** The current holder's token, 0 when free (for diagnostics and repair). */
  holder(): number {
    return Atomics.load(this.words, this.owner);
  }
}

/**
 * True when a process with this id exists and can still act: signal 0
 * probes existence, then /proc/PID/stat tells a zombie (state Z: killed or
 * exited, not yet waited for by its parent) or a dying process (X) from a
 * live one. A zombie holds no CPU state and can never store to shared
 * memory again, so for every use here (lock holders, window owners, the
 * server) it is dead, even though its pid stays taken until it is reaped.
 * A pid that is not a positive int32 (a foreign write) names nobody.
 */
export function processAlive(pid: number): boolean {
  if (!Number.isInteger(pid) || pid <= 0 || pid > 0x7fffffff) return false;
  try {
    process.kill(pid, 0);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'EPERM') return false;
  }
  let stat: string;
  try {
    stat = fs.readFileSync(`/proc/${pid}/stat`, 'latin1');
  } catch {
    return true; // no /proc (or hidden): trust kill(0)
  }
  // "pid (comm) S ...": comm may hold spaces and parentheses, the state
  // follows the last ')'.
  const state = stat.charAt(stat.lastIndexOf(')') + 2);
  return state !== 'Z' && state !== 'X';
}
