/**
 * How idle server workers wait: one SPINNER, the others on the BENCH.
 *
 * Why: a worker that finds the ring empty polls it for its policy's spin
 * phase before it sleeps. With every idle worker doing so, the idle ones
 * take cores from the clients and from the worker that has work: on this
 * 2-core machine a one-at-a-time setSync client shared its core with an
 * idle worker spinning for nothing (3.5 us per call with 2 server threads,
 * 1.9 us with one). So at most one idle worker, the spinner, polls the ring
 * and then sleeps on the ring's not-empty event count, where clients wake
 * it; the other idle workers sleep on the bench, a futex that only server
 * threads wake: a worker that takes a full batch (more requests are likely
 * waiting) calls one helper (callHelper). A bench
 * sleep is bounded by policy.sleepMs; then the worker tries the ring and
 * the spinner role again.
 *
 * PROTOCOL (layout/server-private.ts, the CONTROL_* words):
 *   role:  CAS SPINNER 0 -> index+1 to take it; store 0 as soon as the
 *          holder's wait returns (it holds requests, or stops).
 *   bench: read BENCH_SEQ, count itself in BENCH_SLEEPERS, try the ring,
 *          check the stop word (onIdle), sleep on BENCH_SEQ unchanged only
 *          while someone holds the role.
 *   call:  when BENCH_SLEEPERS > 0, bump BENCH_SEQ and wake one.
 * Invariant (no request waits without bound): a worker benches only while
 * another holds the role, and the holder either waits on the not-empty
 * event count (which a publish wakes: waiter.ts) or holds requests and
 * comes back to the ring after them. The bench wake-up is an optimization
 * (more workers under backlog), not needed for progress: a missed call
 * costs at most one bench sleep of policy.sleepMs, so callHelper may check
 * the sleeper count without ordering it against a sleeper's arrival.
 */
import { futexWait, futexWake } from '../native/shim';
import { EventCount, WaitPolicy } from '../sync/waiter';
import { CONTROL_BENCH_SEQ, CONTROL_BENCH_SLEEPERS, CONTROL_SPINNER } from '../layout/server-private';

export class IdleWorkers {
  private readonly me: number;

  constructor(
    private readonly words: Int32Array,
    index: number,
    private readonly policy: WaitPolicy,
  ) {
    this.me = index + 1;
  }

  /**
   * Block until `attempt()` takes requests (it is the take itself, see
   * EventCount.await). `onIdle` runs after sleeps that ended without
   * requests and may throw to give up (the server stops).
   */
  wait(notEmpty: EventCount, attempt: () => boolean, onIdle: () => void): void {
    const c = this.words;
    for (;;) {
      if (Atomics.compareExchange(c, CONTROL_SPINNER, 0, this.me) === 0) {
        try {
          notEmpty.await(attempt, this.policy, onIdle);
        } finally {
          Atomics.store(c, CONTROL_SPINNER, 0);
        }
        return;
      }
      const key = Atomics.load(c, CONTROL_BENCH_SEQ);
      Atomics.add(c, CONTROL_BENCH_SLEEPERS, 1);
      let got = false;
      try {
        got = attempt();
        if (!got && Atomics.load(c, CONTROL_SPINNER) !== 0) {
          // Stopping? wakeAll stores STOP, then bumps BENCH_SEQ: a key read
          // after that bump would sleep through it, but then this check
          // (after the key's load) sees STOP and onIdle throws.
          onIdle();
          futexWait(c, CONTROL_BENCH_SEQ, key, this.policy.sleepMs);
        }
      } finally {
        Atomics.sub(c, CONTROL_BENCH_SLEEPERS, 1);
      }
      if (got || attempt()) return;
      onIdle();
    }
  }

  /** Whether a worker sleeps on the bench. */
  benched(): boolean {
    return Atomics.load(this.words, CONTROL_BENCH_SLEEPERS) > 0;
  }

  /** Wake one benched worker, if any: the caller took a full batch. */
  callHelper(): void {
    if (!this.benched()) return;
    Atomics.add(this.words, CONTROL_BENCH_SEQ, 1);
    futexWake(this.words, CONTROL_BENCH_SEQ, 1);
  }

  /** Wake every benched worker (the server stops). */
  static wakeAll(words: Int32Array): void {
    Atomics.add(words, CONTROL_BENCH_SEQ, 1);
    futexWake(words, CONTROL_BENCH_SEQ, 0x7fffffff);
  }
}
