/**
 * The synchronous calls' private window: run one request at a time,
 * blocking the calling thread (spin, then futex sleeps with liveness
 * checks between them) until the server answers.
 *
 * RIDING THROUGH (connection.ts). While the server does not serve, the
 * call waits; if a new server appears at the path, the request goes to it:
 * retracted first if the old server had not taken it (then it never runs
 * there), sent again if it is idempotent (requests.ts) even when the old
 * server took it. After reconnectMs without a serving server the call
 * fails: ServerGoneError when the request certainly did not run (never
 * sent, or retracted), OutcomeUnknownError when a server took it and may
 * have applied it (then the window goes to the server's reaper: a paused
 * server may still answer into it, and the next call gets a fresh one).
 * With reconnect: false, a gone server throws ServerGoneError, for good.
 */
import { Connection, MOVED, Outage } from './connection';
import type { Session } from './session';
import { Pending, writeRequest } from './requests';
import { StagingIO } from './staging-io';
import type { ValueCodec } from '../codec/value';
import { check } from './checks';
import { Op, Status, WIN_STAGING_BYTES, WindowState } from '../layout/board';
import { OutcomeUnknownError, ServerGoneError, TableCorruptError } from '../errors';

export class SyncWindow {
  private s: Session;
  private win: number;
  private io: StagingIO;
  private readonly outage: Outage;
  private readonly idle: () => void;

  constructor(
    private readonly conn: Connection,
    session: Session,
    win: number,
    private readonly codec: ValueCodec,
  ) {
    this.s = session;
    this.win = win;
    this.io = new StagingIO(session, codec);
    this.outage = new Outage(conn);
    this.idle = conn.reconnect ? () => this.outage.check(this.s) : conn.check;
  }

  /** Inside run(): a structured value may be encoding into the block now. */
  private busy = false;

  /** Run `p` and return its settled value (or throw its error). */
  run(p: Pending): unknown {
    // A getter or toJSON of a value being encoded straight into this
    // window's block may call back into the client: the block is taken.
    if (this.busy) throw new Error('a synchronous call was made while this client was writing a value (from a getter or toJSON of that value?)');
    this.busy = true;
    try {
      for (;;) {
        if (this.conn.reconnect) this.follow();
        // Which request the window carries: `p`, or a Reserve for it.
        let carries: 'p' | 'reserve' = 'reserve';
        try {
          const board = this.s.board;
          if (p.keyBytes === null) board.prepare(this.win, p.op, p.key, p.value);
          else {
            this.stage(p.need);
            if (!writeRequest(this.io, board, this.win, p)) {
              // Its deferred value did not fit: encoded now, p.need is exact.
              this.stage(p.need);
              writeRequest(this.io, board, this.win, p);
            }
          }
          carries = 'p';
          const status = this.roundTrip();
          return p.settle(status, board.result(this.win), this.win, this.io);
        } catch (e) {
          if (e !== MOVED && !(e instanceof ServerGoneError && this.conn.reconnect)) throw e;
          const moved = e === MOVED;
          const board = this.s.board;
          if (board.state(this.win) === WindowState.Done) {
            // Answered after all, between the last look and now.
            const status = board.status(this.win);
            const result = board.result(this.win);
            board.recycle(this.win);
            if (carries === 'p') return p.settle(status, result, this.win, this.io);
            if (moved) continue;
            throw e;
          }
          if (board.retract(this.win)) {
            if (moved) continue; // it never ran: send it to the new server
            throw e; // ServerGoneError: it never ran
          }
          // TAKEN: a server thread holds it and may apply it. The window goes
          // to the reaper; the next request gets another one.
          this.s.giveBack(this.win);
          this.win = -1;
          if (carries === 'reserve') {
            if (moved) continue;
            throw e; // `p` itself was never sent
          }
          if (moved && p.idempotent) continue;
          if (p.op === Op.Read) {
            if (moved) continue;
            throw e; // a read applies nothing
          }
          throw new OutcomeUnknownError(moved ? `the server (pid ${this.s.region.serverPid()}) was replaced while it held the request` : (e as Error).message);
        }
      }
    } finally {
      this.busy = false;
    }
  }

  /** Be on the current session with a window of our own. */
  private follow(): void {
    const cur = this.conn.current;
    if (cur !== this.s) {
      if (this.win >= 0) this.s.giveBack(this.win);
      this.win = -1;
      this.s = cur;
      this.io = new StagingIO(cur, this.codec);
    }
    if (this.win < 0) this.win = cur.reserve(1);
  }

  /** Make the window's staging block hold `need` bytes. */
  private stage(need: number): void {
    if (this.io.room(this.win) >= need) return;
    this.s.board.prepareBytes(this.win, Op.Reserve, 0, 0, 0, need);
    check(this.roundTrip(), `staging for ${need} bytes`);
    if (this.s.board.word(this.win, WIN_STAGING_BYTES) < need) throw new TableCorruptError('staging block smaller than granted');
  }

  private roundTrip(): Status {
    const { board, ring } = this.s;
    const policy = this.conn.policy;
    ring.put(this.win, policy, this.idle);
    board.awaitDone(this.win, policy, this.idle);
    const status = board.status(this.win);
    board.recycle(this.win);
    return status;
  }

  /** Give back the window (close()). */
  close(): void {
    if (this.win >= 0) this.s.giveBack(this.win);
    this.win = -1;
  }
}
