/**
 * Windows' staging blocks: the memory through which a request's key and
 * value bytes reach the server and a response's value bytes reach the
 * client (layout/board.ts, window fields WIN_STAGING_*). They are blocks of the
 * exchange file's staging arena, a heap of its own (buddy.ts), so that the
 * data file stays the server's alone: clients map it read-only.
 *
 * OWNERSHIP. Only server threads allocate, grow or free a staging block.
 * The authoritative [offset, bytes] of each window lives in `records`, a
 * SharedArrayBuffer private to the server process, like the arena's free
 * lists (private-state.ts); the copy in the window is for the client and is
 * never read back, so a client that scribbles on its window cannot make the
 * server read or write outside its own block. A window's record is touched
 * by the worker executing that window's request (the board's claim makes
 * that one worker at a time) or by the reaper while the window is free and
 * held by it (owners.ts, forEachFree); the chain release -> claim ->
 * publish -> take of seq-cst atomics orders the two. The arena's allocator
 * (store/buddy.ts) keeps nothing in the arena, so nothing a client writes
 * there can mislead it.
 *
 * COST. A window gets a block only when it first carries bytes (u32
 * requests need none): a request that does not fit first grows its window
 * (Op.Reserve, at least STAGING_DEFAULT_BYTES), and a response that does
 * not fit grows it on the spot. The reaper frees the blocks of windows
 * nobody owns, so an idle client costs its windows, not its largest value,
 * and a departed one costs nothing.
 */
import { Board } from '../transport/window';
import { Buddy, MIN_BLOCK } from '../store/buddy';
import { WIN_STAGING_BYTES, WIN_STAGING_OFFSET } from '../layout/board';
import { STAGING_DEFAULT_BYTES } from '../layout/exchange';
import { KEY_KIND_BYTES } from '../layout/keys-values';

export class Staging {
  /** The arena's bytes: requests' and responses' keys and values. */
  readonly u8: Uint8Array;
  private readonly rec: Uint32Array;
  private readonly buddy: Buddy;
  private readonly limit: number;

  /** [offset, bytes] per window, then the number of windows holding a block. */
  static createRecords(windowCount: number): SharedArrayBuffer {
    return new SharedArrayBuffer((windowCount * 2 + 1) * 4);
  }

  /**
   * The arena's allocator state (private), all free but its first block:
   * offset 0 means "no block" in a window. The server's main thread makes
   * it before any worker runs.
   */
  static createArenaState(arenaBytes: number): SharedArrayBuffer {
    const state = Buddy.createState(arenaBytes);
    const buddy = new Buddy(arenaBytes, state);
    buddy.format();
    buddy.alloc(MIN_BLOCK);
    return state;
  }

  constructor(
    records: SharedArrayBuffer,
    arena: SharedArrayBuffer,
    arenaState: SharedArrayBuffer,
    private readonly board: Board,
    maxKeyBytes: number,
    maxValueBytes: number,
  ) {
    this.rec = new Uint32Array(records);
    this.u8 = new Uint8Array(arena);
    this.buddy = new Buddy(arena.byteLength, arenaState);
    this.limit = maxKeyBytes + KEY_KIND_BYTES + maxValueBytes;
  }

  offset(win: number): number {
    return this.rec[2 * win];
  }

  bytes(win: number): number {
    return this.rec[2 * win + 1];
  }

  /**
   * Make the window's block hold at least `n` bytes (its contents are not
   * kept); false when the arena cannot supply it.
   */
  ensure(win: number, n: number): boolean {
    const have = this.bytes(win);
    if (n <= have) return true;
    const want = Math.max(n, STAGING_DEFAULT_BYTES, Math.min(2 * have, this.limit));
    const block = this.buddy.alloc(want);
    if (block < 0) return false;
    this.release(win);
    this.publish(win, block, Buddy.sizeFor(want));
    Atomics.add(this.rec, this.rec.length - 1, 1);
    return true;
  }

  /** Free the window's block (the reaper, for a window nobody owns). */
  release(win: number): void {
    const off = this.offset(win);
    if (off === 0) return;
    this.buddy.free(off);
    this.publish(win, 0, 0);
    Atomics.sub(this.rec, this.rec.length - 1, 1);
  }

  /** Windows holding a block (all server threads'). */
  held(): number {
    return Atomics.load(this.rec, this.rec.length - 1);
  }

  private publish(win: number, offset: number, bytes: number): void {
    this.rec[2 * win] = offset;
    this.rec[2 * win + 1] = bytes;
    this.board.setWord(win, WIN_STAGING_OFFSET, offset);
    this.board.setWord(win, WIN_STAGING_BYTES, bytes);
  }
}
