/**
 * Executing one request: claim the window, check everything the client
 * wrote, run the operation on the table, write the response.
 *
 * TRUST. Every word of a window and of its staging block may hold anything
 * (a buggy or hostile process of the same user can write the region). So
 * lengths, tags and key kinds are checked against the server's own limits
 * and its own record of the window's staging block before any of them is
 * used as an offset or a length; a request that fails a check is answered
 * with Status.BadRequest and the worker goes on. Corruption found in the
 * table itself is answered with Status.Corrupt, and the chunk it was met in
 * is rebuilt (store/repair.ts) before the worker goes on.
 *
 * Key and value bytes are in the staging arena (staging.ts); the table
 * copies them into its own chunk, and a read copies the value back out.
 */
import { Board } from '../transport/window';
import { Table } from '../store/table';
import { TableCorruptError } from '../errors';
import { Staging } from './staging';
import { logLine } from './log';
import { Op, REQ_DELETE, Status, WIN_KEY_LEN, WIN_TAG, WIN_VALUE_LEN } from '../layout/board';
import { Stat } from '../layout/data-meta';
import { KEY_KIND_BYTES, KeyKind, valueShapeOk, ValueTag } from '../layout/keys-values';
import { U32_KEY_BYTES } from '../store/keys';

export class Executor {
  private readonly u8: Uint8Array;
  private readonly dv: DataView;
  private rangeErrorSeen = false;

  constructor(
    private readonly board: Board,
    private readonly table: Table,
    private readonly staging: Staging,
  ) {
    this.u8 = staging.u8;
    this.dv = new DataView(this.u8.buffer);
  }

  /** Execute the request in `win` unless the window cannot be claimed. */
  run(win: number): void {
    if (!this.board.claim(win)) return;
    let status: Status;
    let result = 0;
    try {
      const board = this.board;
      const table = this.table;
      switch (board.op(win)) {
        case Op.GetU32: {
          const r = table.getU32(board.key(win));
          status = r < 0 ? -r : Status.Ok;
          result = r < 0 ? 0 : r;
          break;
        }
        case Op.PutU32:
          status = table.putU32(board.key(win), board.value(win));
          break;
        case Op.AddU32: {
          const r = table.addU32(board.key(win), board.value(win));
          status = r < 0 ? -r : Status.Ok;
          result = r < 0 ? 0 : r;
          break;
        }
        case Op.Reserve: {
          const n = board.value(win);
          status = n > table.maxKeyBytes + KEY_KIND_BYTES + table.maxValueBytes ? Status.BadRequest : this.staging.ensure(win, n) ? Status.Ok : Status.Full;
          break;
        }
        case Op.Set:
          status = this.set(win);
          break;
        case Op.Read:
          status = this.read(win);
          break;
        case Op.Delete:
          status = this.keyOk(win, 0) ? table.delete(this.u8, this.staging.offset(win), board.word(win, WIN_KEY_LEN)) : Status.BadRequest;
          break;
        case Op.CompareSet:
          status = this.compareSet(win);
          break;
        case Op.Clear:
          table.clear();
          status = Status.Ok;
          break;
        case Op.AddNumber:
          status = this.addNumber(win);
          break;
        case Op.Expire: {
          const expires = this.deadline(win);
          status = expires >= 0 && this.keyOk(win, 0) ? table.expire(this.u8, this.staging.offset(win), board.word(win, WIN_KEY_LEN), expires) : Status.BadRequest;
          break;
        }
        default:
          status = Status.BadOp;
      }
    } catch (e) {
      // Defense in depth: a word another process forged between two checks
      // may still reach a typed array as an index out of its range. The
      // worker answers Corrupt and rebuilds every chunk; it never dies.
      if (e instanceof RangeError) {
        for (let c = 0; c < this.table.segs.chunks.length; c++) this.table.segs.suspects.add(c);
        if (!this.rangeErrorSeen) logLine(`a request met data out of range (${e.message}): did a process write into the data file? rebuilding it`);
        this.rangeErrorSeen = true;
      } else if (!(e instanceof TableCorruptError)) throw e;
      status = Status.Corrupt;
    }
    this.board.complete(win, status, result);
    // Met data nobody wrote: rebuild its chunk now (the answer went out first).
    if (this.table.segs.suspects.size > 0) for (const line of this.table.repair()) logLine(line);
  }

  /** Count `n` requests taken from the ring (once per batch: Batches.runTaken). */
  countRequests(n: number): void {
    this.table.stats[Stat.Requests] += n;
  }

