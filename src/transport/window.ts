/**
 * The board: the region's array of request windows, and the state machine
 * of one window. Who owns which window (and how windows are claimed,
 * given back and reclaimed) is owners.ts.
 *
 * A window is one request slot owned by one client thread. The client writes
 * the request into it, marks it SUBMITTED and publishes its index through the
 * ring; the server writes the response into it and marks it DONE.
 *
 * WINDOW STATE PROTOCOL (one Int32 word, WIN_STATE; S = the SLEEPING bit):
 *   client: IDLE -> SUBMITTED        plain writes of the request happen before
 *                                    (ordered by the ring's publishing CAS)
 *   server: SUBMITTED[|S] -> TAKEN[|S]  CAS, before reading the request: a
 *                                    window published twice, or in any other
 *                                    state, is refused, so each submission
 *                                    runs at most once
 *   client: SUBMITTED[|S] -> IDLE    CAS (retract): a request its client gave
 *                                    up on (its server died or stopped
 *                                    answering). The server's claim then
 *                                    fails, so a retracted request never
 *                                    runs, however late a thread takes its
 *                                    ring position; a failed retract means
 *                                    the server took it first (TAKEN: it may
 *                                    be applied) or answered it (DONE)
 *   client: X -> X|S (X = SUBMITTED or TAKEN)  CAS, only before a futex
 *                                    sleep on the word
 *   server: TAKEN[|S] -> DONE        exchange, after writing the response; if
 *                                    it replaced a state with S, futexWake
 *   client: DONE -> IDLE             after reading the response
 * Invariant: only the server moves a window to TAKEN or DONE and only its
 * owner moves it anywhere else; the claim and the retract are CAS on the
 * same word from SUBMITTED, so exactly one of them wins: a submission is
 * either run once or retracted, never both. The server's exchange is the
 * release that publishes the response; the client's load that sees DONE is
 * the acquire. A client sleeps only on a value with S that its own CAS
 * installed, so the server's exchange either precedes that CAS (which then
 * fails, no sleep) or sees S and wakes it: no lost wake-up, and no syscall
 * when nobody sleeps.
 *
 * A ring position may name a window whose request was retracted or taken
 * already (published twice, or retracted and submitted again): taking it
 * claims nothing, or claims the window's next submission, which its owner
 * wrote completely before storing SUBMITTED; either way each submission
 * runs at most once.
 *
 * STAGING: each window has a block of the data file for the bytes of its
 * requests and responses (keys, values). Only server threads allocate,
 * grow or free it; they keep the authoritative [offset, bytes] in their
 * own memory (staging.ts) and copy it into the window for the client.
 */
import { futexWait, futexWake } from '../native/shim';
import { DEFAULT_WAIT_POLICY, pollBeforeSleep, WaitPolicy } from '../sync/waiter';
import { Region } from '../layout/region';
import {
  Op,
  REQ_DELETE,
  REQ_EXPIRES,
  WIN_EXPIRES,
  WIN_FLAGS,
  WIN_KEY,
  WIN_KEY_LEN,
  WIN_OP,
  WIN_RESULT,
  WIN_STATE,
  WIN_STATUS,
  WIN_TAG,
  WIN_VALUE,
  WIN_VALUE_LEN,
  WindowState,
} from '../layout/board';

/** CAS attempts of claim(): a well-behaved owner changes the word at most once. */
const CLAIM_ATTEMPTS = 8;

export class Board {
  private readonly i32: Int32Array;
  private readonly f64: Float64Array;
  private readonly board0: number;
  private readonly winWords: number;
  readonly windowCount: number;

  constructor(region: Region) {
    this.i32 = region.i32;
    this.f64 = new Float64Array(region.sab);
    this.board0 = region.layout.boardOffset >> 2;
    this.winWords = region.layout.windowBytes >> 2;
    this.windowCount = region.layout.windowCount;
  }

  /**
   * True when `win` names a window of this board. Every window index read
   * from shared memory (a ring slot) must pass this before use: the slot's
   * 19-bit field can name up to MAX_WINDOWS - 1, past the board's end.
   */
  isWindow(win: number): boolean {
    return Number.isInteger(win) && win >= 0 && win < this.windowCount;
  }

