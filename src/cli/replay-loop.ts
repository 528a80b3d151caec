/**
 * The replay loops, one per kind: replayU32 (the u32 ring replay of
 * ./client and of the bench's replay threads, kept lean: it is what their
 * figures measure) and runReplay (the --direct and byte replays, whose
 * steps differ), and what both do after the thread's lane moved to a new
 * server (lane.ts, LaneMoved): send again, in order and from the
 * workload, the requests that were in flight. Every request of a replay
 * is idempotent (put, get, set, del), so sending one twice is safe even
 * when the old server ran it.
 */
import { Lane, LaneMoved } from '../client/lane';
import type { WorkloadSlice } from '../workload/workload-types';

/**
 * Replay u32 requests [t.start, t.end) through `lane`, up to t.width in
 * flight, stopping early once `abort`'s word is set (looked at after each
 * completion while the window is full); returns the index after the last
 * completed request. `record(i)` runs as request i completes, in order,
 * with lane.status and lane.result its answer, and right before the next
 * submission (so a clock read there is that submission's start: the
 * bench's latencies). After a move, requests [done, i) were in flight, in
 * order: i = done sends each of them again.
 */
export function replayU32(lane: Lane, t: WorkloadSlice, abort: Int32Array, record: (i: number) => void): number {
  const { ops, keys, values, width } = t;
  let done = t.start;
  let i = t.start;
  let end = t.end;
  for (;;) {
    try {
      sending: for (; i < end; i++) {
        if (lane.inFlight === width) {
          lane.awaitNext();
          record(done++);
          if (Atomics.load(abort, 0) !== 0) {
            end = i;
            break sending;
          }
        }
        lane.submit(ops[i], keys[i], values[i]);
      }
      while (lane.inFlight > 0) {
        lane.awaitNext();
        record(done++);
      }
      return done;
    } catch (e) {
      if (!(e instanceof LaneMoved)) throw e;
      i = done;
    }
  }
}

/** What a replay lends runReplay: its ways to handle, send and complete a request. */
export interface ReplaySteps {
  /** Handle request i: answer it here (a direct read) or send it through the ring. */
  step(i: number): void;
  /** Send request i through the ring, recording it (again after a move). */
  send(i: number): void;
  /** The workload index of submission n, or -1 for one that is not a workload request (a Reserve). */
  indexOf(n: number): number;
  /** Consume the oldest response. */
  complete(): void;
}

/** Requests between two looks at the abort word (Ctrl-C). */
const ABORT_EVERY = 64;

/**
 * Run requests [start, end) through `s.step`, stopping early once `abort`'s
 * word is set (looked at every ABORT_EVERY requests), then complete
 * everything in flight (drain). A step that meets a move sends again what
 * was in flight (resend) and then takes its request again: a step that
 * threw LaneMoved did not send it.
 */
export function runReplay(lane: Lane, start: number, end: number, abort: Int32Array, s: ReplaySteps): void {
  const indexOf = (n: number): number => s.indexOf(n);
  const send = (i: number): void => s.send(i);
  for (let i = start; i < end; i++) {
    if (i % ABORT_EVERY === 0 && Atomics.load(abort, 0) !== 0) break;
    try {
      s.step(i);
    } catch (e) {
      if (!(e instanceof LaneMoved)) throw e;
      resend(e, indexOf, send);
      i--; // request i was not sent: again
    }
  }
  drain(lane, () => s.complete(), indexOf, send);
}

/**
 * `indexOf(n)`: the workload index of submission n, or -1 for a submission
 * that is not a workload request (a Reserve). `send(i)` sends request i as
 * the replay does, recording it; it may meet another move, which this
 * handles too.
 */
function resend(moved: LaneMoved, indexOf: (n: number) => number, send: (i: number) => void): void {
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
function drain(lane: Lane, complete: () => void, indexOf: (n: number) => number, send: (i: number) => void): void {
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
