/**
 * A lane: the run of `width` windows one client thread owns, used as a
 * pipeline. At most `width` requests are in flight; responses are consumed
 * in submission order.
 *
 * WINDOWS are taken from a free stack (the most recently freed first, so a
 * few hot windows serve a slow trickle) rather than in a fixed cycle: a
 * request whose bytes need a bigger staging block can wait for the very
 * window that was grown for it (client.ts, Op.Reserve). `order` records
 * which window the n-th submission used (order[n % width]); the notifier
 * of the promise API reads it to follow the same sequence, which is why it
 * may live in a SharedArrayBuffer. Not thread-safe: one lane, one thread
 * (plus that notifier, which only reads order[n] for n < submitted).
 */
import { Op, Status } from '../layout/layout';
import type { Connection } from './connection';

export class Lane {
  private submitted = 0;
  private completed = 0;
  private readonly free: number[] = [];
  /** Status of the last response consumed by awaitNext/pollNext. */
  status: Status = Status.Ok;
  /** Result (u32) of the last response consumed. */
  result = 0;
  /** Window of the response consumed last (its staging holds a Read's value until reused). */
  lastWindow = -1;

  constructor(
    private readonly conn: Connection,
    readonly first: number,
    readonly width: number,
    readonly order: Int32Array = new Int32Array(width),
  ) {
    if (order.length < width) throw new RangeError('lane order array is shorter than the lane');
    for (let w = first + width - 1; w >= first; w--) this.free.push(w);
  }

  get inFlight(): number {
    return this.submitted - this.completed;
  }

  get submittedCount(): number {
    return this.submitted;
  }

  get completedCount(): number {
    return this.completed;
  }

  /** A free window, left on the stack until published (throws when none is free). */
  nextWindow(): number {
    if (this.free.length === 0) throw new Error('lane window is full: await a response first');
    return this.free[this.free.length - 1];
  }

  /** A free window whose staging room (per `room`) is at least `need`, or -1. */
  windowWithRoom(need: number, room: (win: number) => number): number {
    for (let i = this.free.length - 1; i >= 0; i--) if (room(this.free[i]) >= need) return this.free[i];
    return -1;
  }

  /** Send a u32 request, blocking while the ring is full; needs a free window. */
  submit(op: Op, key: number, value: number): void {
    const win = this.nextWindow();
    this.conn.board.prepare(win, op, key, value);
    this.publish(win);
  }

  /**
   * Send a u32 request unless the ring is full (then false: call again
   * later with the same request; nothing was sent).
   */
  trySubmit(op: Op, key: number, value: number): boolean {
    const win = this.nextWindow();
    this.conn.board.prepare(win, op, key, value);
    return this.tryPublish(win);
  }

  /**
   * Publish free window `win`, which the caller has prepared (byte
   * requests: staging written, then Board.prepareBytes); false when the
   * ring is full (the window stays free and prepared: call again later).
   */
  tryPublish(win: number): boolean {
    if (!this.conn.ring.tryPut(win)) return false;
    this.taken(win);
    return true;
  }

  /** Publish prepared free window `win`, blocking while the ring is full. */
  publish(win: number): void {
    if (this.tryPublish(win)) return;
    this.conn.ring.put(win, this.conn.policy, this.conn.check);
    this.taken(win);
  }

  private taken(win: number): void {
    const i = this.free.lastIndexOf(win);
    if (i < 0) throw new Error(`window ${win} is not free in this lane`);
    this.free[i] = this.free[this.free.length - 1];
    this.free.pop();
    this.order[this.submitted % this.width] = win;
    this.submitted++;
  }

  /** The window of the oldest request in flight. */
  oldestWindow(): number {
    return this.order[this.completed % this.width];
  }

  /** Block until the oldest in-flight request completes; sets status/result. */
  awaitNext(): void {
    if (this.submitted === this.completed) throw new Error('no request in flight');
    const win = this.oldestWindow();
    this.conn.board.awaitDone(win, this.conn.policy, this.conn.check);
    this.consume(win);
  }

  /** Consume the oldest in-flight response if it is ready; never blocks. */
  pollNext(): boolean {
    if (this.submitted === this.completed) return false;
    const win = this.oldestWindow();
    if (!this.conn.board.isDone(win)) return false;
    this.consume(win);
    return true;
  }

  private consume(win: number): void {
    const board = this.conn.board;
    this.status = board.status(win);
    this.result = board.result(win);
    board.recycle(win);
    this.lastWindow = win;
    this.free.push(win);
    this.completed++;
  }
}
