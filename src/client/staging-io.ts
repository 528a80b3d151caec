/**
 * The client's side of a window's staging block (server side and ownership:
 * server/staging.ts): write a request's key and value bytes into it, read a
 * response's value out of it.
 *
 * The block's offset and size come from the window, where the server wrote
 * them before completing the window's last request (the DONE store
 * publishes them; the client reads them only while the window is idle).
 * They are checked against the staging arena's bounds before use, so a
 * scribbled window gives an error, never an out-of-bounds access.
 */
import type { Board } from '../transport/window';
import type { Session } from './session';
import { PreparedValue, RawValue, ValueCodec, writeValue } from '../codec/value';
import { WIN_STAGING_BYTES, WIN_STAGING_OFFSET, WIN_TAG, WIN_VALUE_LEN } from '../layout/board';
import { ValueTag } from '../layout/keys-values';
import { TableCorruptError } from '../errors';

export class StagingIO {
  private readonly buf: Buffer;
  private readonly board: Board;
  private readonly raw: RawValue = { tag: ValueTag.Null, num: 0, str: '', bytes: null, bytesLen: 0 };
  /** The last staging block handed to a deferred write: [offset, bytes] and its view (kept: a codec caches state on it). */
  private viewAt = -1;
  private viewBytes = 0;
  private view: Buffer | null = null;

  /** The staging blocks of `session`'s windows (they live in its exchange file); `codec` writes and reads the values. */
  constructor(
    readonly session: Session,
    private readonly codec: ValueCodec,
  ) {
    this.buf = session.stagingBuf;
    this.board = session.board;
  }

  /** Bytes the window's staging block holds (0 if it has none or is garbage). */
  room(win: number): number {
    const board = this.board;
    const off = board.word(win, WIN_STAGING_OFFSET);
    const bytes = board.word(win, WIN_STAGING_BYTES);
    return off === 0 || off + bytes > this.buf.length ? 0 : bytes;
  }

  /**
   * Write key material (and a value) into the window's block, which must
   * have room for keyLen + value.maxBytes; returns the value's byte length,
   * or -1 when a deferred value did not fit (it is encoded now, in `value`:
   * grow the block to keyLen + value.maxBytes and write again).
   */
  write(win: number, key: Uint8Array, keyLen: number, value: PreparedValue | null): number {
    const off = this.board.word(win, WIN_STAGING_OFFSET);
    const buf = this.buf;
    if (keyLen <= 16) for (let i = 0; i < keyLen; i++) buf[off + i] = key[i];
    else buf.set(key.subarray(0, keyLen), off);
    if (value === null) return 0;
    if (value.deferred !== undefined) return this.codec.writeDeferred(value, this.block(win), keyLen);
    return writeValue(value, buf, off + keyLen);
  }

  /**
   * The window's whole staging block as a Buffer: the same object while the
   * block stays (the codec encodes into it in place, and msgpackr keeps a
   * DataView on it). Checked against the mapping like room().
   */
  private block(win: number): Buffer {
    const board = this.board;
    const off = board.word(win, WIN_STAGING_OFFSET);
    const bytes = board.word(win, WIN_STAGING_BYTES);
    if (off === 0 || off + bytes > this.buf.length) throw new TableCorruptError(`staging block of ${bytes} bytes at ${off}`);
    if (off !== this.viewAt || bytes !== this.viewBytes || this.view === null) {
      this.view = this.buf.subarray(off, off + bytes);
      this.viewAt = off;
      this.viewBytes = bytes;
    }
    return this.view;
  }

  /** Write a value `at` bytes into the window's block; returns its byte length. */
  writeAt(win: number, at: number, value: PreparedValue): number {
    return writeValue(value, this.buf, this.board.word(win, WIN_STAGING_OFFSET) + at);
  }

  /**
   * Copy src[from, from + len) to the start of the window's block, which
   * must have room for len bytes: a request already packed as key material
   * then value bytes (the CLI's byte workloads, workload/bytes.ts).
   */
  writeRaw(win: number, src: Uint8Array, from: number, len: number): void {
    const off = this.board.word(win, WIN_STAGING_OFFSET);
    const buf = this.buf;
    // Short requests: a loop beats creating a subarray view for set().
    if (len <= 32) for (let i = 0; i < len; i++) buf[off + i] = src[from + i];
    else buf.set(src.subarray(from, from + len), off);
  }

  /** The value of a completed Read response in the window. */
  read(win: number): unknown {
    const board = this.board;
    const off = board.word(win, WIN_STAGING_OFFSET);
    const len = board.word(win, WIN_VALUE_LEN);
    const r = this.raw;
    r.tag = board.word(win, WIN_TAG);
    if (off === 0 || len > board.word(win, WIN_STAGING_BYTES) || off + len > this.buf.length)
      throw new TableCorruptError(`response of ${len} bytes at ${off}`);
    switch (r.tag) {
      case ValueTag.U32:
        r.num = this.buf.readUInt32LE(off);
        break;
      case ValueTag.F64:
        r.num = this.buf.readDoubleLE(off);
        break;
      case ValueTag.String: {
        // Copied before decoding: a decoder must never see bytes that a
        // (foreign) writer changes under it.
        const copy = Buffer.allocUnsafe(len);
        this.buf.copy(copy, 0, off, off + len);
        r.str = copy.toString('utf8');
        break;
      }
      default: {
        const out = Buffer.allocUnsafeSlow(len);
        this.buf.copy(out, 0, off, off + len);
        r.bytes = out;
        r.bytesLen = len;
      }
    }
    const v = this.codec.decode(r);
    r.bytes = null;
    return v;
  }
}
