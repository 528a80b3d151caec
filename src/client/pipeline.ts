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
 *
 * RIDING THROUGH (connection.ts). The notifier hands every window back to
 * the main thread when the server stops serving (dead, stopped, shutting
 * down, no heartbeat) and exits. The pipeline is then in TROUBLE: it sends
 * nothing, and every RECOVER_MS (timers: the event loop stays free) it
 *   - settles, in order, the answers that still arrive (a paused server
 *     that resumes, a stopping one draining its ring);
 *   - resumes (a new notifier) as soon as the server serves again;
 *   - MOVES to a new server at the path: each request in flight is settled
 *     from its answer if it has one, else retracted (it never ran) and sent
 *     again, else (TAKEN by the old server) sent again if idempotent and
 *     rejected with OutcomeUnknownError if not; then a new lane on the new
 *     board, and the queue goes on;
 *   - after reconnectMs without a serving server, rejects what waited that
 *     long: ServerGoneError for requests that certainly did not run (never
 *     sent, or retracted), OutcomeUnknownError for writes a server took (their
 *     windows go to the server's reaper, and the lane gets fresh ones).
 * A request queued during an outage waits reconnectMs from its own call.
 * With reconnect: false, the first hand-back fails the pipeline for good
 * (every promise rejects with ServerGoneError, as the client did before it
 * could ride through).
 */
import { Connection } from './connection';
import type { Session } from './session';
import { Lane } from './lane';
import { StagingIO } from './staging-io';
import type { ValueCodec } from '../codec/value';
import { CTRL_NOTIFIED, CTRL_SUBMITTED, NotifierLink } from './notifier';
import { Pending, RequestBuilder, writeRequest } from './requests';
import { InFlight, salvageForExpiry, salvageForMove, settle, settleAnswered } from './salvage';
import { Op, Status } from '../layout/board';
import { BoardFullError, ServerGoneError } from '../errors';

/** Longest the calling thread polls for answers before handing over to the notifier. */
export const SPIN_MS = 0.02;
/** How often a pipeline in trouble looks at its windows and its server. */
const RECOVER_MS = 20;

export class Pipeline {
  /** The notifier thread and its control words (notifier.ts). */
  private readonly link = new NotifierLink({
    woken: (handedBack) => this.woken(handedBack),
    reason: (problem) => (this.problem = problem),
    failed: (e) => this.fail(e),
  });
  private lane: Lane;
  private io: StagingIO;
  /** Requests sent, oldest first, awaiting responses. */
  private inFlight: Pending[] = [];
  /** Requests not yet sent: queued[queuedHead..], oldest first. */
  private queued: Pending[] = [];
  private queuedHead = 0;
  /** reconnect: false only: the reason the pipeline stopped, for good. */
  failure: Error | null = null;
  /** The notifier handed the windows back: the server does not serve (RIDING THROUGH). */
  private trouble = false;
  /** Why, as the notifier or the last look said. */
  private problem = '';
  private outageSince = 0;
  private timer: NodeJS.Timeout | null = null;
  private closed = false;
  /** In TROUBLE: requests settled from their answer before the older ones in flight were answered. */
  private readonly early = new Set<Pending>();
  private readonly room = (win: number): number => this.io.room(win);

  constructor(
    private readonly conn: Connection,
    session: Session,
    first: number,
    private readonly width: number,
    private readonly codec: ValueCodec,
    private readonly reserveError: (status: Status, p: Pending) => Error,
  ) {
    this.lane = new Lane(conn, first, width, new Int32Array(new SharedArrayBuffer(width * 4)), session);
    this.io = new StagingIO(session, codec);
  }

  get pending(): number {
    return this.inFlight.length + this.queued.length - this.queuedHead;
  }

  add(p: Pending): void {
    if (this.trouble) p.since = Date.now();
    this.queued.push(p);
  }

  /** Send what fits, then make sure someone will wake us for the rest. */
  pump(): void {
    if (this.trouble) return this.schedule();
    this.drainCompleted();
    if (this.conn.reconnect && this.conn.current !== this.lane.session) {
      // Direct reads found a new server. The notifier owns the windows in
      // flight until it hands them back (it will: their server is gone);
      // with none in flight, move now. (What it reported answered is
      // consumed above: arm() would otherwise wake at once, forever.)
      if (this.inFlight.length > 0) return this.arm();
      this.move();
    }
    if (!this.haveWindow()) return;
    const lane = this.lane;
    const ctrl = this.link.ctrl;
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
    this.link.keepAlive(this.inFlight.length > 0);
  }

  /**
   * A lane that lost windows (to the reaper, after an outage) and could not
   * get new ones may have none free with nothing in flight: get one, or
   * fail what waits with BoardFullError. False when there is none.
   */
  private haveWindow(): boolean {
    if (this.lane.hasFree || this.inFlight.length > 0 || this.queuedHead === this.queued.length) return true;
    try {
      this.lane.adopt(this.lane.session.reserve(1));
      return true;
    } catch (e) {
      if (!(e instanceof BoardFullError)) throw e;
      for (const p of this.queued.splice(this.queuedHead)) p.reject(e);
      this.queued = [];
      this.queuedHead = 0;
      return false;
    }
  }

  private sendQueued(): void {
    const lane = this.lane;
    while (this.queuedHead < this.queued.length && lane.inFlight < lane.width && lane.hasFree) {
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
    const board = lane.session.board;
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
    const notified = Atomics.load(this.link.ctrl, CTRL_NOTIFIED);
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
    if (!this.early.delete(p)) settle(p, lane.status, lane.result, lane.lastWindow, this.io);
  }

  private arm(): void {
    const lane = this.lane;
    this.link.arm(lane.completedCount, () => ({ session: lane.session.shared(), policy: this.conn.policy, width: lane.width, order: lane.order }));
  }

  private woken(handedBack: boolean): void {
    if (this.failure) return;
    // The reason may not have been delivered yet: a generic one.
    if (handedBack) this.handedBack(this.problem || 'the server stopped answering');
    else this.pump();
  }

  /** The notifier gave every window back: the server does not serve. */
  private handedBack(problem: string): void {
    this.link.exited(); // it has exited (or is exiting) by itself
    problem = this.lane.session.problem() ?? problem;
    if (!this.conn.reconnect) return this.fail(new ServerGoneError(problem));
    this.trouble = true;
    this.problem = problem;
    this.outageSince = Date.now();
    for (let i = this.queuedHead; i < this.queued.length; i++) this.queued[i].since = this.outageSince;
    this.schedule();
  }

  private schedule(): void {
    if (this.timer !== null || this.pending === 0) return;
    this.timer = setTimeout(() => {
      this.timer = null;
      this.recover();
    }, RECOVER_MS);
  }

  /** One look while in TROUBLE (RIDING THROUGH above). */
  private recover(): void {
    if (!this.trouble || this.failure) return;
    const lane = this.lane;
    while (lane.pollNext()) this.settleOldest();
    settleAnswered(this.flight());
    const now = Date.now();
    const s = lane.session;
    const problem = this.conn.look(s, now);
    if (this.conn.current !== s) {
      this.move();
      this.resume();
    } else if (problem === null) this.resume();
    else {
      this.problem = problem;
      this.expire(now);
      this.schedule();
    }
  }

  private flight(): InFlight {
    return { lane: this.lane, requests: this.inFlight, early: this.early, io: this.io };
  }

  /** Leave TROUBLE: a new notifier watches what is in flight, the queue goes on. */
  private resume(): void {
    this.trouble = false;
    this.outageSince = 0;
    this.link.renew(this.lane.completedCount, this.lane.submittedCount);
    this.pump();
  }

  /**
   * Move to the connection's current session (MOVES above). The main
   * thread owns every window here: the notifier handed them back, or
   * none is in flight.
   */
  private move(): void {
    const old = this.lane.session;
    this.link.stop();
    const { again, later } = salvageForMove(this.flight(), `the server (pid ${old.region.serverPid()}) stopped answering after it took the request`);
    for (const w of this.lane.windows()) old.giveBack(w);
    this.inFlight = [];
    this.queued = [...again, ...this.queued.slice(this.queuedHead)];
    this.queuedHead = 0;
    const cur = this.conn.current;
    let first: number;
    try {
      first = cur.reserve(this.width);
    } catch (e) {
      if (!(e instanceof BoardFullError)) throw e;
      // No room for a run on the new board: a lane without windows, which
      // haveWindow() fills one at a time, or fails what waits.
      first = -1;
    }
    this.lane = new Lane(this.conn, first, this.width, this.lane.order, cur);
    this.io = new StagingIO(cur, this.codec);
    for (const f of later) f();
  }

  /**
   * After reconnectMs of an outage: reject what waited that long
   * (RIDING THROUGH above). Requests in flight were all sent before it
   * began, so they expire together.
   */
  private expire(now: number): void {
    const ms = this.conn.reconnectMs;
    const gone = (): ServerGoneError => new ServerGoneError(this.conn.goneMessage(this.problem));
    if (this.inFlight.length > 0 && now - this.outageSince > ms) {
      const s = this.lane.session;
      const { lost, later } = salvageForExpiry(this.flight(), gone);
      this.inFlight = [];
      // Taken windows go to the reaper; fresh ones take their place.
      for (const win of lost) {
        s.giveBack(win);
        try {
          this.lane.adopt(s.reserve(1));
        } catch (e) {
          if (!(e instanceof BoardFullError)) throw e;
        }
      }
      for (const f of later) f();
    }
    while (this.queuedHead < this.queued.length) {
      const p = this.queued[this.queuedHead];
      if (now - Math.max(p.since ?? 0, this.outageSince) <= ms) break;
      this.queuedHead++;
      p.reject(gone());
    }
  }

  /** Reject everything outstanding; the pipeline is unusable afterwards (reconnect: false). */
  fail(e: Error): void {
    if (this.failure) return;
    this.failure = e;
    for (const p of this.inFlight.splice(0)) p.reject(e);
    for (const p of this.queued.splice(this.queuedHead)) p.reject(e);
    this.queued = [];
    this.queuedHead = 0;
  }

  /**
   * Wait for outstanding requests, then stop the notifier and give the
   * lane's windows back (those a server may still answer into go to its
   * reaper), whatever the pipeline met.
   */
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
    this.closeIdle();
  }

  /** Stop and give every window back, now: nothing may be outstanding (close(), closeSync()). */
  closeIdle(): void {
    if (this.closed) return;
    this.closed = true;
    this.link.stop();
    if (this.timer !== null) clearTimeout(this.timer);
    this.timer = null;
    const s = this.lane.session;
    for (const w of this.lane.windows()) s.giveBack(w);
  }
}