  /** The key's material in staging is well-formed and leaves `valueLen` room. */
  private keyOk(win: number, valueLen: number): boolean {
    const keyLen = this.board.word(win, WIN_KEY_LEN);
    if (keyLen < KEY_KIND_BYTES || keyLen > this.table.maxKeyBytes + KEY_KIND_BYTES) return false;
    if (keyLen + valueLen > this.staging.bytes(win)) return false;
    const kind = this.u8[this.staging.offset(win)];
    if (kind === KeyKind.U32) return keyLen === U32_KEY_BYTES;
    return kind === KeyKind.String || kind === KeyKind.Bytes || kind === KeyKind.System || kind === KeyKind.Reserved;
  }

  private set(win: number): Status {
    const board = this.board;
    const valueLen = board.word(win, WIN_VALUE_LEN);
    const tag = board.word(win, WIN_TAG);
    if (valueLen > this.table.maxValueBytes || !this.tagOk(tag, valueLen)) return Status.BadRequest;
    if (!this.keyOk(win, valueLen)) return Status.BadRequest;
    const expires = this.deadline(win);
    if (Number.isNaN(expires)) return Status.BadRequest;
    const off = this.staging.offset(win);
    const keyLen = board.word(win, WIN_KEY_LEN);
    return this.table.set(this.u8, off, keyLen, this.u8, off + keyLen, valueLen, tag, Math.max(expires, 0));
  }

  private addNumber(win: number): Status {
    const board = this.board;
    if (board.word(win, WIN_VALUE_LEN) !== 8 || board.word(win, WIN_TAG) !== ValueTag.F64 || !this.keyOk(win, 8)) return Status.BadRequest;
    const off = this.staging.offset(win);
    const keyLen = board.word(win, WIN_KEY_LEN);
    const delta = this.dv.getFloat64(off + keyLen, true);
    if (!Number.isSafeInteger(delta)) return Status.BadRequest;
    const r = this.table.addNumber(this.u8, off, keyLen, delta);
    if (r.status !== Status.Ok) return r.status;
    // Answer the sum like a Read: an f64 in staging (8 bytes fit: the delta's room).
    this.dv.setFloat64(off, r.value, true);
    board.setWord(win, WIN_VALUE_LEN, 8);
    board.setWord(win, WIN_TAG, ValueTag.F64);
    return Status.Ok;
  }

  private compareSet(win: number): Status {
    const board = this.board;
    const expTag = board.key(win);
    const expLen = board.value(win);
    const valueLen = board.word(win, WIN_VALUE_LEN);
    const tag = board.word(win, WIN_TAG);
    const del = (board.flags(win) & REQ_DELETE) !== 0;
    const max = this.table.maxValueBytes;
    if (expLen > max || valueLen > max || (expTag === 0 && expLen !== 0) || !this.tagOk(expTag === 0 ? ValueTag.Null : expTag, expLen)) return Status.BadRequest;
    if (!del && !this.tagOk(tag, valueLen)) return Status.BadRequest;
    if (!this.keyOk(win, expLen + valueLen)) return Status.BadRequest;
    const expires = this.deadline(win);
    if (Number.isNaN(expires)) return Status.BadRequest;
    const off = this.staging.offset(win);
    const keyLen = board.word(win, WIN_KEY_LEN);
    const at = off + keyLen;
    return this.table.compareSet(this.u8, off, keyLen, expTag, at, expLen, at + expLen, valueLen, tag, Math.max(expires, 0), del);
  }

  /** A known tag, and a length its fixed size allows (expTag 0 is checked by the caller). */
  private tagOk(tag: number, len: number): boolean {
    return valueShapeOk(tag, len);
  }

  /** The request's deadline: >= 0, -1 when it carries none, NaN when it is junk. */
  private deadline(win: number): number {
    const e = this.board.expires(win);
    return e === -1 || (Number.isFinite(e) && e >= 0) ? e : NaN;
  }

  /** Copy the key's value into the window's staging block (grown if needed). */
  private read(win: number): Status {
    if (!this.keyOk(win, 0)) return Status.BadRequest;
    const keyLen = this.board.word(win, WIN_KEY_LEN);
    return this.table.withValue(this.u8, this.staging.offset(win), keyLen, (from, tag, at, valueLen) => {
      if (!this.staging.ensure(win, valueLen)) return Status.Full;
      this.u8.set(from.subarray(at, at + valueLen), this.staging.offset(win));
      this.board.setWord(win, WIN_VALUE_LEN, valueLen);
      this.board.setWord(win, WIN_TAG, tag);
      return Status.Ok;
    });
  }
}
