/**
 * After a client CLI thread's lane moved to a new server (lane.ts,
 * LaneMoved): send again, in order and from the workload, the requests
 * that were in flight. Every request of a replay is idempotent (put, get,
 * set, del), so sending one twice is safe even when the old server ran it.
 */
import { Lane, LaneMoved } from '../client/lane';

/**
 * `indexOf(n)`: the workload index of submission n, or -1 for a submission
 * that is not a workload request (a Reserve). `send(i)` sends request i as
 * the replay does, recording it; it may meet another move, which this
 * handles too.
 */
export function resend(moved: LaneMoved, indexOf: (n: number) => number, send: (i: number) => void): void {
  const inFlight = (m: LaneMoved): number[] => {
    const out: number[] = [];
    for (let n = m.from; n < m.to; n++) {
      const i = indexOf(n);
      if (i >= 0) out.push(i);
    }
    return out;
  };
  let todo = inFlight(moved);
  let k = 0;
  for (;;) {
    try {
      for (; k < todo.length; k++) send(todo[k]);
      return;
    } catch (e) {
      if (!(e instanceof LaneMoved)) throw e;
      // Those resent and still in flight, then those not resent yet (the
      // one whose send threw was not sent).
      todo = [...inFlight(e), ...todo.slice(k)];
      k = 0;
    }
  }
}

/**
 * The end of a replay: complete everything in flight on `lane`, sending
 * again (resend above) what a move to a new server left unanswered.
 */
export function drain(lane: Lane, complete: () => void, indexOf: (n: number) => number, send: (i: number) => void): void {
  for (;;) {
    try {
      while (lane.inFlight > 0) complete();
      return;
    } catch (e) {
      if (!(e instanceof LaneMoved)) throw e;
      resend(e, indexOf, send);
    }
  }
}
