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
 */
import { futexWait, futexWake } from '../native/shim';
import { DEFAULT_WAIT_POLICY, spinThenYield, WaitPolicy } from './waiter';

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

  lock(): void {
    if (this.tryLock()) return;
    if (spinThenYield(() => Atomics.load(this.words, this.owner) === 0 && this.tryLock(), this.policy)) return;
    const w = this.words;
    for (;;) {
      Atomics.add(w, this.waiters, 1);
      let holder = 0;
      let got = false;
      try {
        holder = Atomics.compareExchange(w, this.owner, 0, this.token);
        got = holder === 0;
        if (!got) futexWait(w, this.owner, holder, this.policy.sleepMs);
      } finally {
        Atomics.sub(w, this.waiters, 1);
      }
      if (got || this.tryLock()) return;
      if (this.isAlive && holder !== 0 && !this.isAlive(holder)) {
        // The holder died inside its critical section: take over from it.
        if (Atomics.compareExchange(w, this.owner, holder, this.token) === holder) return;
      }
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

/** True when a process with this id exists (signal 0 probes without sending). */
export function processAlive(pid: number): boolean {
  if (pid <= 0) return false;
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}
