/**
 * The synchronous calls' private window: run one request at a time,
 * blocking the calling thread (spin, yield, then futex sleep with liveness
 * checks) until the server answers.
 */
import type { Connection } from './connection';
import { Pending, writeRequest } from './requests';
import { StagingIO } from './staging-io';
import { check } from './checks';
import { Op, Status, WIN_STAGING_BYTES } from '../layout/layout';
import { TableCorruptError } from '../errors';

export class SyncWindow {
  constructor(
    private readonly conn: Connection,
    readonly win: number,
    private readonly io: StagingIO,
  ) {}

  /** Inside run(): a structured value may be encoding into the block now. */
  private busy = false;

  /** Run `p` and return its settled value (or throw its error). */
  run(p: Pending): unknown {
    // A getter or toJSON of a value being encoded straight into this
    // window's block may call back into the client: the block is taken.
    if (this.busy) throw new Error('a synchronous call was made while this client was writing a value (from a getter or toJSON of that value?)');
    this.busy = true;
    try {
      const board = this.conn.board;
      if (p.keyBytes === null) {
        board.prepare(this.win, p.op, p.key, p.value);
      } else {
        this.stage(p.need);
        if (!writeRequest(this.io, board, this.win, p)) {
          // Its deferred value did not fit: encoded now, p.need is exact.
          this.stage(p.need);
          writeRequest(this.io, board, this.win, p);
        }
      }
      const status = this.roundTrip();
      return p.settle(status, board.result(this.win), this.win);
    } finally {
      this.busy = false;
    }
  }

  /** Make the window's staging block hold `need` bytes. */
  private stage(need: number): void {
    if (this.io.room(this.win) >= need) return;
    this.conn.board.prepareBytes(this.win, Op.Reserve, 0, 0, 0, need);
    check(this.roundTrip(), `staging for ${need} bytes`);
    if (this.conn.board.word(this.win, WIN_STAGING_BYTES) < need) throw new TableCorruptError('staging block smaller than granted');
  }

  private roundTrip(): Status {
    const { board, ring, policy, check: alive } = this.conn;
    ring.put(this.win, policy, alive);
    board.awaitDone(this.win, policy, alive);
    const status = board.status(this.win);
    board.recycle(this.win);
    return status;
  }
}
