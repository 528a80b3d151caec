/**
 * The promise API's machinery: a queue of requests, pumped through the
 * client's lane (up to `width` in flight), completed in submission order
 * by the notifier thread's wake-ups (notifier.ts), so that the event loop
 * never blocks or spins.
 *
 * Byte requests write their key (and value) into the staging block of the
 * window they go into. When no free window has room, one free window is
 * first grown by an Op.Reserve request; the waiting request then takes
 * that window once the Reserve is answered (lane.ts picks windows by room).
 * The queue stays FIFO: requests behind a waiting one wait too.
 */
import * as path from 'node:path';
import { Worker } from 'node:worker_threads';
import { Connection } from './connection';
import { Lane } from './lane';
import { StagingIO } from './staging-io';
import { fromWire, WireError } from './thread-error';
import { CTRL_ERROR, CTRL_NOTIFIED, CTRL_STOP, CTRL_SUBMITTED, CTRL_WORDS, NotifierData } from './notifier';
import { Pending, RequestBuilder, writeRequest } from './requests';
import { Op, Status } from '../layout/layout';
import { ServerGoneError } from '../errors';

/** Longest the calling thread polls for answers before handing over to the notifier. */
export const SPIN_MS = 0.02;

export class Pipeline {
  private readonly ctrl = new Int32Array(new SharedArrayBuffer(CTRL_WORDS * 4));
  private readonly lane: Lane;
  private notifier: Worker | null = null;
  /** Requests sent, oldest first, awaiting responses. */
  private readonly inFlight: Pending[] = [];
  /** Requests not yet sent: queued[queuedHead..], oldest first. */
  private queued: Pending[] = [];
  private queuedHead = 0;
  private waiting = false;
  failure: Error | null = null;
  private readonly room = (win: number): number => this.io.room(win);

  constructor(
    private readonly conn: Connection,
    first: number,
    width: number,
    private readonly io: StagingIO,
    private readonly reserveError: (status: Status, p: Pending) => Error,
  ) {
    this.lane = new Lane(conn, first, width, new Int32Array(new SharedArrayBuffer(width * 4)));
  }

  get pending(): number {
    return this.inFlight.length + this.queued.length - this.queuedHead;
  }

  add(p: Pending): void {
    this.queued.push(p);
  }

  /** Send what fits, then make sure someone will wake us for the rest. */
  pump(): void {
    this.drainCompleted();
    const lane = this.lane;
    const ctrl = this.ctrl;
    const deadline = performance.now() + SPIN_MS;
    for (;;) {
      this.sendQueued();
      // While the notifier has nothing outstanding, answer what completes
      // within the spin budget here, with no thread hand-off (notifier.ts,
      // FAST PATH), and send more when that made room.
      const published = Atomics.load(ctrl, CTRL_SUBMITTED);
      if (published === lane.submittedCount) break;
      if (published !== Atomics.load(ctrl, CTRL_NOTIFIED) || published !== lane.completedCount) break;
      const answered = this.spinAnswer(deadline);
      Atomics.store(ctrl, CTRL_NOTIFIED, lane.completedCount);
      Atomics.store(ctrl, CTRL_SUBMITTED, lane.completedCount);
      if (answered === 0 || lane.inFlight > 0 || this.queuedHead === this.queued.length) break;
    }
    // One hand-off to the notifier per pump, not per request.
    if (Atomics.load(ctrl, CTRL_SUBMITTED) !== lane.submittedCount) {
      Atomics.store(ctrl, CTRL_SUBMITTED, lane.submittedCount);
      Atomics.notify(ctrl, CTRL_SUBMITTED);
    }
    if (this.queuedHead === this.queued.length) {
      this.queued = [];
      this.queuedHead = 0;
    }
    if (this.inFlight.length > 0) this.arm();
    else if (this.queuedHead < this.queued.length) setTimeout(() => this.pump(), 1); // ring full: retry soon
    // A pending Atomics.waitAsync does not keep Node alive; the notifier
    // does, exactly while requests are outstanding.
    if (this.notifier) {
      if (this.inFlight.length > 0) this.notifier.ref();
      else this.notifier.unref();
    }
  }

  private sendQueued(): void {
    const lane = this.lane;
    while (this.queuedHead < this.queued.length && lane.inFlight < lane.width) {
      const p = this.queued[this.queuedHead];
      if (p.failed) {
        this.queuedHead++;
        p.reject(p.failed);
        continue;
      }
      if (p.reserving) break;
      if (!this.trySend(p)) break;
    }
  }