  /** Int32 index of a window field (byte offset `field` within the window). */
  field(win: number, field: number): number {
    return this.board0 + win * this.winWords + (field >> 2);
  }

  // ---- client side of a window -------------------------------------------------

  /** Write a u32 request into a window and mark it SUBMITTED (publish via the ring). */
  prepare(win: number, op: number, key: number, value: number): void {
    const w = this.i32;
    const base = this.board0 + win * this.winWords;
    w[base + (WIN_OP >> 2)] = op;
    w[base + (WIN_KEY >> 2)] = key;
    w[base + (WIN_VALUE >> 2)] = value;
    Atomics.store(w, base + (WIN_STATE >> 2), WindowState.Submitted);
  }

  /**
   * Write a byte request whose key (and value) the caller has put in the
   * window's staging block, and mark it SUBMITTED.
   */
  prepareBytes(win: number, op: number, keyLen: number, valueLen: number, tag: number, value = 0, expires = -1, flags = 0): void {
    const w = this.i32;
    const base = this.board0 + win * this.winWords;
    w[base + (WIN_OP >> 2)] = op;
    w[base + (WIN_VALUE >> 2)] = value;
    w[base + (WIN_KEY_LEN >> 2)] = keyLen;
    w[base + (WIN_VALUE_LEN >> 2)] = valueLen;
    w[base + (WIN_TAG >> 2)] = tag;
    w[base + (WIN_FLAGS >> 2)] = flags | (expires >= 0 ? REQ_EXPIRES : 0);
    if (expires >= 0) this.f64[(base >> 1) + (WIN_EXPIRES >> 3)] = expires;
    Atomics.store(w, base + (WIN_STATE >> 2), WindowState.Submitted);
  }

  /**
   * A CompareSet whose staging holds key | expected value | new value:
   * WIN_VALUE carries the expected length, WIN_KEY its tag (0: absent).
   */
  prepareCompare(win: number, keyLen: number, expTag: number, expLen: number, valueLen: number, tag: number, expires: number, del: boolean): void {
    const base = this.board0 + win * this.winWords;
    this.i32[base + (WIN_KEY >> 2)] = expTag;
    this.prepareBytes(win, Op.CompareSet, keyLen, valueLen, tag, expLen, expires, del ? REQ_DELETE : 0);
  }

  isDone(win: number): boolean {
    return Atomics.load(this.i32, this.board0 + win * this.winWords) === WindowState.Done;
  }

  /** The window's state without the SLEEPING bit. */
  state(win: number): WindowState {
    return Atomics.load(this.i32, this.board0 + win * this.winWords) & ~WindowState.Sleeping;
  }

  /**
   * Retract a submitted request: SUBMITTED[|S] -> IDLE by CAS. True when
   * it was retracted (no server thread can run it any more); false when the
   * window is TAKEN (a server thread may apply it), DONE (answered) or IDLE.
   */
  retract(win: number): boolean {
    const w = this.i32;
    const s = this.board0 + win * this.winWords;
    // Only the owner adds SLEEPING, and the owner is the caller: at most the
    // server's claim races us, and it moves the word once.
    for (let attempt = 0; attempt < CLAIM_ATTEMPTS; attempt++) {
      const cur = Atomics.load(w, s);
      if ((cur & ~WindowState.Sleeping) !== WindowState.Submitted) return false;
      if (Atomics.compareExchange(w, s, cur, WindowState.Idle) === cur) return true;
    }
    return false;
  }

