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
 * table itself is answered with Status.Corrupt.
 */
import { Board } from '../transport/board';
import { Table } from '../store/table';
import { U32_KEY_BYTES } from '../store/keys';
import { Staging } from './staging';
import {
  entryBytes,
  KEY_KIND_BYTES,
  KeyKind,
  isValueTag,
  Op,
  REQ_DELETE,
  Stat,
  Status,
  ValueTag,
  WIN_KEY_LEN,
  WIN_TAG,
  WIN_VALUE_LEN,
} from '../layout/layout';
import { TableCorruptError } from '../errors';

/** Rounds of eviction one write may trigger before it answers Full. */
const EVICT_ROUNDS = 8;
/** Evict this much beyond the write's own size: fewer, larger rounds. */
const EVICT_SLACK_BYTES = 4096;
const U32_ENTRY_BYTES = entryBytes(U32_KEY_BYTES, 4);

/** Byte length a fixed-size tag requires, or -1 for variable-length tags. */
function fixedLength(tag: number): number {
  switch (tag) {
    case ValueTag.U32:
      return 4;
    case ValueTag.F64:
      return 8;
    case ValueTag.True:
    case ValueTag.False:
    case ValueTag.Null:
      return 0;
    default:
      return -1;
  }
}

export class Executor {
  private readonly u8: Uint8Array;

  constructor(
    private readonly board: Board,
    private readonly table: Table,
    private readonly staging: Staging,
  ) {
    this.u8 = table.u8;
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
        case Op.Get:
          status = table.getU32(board.key(win));
          result = status === Status.Ok ? table.lastValue : 0;
          break;
        case Op.Put:
          // The seed's put, once per request: no closure unless it meets the cap.
          status = table.putU32(board.key(win), board.value(win));
          if (status === Status.Full) status = this.roomy(U32_ENTRY_BYTES, () => table.putU32(board.key(win), board.value(win)));
          break;
        case Op.Add:
          status = this.roomy(U32_ENTRY_BYTES, () => table.addU32(board.key(win), board.value(win)));
          result = status === Status.Ok ? table.lastValue : 0;
          break;
        case Op.Reserve: {
          const n = board.value(win);
          const limit = table.maxKeyBytes + KEY_KIND_BYTES + table.maxValueBytes;
          status = n > limit ? Status.BadRequest : this.roomy(n, () => (this.staging.ensure(win, n) ? Status.Ok : Status.Full));
          break;
        }
        case Op.Set:
          status = this.roomy(entryBytes(board.word(win, WIN_KEY_LEN), board.word(win, WIN_VALUE_LEN)), () => this.set(win));
          break;
        case Op.Read:
          status = this.roomy(board.word(win, WIN_VALUE_LEN), () => this.read(win));
          break;
        case Op.Delete:
          status = this.keyOk(win, 0) ? table.delete(this.u8, this.staging.offset(win), board.word(win, WIN_KEY_LEN)) : Status.BadRequest;
          break;
        case Op.CompareSet: {
          const need = board.value(win) + board.word(win, WIN_VALUE_LEN);
          status = this.roomy(entryBytes(board.word(win, WIN_KEY_LEN), need), () => this.compareSet(win));
          break;
        }
        case Op.Clear:
          table.clear();
          status = Status.Ok;
          break;
        case Op.AddNumber:
          status = this.roomy(entryBytes(board.word(win, WIN_KEY_LEN), 8), () => this.addNumber(win));
          break;
        case Op.Expire: {
          // A deadline on a u32 held in its index slot moves it to a heap entry: it may need room.
          const expires = this.deadline(win);
          const keyLen = board.word(win, WIN_KEY_LEN);
          status =
            expires >= 0 && this.keyOk(win, 0) ? this.roomy(U32_ENTRY_BYTES, () => table.expire(this.u8, this.staging.offset(win), keyLen, expires)) : Status.BadRequest;
          break;
        }
        default:
          status = Status.BadOp;
      }
    } catch (e) {
      if (!(e instanceof TableCorruptError)) throw e;
      status = Status.Corrupt;
    }
    if (status === Status.Full) this.table.stats[Stat.Refused]++;
    this.board.complete(win, status, result);
  }

  /** Count `n` requests taken from the ring (once per batch: Batches.runTaken). */
  countRequests(n: number): void {
    this.table.stats[Stat.Requests] += n;
  }

  /**
   * Run `op`; when it answers Full and the table evicts, make room for
   * about `bytes` (doubling each round: freed blocks need not be adjacent)
   * and run it again, a bounded number of times. `op` must have changed
   * nothing when it answered Full.
   */
  private roomy(bytes: number, op: () => Status): Status {
    let status = op();
    let want = Math.max(bytes, 0) + EVICT_SLACK_BYTES;
    for (let round = 0; status === Status.Full && this.table.evicts && round < EVICT_ROUNDS; round++) {
      if (this.table.evict(want) === 0) break;
      want *= 2;
      status = op();
    }
    return status;
  }

  /** The key's material in staging is well-formed and leaves `valueLen` room. */
  private keyOk(win: number, valueLen: number): boolean {
    const keyLen = this.board.word(win, WIN_KEY_LEN);
    if (keyLen < KEY_KIND_BYTES || keyLen > this.table.maxKeyBytes + KEY_KIND_BYTES) return false;
    if (keyLen + valueLen > this.staging.bytes(win)) return false;
    const kind = this.u8[this.staging.offset(win)];
    if (kind === KeyKind.U32) return keyLen === U32_KEY_BYTES;
    return kind === KeyKind.String || kind === KeyKind.Bytes;
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
    const delta = new DataView(this.u8.buffer).getFloat64(off + keyLen, true);
    if (!Number.isSafeInteger(delta)) return Status.BadRequest;
    const status = this.table.addNumber(this.u8, off, keyLen, delta);
    if (status !== Status.Ok) return status;
    // Answer the sum like a Read: an f64 in staging (8 bytes fit: the delta's room).
    new DataView(this.u8.buffer).setFloat64(off, this.table.lastNumber, true);
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
    if (!isValueTag(tag)) return false;
    const fixed = fixedLength(tag);
    return fixed < 0 || len === fixed;
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
    return this.table.withValue(this.u8, this.staging.offset(win), keyLen, (tag, at, valueLen) => {
      if (!this.staging.ensure(win, valueLen)) return Status.Full;
      this.u8.copyWithin(this.staging.offset(win), at, at + valueLen);
      this.board.setWord(win, WIN_VALUE_LEN, valueLen);
      this.board.setWord(win, WIN_TAG, tag);
      return Status.Ok;
    });
  }
}