  /** Send the head request `p` (or a Reserve for it); false when the ring is full. */
  private trySend(p: Pending): boolean {
    const lane = this.lane;
    const board = this.conn.board;
    if (p.keyBytes === null) {
      if (!lane.trySubmit(p.op, p.key, p.value)) return false;
      this.queuedHead++;
      this.inFlight.push(p);
      return true;
    }
    let win = lane.windowWithRoom(p.need, this.room);
    if (win < 0) {
      win = lane.nextWindow();
      board.prepareBytes(win, Op.Reserve, 0, 0, 0, p.need);
      if (!lane.tryPublish(win)) return false;
      p.reserving = true;
      this.inFlight.push(RequestBuilder.reserveFor(p, (status) => this.reserveError(status, p)));
      return true;
    }
    // Queued requests hold encoded values (requests.ts): always written whole.
    writeRequest(this.io, board, win, p);
    if (!lane.tryPublish(win)) return false;
    this.queuedHead++;
    this.inFlight.push(p);
    return true;
  }

  private drainCompleted(): void {
    const notified = Atomics.load(this.ctrl, CTRL_NOTIFIED);
    while (this.lane.completedCount < notified) {
      if (!this.lane.pollNext()) throw new Error('internal: notified window is not DONE');
      this.settleOldest();
    }
  }

  /**
   * Poll the requests just sent until `deadline` (SPIN_MS after the pump
   * began) and answer those that complete, oldest first; returns how many. A round trip to a running server thread takes a
   * microsecond or two, a wake-up through the notifier tens of
   * microseconds (two thread hand-offs), so a short spin answers most
   * one-at-a-time calls on the calling thread; the bound keeps the event
   * loop responsive when the server is slow or descheduled.
   */
  private spinAnswer(deadline: number): number {
    const lane = this.lane;
    let answered = 0;
    for (let polls = 1; lane.inFlight > 0; polls++) {
      if (lane.pollNext()) {
        this.settleOldest();
        answered++;
      } else if ((polls & 15) === 0 && performance.now() > deadline) break;
    }
    return answered;
  }

  /** Settle the promise of the response the lane consumed last. */
  private settleOldest(): void {
    const lane = this.lane;
    const p = this.inFlight.shift()!;
    let v: unknown;
    try {
      v = p.settle(lane.status, lane.result, lane.lastWindow);
    } catch (e) {
      p.reject(e as Error);
      return;
    }
    p.resolve(v);
  }

  private arm(): void {
    if (this.waiting) return;
    this.startNotifier();
    const seen = Atomics.load(this.ctrl, CTRL_NOTIFIED);
    this.waiting = true;
    if (seen !== this.lane.completedCount || Atomics.load(this.ctrl, CTRL_ERROR) !== 0) {
      queueMicrotask(() => this.wake());
      return;
    }
    const r = Atomics.waitAsync(this.ctrl, CTRL_NOTIFIED, seen);
    if (r.async) void r.value.then(() => this.wake());
    else queueMicrotask(() => this.wake());
  }

  private wake(): void {
    this.waiting = false;
    if (Atomics.load(this.ctrl, CTRL_ERROR) !== 0 && this.failure === null) {
      // The notifier posts its reason before raising ERROR; 'message' may not
      // have been delivered yet, so fall back to a generic reason.
      this.fail(new ServerGoneError('the server stopped answering'));
      return;
    }
    if (this.failure) return;
    this.pump();
  }

  private startNotifier(): void {
    if (this.notifier) return;
    const data: NotifierData = { conn: this.conn.shared(), width: this.lane.width, ctrl: this.ctrl, order: this.lane.order };
    const w = new Worker(path.join(__dirname, 'notifier-worker.js'), { workerData: data });
    w.on('message', (m: WireError) => this.fail(fromWire(m)));
    w.on('error', (e) => this.fail(e));
    w.unref();
    this.notifier = w;
  }

  /** Reject everything outstanding; the pipeline is unusable afterwards. */
  fail(e: Error): void {
    if (this.failure) return;
    this.failure = e;
    for (const p of this.inFlight.splice(0)) p.reject(e);
    for (const p of this.queued.splice(this.queuedHead)) p.reject(e);
    this.queued = [];
    this.queuedHead = 0;
  }

  /** Wait for outstanding requests, then stop the notifier. */
  async close(): Promise<void> {
    const outstanding = [...this.inFlight, ...this.queued.slice(this.queuedHead)].map(
      (p) =>
        new Promise<void>((r) => {
          const { resolve, reject } = p;
          p.resolve = (v) => (resolve(v), r());
          p.reject = (e) => (reject(e), r());
        }),
    );
    await Promise.all(outstanding);
    Atomics.store(this.ctrl, CTRL_STOP, 1);
    Atomics.notify(this.ctrl, CTRL_SUBMITTED);
    // Not awaited: with nothing outstanding (NOTIFIED === SUBMITTED) the
    // notifier touches no window any more, and awaiting its 'exit' was seen
    // to leave close() pending forever when the thread had already ended by
    // itself on STOP (the process then exited with the caller's await
    // unsettled). Unref'd, it never keeps the process alive.
    if (this.notifier) {
      this.notifier.unref();
      this.notifier.terminate().catch(() => undefined);
    }
  }
}