  /**
   * Block until the server marks `win` DONE: poll (pollBeforeSleep), then
   * sleep on the window's state word. `onIdle` runs after each sleep without
   * an answer and may throw (the server died).
   */
  awaitDone(win: number, policy: WaitPolicy = DEFAULT_WAIT_POLICY, onIdle?: () => void): void {
    const w = this.i32;
    const s = this.board0 + win * this.winWords;
    if (Atomics.load(w, s) === WindowState.Done) return;
    if (pollBeforeSleep(() => Atomics.load(w, s) === WindowState.Done, policy)) return;
    for (;;) {
      const cur = Atomics.load(w, s);
      if (cur === WindowState.Done) return;
      const sleeping = cur | WindowState.Sleeping;
      if (cur === sleeping || Atomics.compareExchange(w, s, cur, sleeping) === cur) futexWait(w, s, sleeping, policy.sleepMs);
      if (Atomics.load(w, s) === WindowState.Done) return;
      if (onIdle) onIdle();
    }
  }

  /** Status of a DONE window's response. */
  status(win: number): number {
    return this.i32[this.field(win, WIN_STATUS)];
  }

  /** Result value (u32) of a DONE window's response. */
  result(win: number): number {
    return this.i32[this.field(win, WIN_RESULT)] >>> 0;
  }

  /** Consume a DONE window's response: back to IDLE. */
  recycle(win: number): void {
    Atomics.store(this.i32, this.board0 + win * this.winWords, WindowState.Idle);
  }

  // ---- both sides ----------------------------------------------------------------

  /** A window field as u32 (lengths, tag, staging; the reader checks bounds). */
  word(win: number, field: number): number {
    return this.i32[this.board0 + win * this.winWords + (field >> 2)] >>> 0;
  }

  setWord(win: number, field: number, value: number): void {
    this.i32[this.board0 + win * this.winWords + (field >> 2)] = value;
  }

  /** The request's flags (REQ_*). */
  flags(win: number): number {
    return this.i32[this.board0 + win * this.winWords + (WIN_FLAGS >> 2)];
  }

  /** The request's deadline (WIN_EXPIRES) when REQ_EXPIRES is set, else -1. */
  expires(win: number): number {
    const base = this.board0 + win * this.winWords;
    if ((this.i32[base + (WIN_FLAGS >> 2)] & REQ_EXPIRES) === 0) return -1;
    return this.f64[(base >> 1) + (WIN_EXPIRES >> 3)];
  }

  // ---- server side of a window -------------------------------------------------

  /**
   * Claim a published window for execution: SUBMITTED[|S] -> TAKEN[|S].
   * False for any other state (published twice, stale, or junk): the
   * caller must neither execute nor complete it.
   */
  claim(win: number): boolean {
    const w = this.i32;
    const s = this.board0 + win * this.winWords;
    // The common case first: one CAS, no load before it (in-process, a
    // load ahead of the CAS cost ~5 ns of a ~210 ns request).
    if (Atomics.compareExchange(w, s, WindowState.Submitted, WindowState.Taken) === WindowState.Submitted) return true;
    // The owner may add SLEEPING between our load and our CAS (once per
    // state): retry then. Bounded, in case a hostile writer flips it forever.
    for (let attempt = 0; attempt < CLAIM_ATTEMPTS; attempt++) {
      const cur = Atomics.load(w, s);
      if ((cur & ~WindowState.Sleeping) !== WindowState.Submitted) return false;
      if (Atomics.compareExchange(w, s, cur, (cur & WindowState.Sleeping) | WindowState.Taken) === cur) return true;
    }
    return false;
  }

  op(win: number): number {
    return this.i32[this.board0 + win * this.winWords + (WIN_OP >> 2)];
  }

  key(win: number): number {
    return this.i32[this.board0 + win * this.winWords + (WIN_KEY >> 2)] >>> 0;
  }

  value(win: number): number {
    return this.i32[this.board0 + win * this.winWords + (WIN_VALUE >> 2)] >>> 0;
  }

  /** Write the response, then mark DONE (release) and wake a sleeping owner. */
  complete(win: number, status: number, result: number): void {
    const w = this.i32;
    const base = this.board0 + win * this.winWords;
    w[base + (WIN_STATUS >> 2)] = status;
    w[base + (WIN_RESULT >> 2)] = result;
    if (Atomics.exchange(w, base + (WIN_STATE >> 2), WindowState.Done) & WindowState.Sleeping)
      futexWake(w, base + (WIN_STATE >> 2), 1);
  }
}
