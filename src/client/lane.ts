/**
 * A lane: the run of `width` windows one client thread owns, used as a
 * pipeline. Requests go out in order into windows first, first+1, ...
 * (cyclically) and completions are consumed in the same order, so at most
 * `width` requests are in flight and each window is reused only after its
 * previous response was read. Not thread-safe: one lane, one thread.
 */
import { Op, Status } from '../layout/layout';
import type { Connection } from './connection';

export class Lane {
  private submitted = 0;
  private completed = 0;
  /** Status of the last response consumed by awaitNext/pollNext. */
  status: Status = Status.Ok;
  /** Result (u32) of the last response consumed. */
  result = 0;

  constructor(
    private readonly conn: Connection,
    readonly first: number,
    readonly width: number,
  ) {}

  get inFlight(): number {
    return this.submitted - this.completed;
  }

  get submittedCount(): number {
    return this.submitted;
  }

  get completedCount(): number {
    return this.completed;
  }

  /** Send a request, blocking while the ring is full; needs inFlight < width. */
  submit(op: Op, key: number, value: number): void {
    if (this.trySubmit(op, key, value)) return;
    // The window stays prepared: wait for room and publish it.
    this.conn.ring.put(this.nextWindow(), this.conn.policy, this.conn.check);
    this.submitted++;
  }

  /**
   * Send a request unless the ring is full (then false: call again later
   * with the same request; the window stays prepared, nothing was sent).
   */
  trySubmit(op: Op, key: number, value: number): boolean {
    const win = this.nextWindow();
    this.conn.board.prepare(win, op, key, value);
    if (!this.conn.ring.tryPut(win)) return false;
    this.submitted++;
    return true;
  }

  private nextWindow(): number {
    if (this.submitted - this.completed >= this.width) throw new Error('lane window is full: await a response first');
    return this.first + (this.submitted % this.width);
  }


  /** Block until the oldest in-flight request completes; sets status/result. */
  awaitNext(): void {
    if (this.submitted === this.completed) throw new Error('no request in flight');
    const win = this.first + (this.completed % this.width);
    const board = this.conn.board;
    board.awaitDone(win, this.conn.policy, this.conn.check);
    this.consume(win);
  }

  /** Consume the oldest in-flight response if it is ready; never blocks. */
  pollNext(): boolean {
    if (this.submitted === this.completed) return false;
    const win = this.first + (this.completed % this.width);
    if (!this.conn.board.isDone(win)) return false;
    this.consume(win);
    return true;
  }

  private consume(win: number): void {
    const board = this.conn.board;
    this.status = board.status(win);
    this.result = board.result(win);
    board.recycle(win);
    this.completed++;
  }
}
