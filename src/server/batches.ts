/**
 * A worker's batches: take up to BATCH_MAX published windows from the ring
 * at once, then execute them (worker.ts runs this on the region's ring and
 * board; warmup.ts runs the very same code on a private scratch region
 * before the worker serves).
 *
 * BUSY PROTOCOL (for the window reaper, transport/owners.ts): each worker owns one
 * header word `busy`, even while it holds no request and odd while it may.
 * It becomes odd BEFORE the take attempt (so a reaper never misses a request
 * taken between its check and the store) and even after the responses of
 * the whole batch are published or the take found the ring empty.
 */
import { Ring, RING_EMPTY } from '../transport/ring';
import { Board } from '../transport/window';
import { Executor } from './execute';

/**
 * Windows a worker takes from the ring at once: two busy-word updates per
 * batch instead of per request. The u32 replay (-n 2 -w 16 -t 2 against
 * a running server, medians of 5) ran 3290 K/s with batches of 8 and 2520
 * with batches of 1; 16 measured the same as 8 at -n 1 -w 16 -t 1.
 *
 * The batch's table lines used to be prefetched before running it (their
 * misses overlapping), worth 13% when a u32 lookup touched two or three
 * lines. With u32 data inline in one index slot it cost ~20 ns of
 * a ~210 ns request (in-process) and, removed, the u32 replay measured
 * +3..13% with -f and -2..-5% (noise) against a running server, 7 rounds.
 */
export const BATCH_MAX = 8;

export class Batches {
  private readonly batch = new Int32Array(BATCH_MAX);
  /** Windows the last successful attempt() took. */
  taken = 0;

  constructor(
    private readonly ring: Ring,
    private readonly board: Board,
    private readonly exec: Executor,
    /** The region's words, and the index of this worker's busy word in them. */
    private readonly w: Int32Array,
    private readonly busy: number,
    private readonly report: (win: number) => void,
  ) {}

  /**
   * Take up to `max` (1..BATCH_MAX) windows. True when some were taken (the
   * busy word stays odd until runTaken); false when the ring was empty.
   */
  attempt(max: number): boolean {
    Atomics.add(this.w, this.busy, 1); // odd: may hold requests
    let taken = 0;
    while (taken < max) {
      const win = this.ring.tryTake();
      if (win === RING_EMPTY) break;
      this.batch[taken++] = win;
    }
    this.taken = taken;
    if (taken > 0) return true;
    Atomics.add(this.w, this.busy, 1); // even: holds nothing
    return false;
  }

  /** Execute what attempt() took, then make the busy word even. */
  runTaken(): void {
    const batch = this.batch;
    // A ring slot is client-writable: its window field may name no window at
    // all (>= windowCount, e.g. the page padding after the board). Using it
    // as an index would throw in Atomics (killing this worker, hence the
    // server) or touch memory that is no window. There is nobody to answer:
    // drop it, report it, and go on serving.
    let valid = 0;
    for (let i = 0; i < this.taken; i++) {
      if (this.board.isWindow(batch[i])) batch[valid++] = batch[i];
      else this.report(batch[i]);
    }
    for (let i = 0; i < valid; i++) this.exec.run(batch[i]);
    this.exec.countRequests(valid);
    Atomics.add(this.w, this.busy, 1); // even: the responses are published
  }
}
