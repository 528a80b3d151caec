/**
 * A lane: the run of `width` windows one client thread owns in one session
 * (session.ts), used as a pipeline. At most `width` requests are in flight;
 * responses are consumed in submission order.
 *
 * WINDOWS are taken from a free stack (the most recently freed first, so a
 * few hot windows serve a slow trickle) rather than in a fixed cycle: a
 * request whose bytes need a bigger staging block can wait for the very
 * window that was grown for it (client.ts, Op.Reserve). `order` records
 * which window the n-th submission used (order[n % width]); the notifier
 * of the promise API reads it to follow the same sequence, which is why it
 * may live in a SharedArrayBuffer. Not thread-safe: one lane, one thread
 * (plus that notifier, which only reads order[n] for n < submitted).
 *
 * RIDING THROUGH (connection.ts; not with reconnect: false, where a gone
 * server throws ServerGoneError from every wait, for good). The blocking
 * calls (submit, publish, awaitNext) wait while the server does not serve:
 * a paused server that beats again is simply waited for. After
 * reconnectMs without a serving server they throw ServerGoneError. When a
 * new server appears at the path, the lane MOVES: each request in flight is
 * retracted if still SUBMITTED (so the old server can never run it), the
 * old windows are given back, `width` windows are reserved on the new
 * board, the submission count goes back to the completed count, and the
 * call throws LaneMoved naming the submissions [from, to) that were in
 * flight. The caller sends them again, in order, then goes on: a lane
 * does not keep requests, its callers do (the CLI's replays re-send from
 * the workload, which makes every request they send idempotent;
 * LaneMoved.mayHaveRun says which ones the old server may have applied,
 * for callers with requests that are not).
 */
import { Op, Status } from '../layout/board';
import type { Board } from '../transport/window';
import type { Ring } from '../transport/ring';
import { Connection, MOVED, Outage } from './connection';
import type { Session } from './session';

/** Thrown by a lane that moved to a new server: re-send submissions [from, to). */
export class LaneMoved extends Error {
  constructor(
    readonly from: number,
    readonly to: number,
    /** mayHaveRun[n - from]: request n was TAKEN or answered by the old server. */
    readonly mayHaveRun: boolean[],
  ) {
    super(`the server was replaced: ${to - from} request(s) to send again`);
    this.name = 'LaneMoved';
  }
}

export class Lane {
  private submitted = 0;
  private completed = 0;
  private free: number[] = [];
  private board: Board;
  private ring: Ring;
  private s: Session;
  /** The first window of the run this lane reserved itself (after a move), or -1. */
  private ownRun = -1;
  private readonly outage: Outage;
  /** Status of the last response consumed by awaitNext/pollNext. */
  status: Status = Status.Ok;
  /** Result (u32) of the last response consumed. */
  result = 0;
  /** Window of the response consumed last (its staging holds a Read's value until reused). */
  lastWindow = -1;
  /** The idle callback of every wait (legacy: the connection's sticky check). */
  private readonly idle: () => void;

  constructor(
    private readonly conn: Connection,
    first: number,
    readonly width: number,
    readonly order: Int32Array = new Int32Array(width),
    session: Session = conn.current,
  ) {
    if (order.length < width) throw new RangeError('lane order array is shorter than the lane');
    this.s = session;
    this.board = session.board;
    this.ring = session.ring;
    this.fill(first);
    this.outage = new Outage(conn);
    this.idle = conn.reconnect ? () => this.outage.check(this.s) : conn.check;
  }

  /** The free stack: first..first + width - 1 (none when first is -1: adopt() adds windows). */
  private fill(first: number): void {
    this.free = [];
    if (first < 0) return;
    for (let w = first + this.width - 1; w >= first; w--) this.free.push(w);
  }

  /** The session this lane's windows are in. */
  get session(): Session {
    return this.s;
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
    this.board.prepare(win, op, key, value);
    this.publish(win);
  }

  /**
   * Send a u32 request unless the ring is full (then false: call again
   * later with the same request; nothing was sent).
   */
  trySubmit(op: Op, key: number, value: number): boolean {
    const win = this.nextWindow();
    this.board.prepare(win, op, key, value);
    return this.tryPublish(win);
  }

  /**
   * Publish free window `win`, which the caller has prepared (byte
   * requests: staging written, then Board.prepareBytes); false when the
   * ring is full (the window stays free and prepared: call again later).
   */
  tryPublish(win: number): boolean {
    if (!this.ring.tryPut(win)) return false;
    this.taken(win);
    return true;
  }

  /** Publish prepared free window `win`, blocking while the ring is full. */
  publish(win: number): void {
    if (this.tryPublish(win)) return;
    try {
      this.ring.put(win, this.conn.policy, this.idle);
    } catch (e) {
      // Never published: the window must not stay SUBMITTED (a later
      // publish of it would run this request).
      this.board.retract(win);
      throw e === MOVED ? this.move() : e;
    }
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
    try {
      this.board.awaitDone(win, this.conn.policy, this.idle);
    } catch (e) {
      throw e === MOVED ? this.move() : e;
    }
    this.consume(win);
  }

  /** Consume the oldest in-flight response if it is ready; never blocks. */
  pollNext(): boolean {
    if (this.submitted === this.completed) return false;
    const win = this.oldestWindow();
    if (!this.board.isDone(win)) return false;
    this.consume(win);
    return true;
  }

  private consume(win: number): void {
    const board = this.board;
    this.status = board.status(win);
    this.result = board.result(win);
    board.recycle(win);
    this.lastWindow = win;
    this.free.push(win);
    this.completed++;
  }

  /**
   * Move to the connection's current session (RIDING THROUGH above) and
   * return the LaneMoved for the caller to throw.
   */
  private move(): LaneMoved {
    const old = this.s;
    const from = this.completed;
    const to = this.submitted;
    const mayHaveRun: boolean[] = [];
    for (let n = from; n < to; n++) {
      const win = this.order[n % this.width];
      mayHaveRun.push(!old.board.retract(win));
    }
    const next = this.conn.current;
    const first = next.reserve(this.width);
    if (this.ownRun >= 0) old.release(this.ownRun);
    this.ownRun = first;
    this.s = next;
    this.board = next.board;
    this.ring = next.ring;
    this.fill(first);
    this.submitted = this.completed;
    this.outage.since = 0;
    return new LaneMoved(from, to, mayHaveRun);
  }

  /** Whether a window is free to send in. */
  get hasFree(): boolean {
    return this.free.length > 0;
  }

  /**
   * End every request in flight at once, oldest first, without waiting
   * (the promise pipeline's recovery, which settles them itself):
   * `keep(win, n)` says whether window `win` of submission n goes back to
   * the free stack (false: the caller gives it away, e.g. to the reaper).
   */
  salvage(keep: (win: number, n: number) => boolean): void {
    for (let n = this.completed; n < this.submitted; n++) {
      const win = this.order[n % this.width];
      if (keep(win, n)) this.free.push(win);
    }
    this.completed = this.submitted;
  }

  /** Add window `win` (reserved by the caller in this lane's session) to the free stack. */
  adopt(win: number): void {
    this.free.push(win);
  }

  /** Every window the lane holds: free ones, then those of requests in flight. */
  windows(): number[] {
    const out = [...this.free];
    for (let n = this.completed; n < this.submitted; n++) out.push(this.order[n % this.width]);
    return out;
  }

  /** Give back the windows this lane reserved itself (after moves); the caller's first run stays the caller's. */
  close(): void {
    if (this.ownRun >= 0) this.s.release(this.ownRun);
    this.ownRun = -1;
  }
}
