/**
 * The request-status board: the region's array of windows, and the owner
 * table that hands runs of windows to client processes.
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
 *   client: X -> X|S (X = SUBMITTED or TAKEN)  CAS, only before a futex
 *                                    sleep on the word
 *   server: TAKEN[|S] -> DONE        exchange, after writing the response; if
 *                                    it replaced a state with S, futexWake
 *   client: DONE -> IDLE             after reading the response
 * Invariant: only the server moves a window to TAKEN or DONE and only its
 * owner moves it anywhere else. The server's exchange is the release that
 * publishes the response; the client's load that sees DONE is the acquire.
 * A client sleeps only on a value with S that its own CAS installed, so
 * the server's exchange either precedes that CAS (which then fails, no
 * sleep) or sees S and wakes it: no lost wake-up, and no syscall when
 * nobody sleeps.
 *
 * STAGING: each window has a block of the data file for the bytes of its
 * requests and responses (keys, values). Only server threads allocate,
 * grow or free it; they keep the authoritative [offset, bytes] in their
 * own memory (staging.ts) and copy it into the window for the client.
 *
 * OWNERSHIP: owner[i] is the pid of the client process that reserved window
 * i, 0 when free. Reservations and releases happen under the board lock (a
 * robust Lock whose token is the pid: a client killed while holding it is
 * detected by the next locker, which takes over; the owner table is valid
 * after any prefix of a reservation, since each word is a complete claim).
 * A client waits for the board lock at most BOARD_LOCK_WAIT_MS, then gets
 * BoardLockedError naming the holder; the server never waits for it at all
 * (collectDead/freeQuarantined use Lock.tryTakeOver and return "not now").
 * So a client frozen inside its critical section (SIGSTOP, a debugger) or a
 * foreign pid stored into the lock word delays reclamation and other
 * clients' attach/detach, but never the server's heartbeat, reaper ticks,
 * requests or shutdown.
 */
import { futexWait, futexWake } from '../native/shim';
import { Lock, processAlive } from '../sync/lock';
import { DEFAULT_WAIT_POLICY, spinThenYield, WaitPolicy } from '../sync/waiter';
import { Region } from '../layout/region';
import {
  BOARD_LOCK_WAIT_MS,
  HDR_BOARD_LOCK,
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
} from '../layout/layout';
import { LockTimeoutError, BoardFullError, BoardLockedError } from '../errors';

/** CAS attempts of claim(): a well-behaved owner changes the word at most once. */
const CLAIM_ATTEMPTS = 8;

export class Board {
  private readonly i32: Int32Array;
  private readonly f64: Float64Array;
  private readonly owner0: number;
  private readonly board0: number;
  private readonly winWords: number;
  readonly windowCount: number;

  constructor(region: Region) {
    this.i32 = region.i32;
    this.f64 = new Float64Array(region.sab);
    this.owner0 = region.layout.ownerOffset >> 2;
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

  // ---- ownership -------------------------------------------------------------

  private boardLock(pid: number): Lock {
    return new Lock(this.i32, HDR_BOARD_LOCK >> 2, pid, processAlive);
  }

  /** Take the board lock for a client, waiting at most BOARD_LOCK_WAIT_MS. */
  private clientLock(pid: number, what: string): Lock {
    const lock = this.boardLock(pid);
    try {
      lock.lock(BOARD_LOCK_WAIT_MS);
    } catch (e) {
      if (e instanceof LockTimeoutError) throw new BoardLockedError(e.holder, BOARD_LOCK_WAIT_MS, what);
      throw e;
    }
    return lock;
  }

  /** The board lock's holder token, 0 when free (diagnostics, tests). */
  lockHolder(): number {
    return this.boardLock(1).holder();
  }

  /**
   * Reserve `count` consecutive windows for process `pid`; returns the first
   * index. Throws BoardFullError when no run is free.
   */
  reserve(count: number, pid: number = process.pid): number {
    if (!Number.isInteger(count) || count < 1) throw new RangeError(`window count must be positive, got ${count}`);
    const lock = this.clientLock(pid, `reserve ${count} window(s)`);
    try {
      let run = 0;
      for (let i = 0; i < this.windowCount; i++) {
        run = Atomics.load(this.i32, this.owner0 + i) === 0 ? run + 1 : 0;
        if (run === count) {
          const first = i - count + 1;
          for (let j = first; j <= i; j++) {
            Atomics.store(this.i32, this.field(j, WIN_STATE), WindowState.Idle);
            Atomics.store(this.i32, this.owner0 + j, pid);
          }
          return first;
        }
      }
      throw new BoardFullError(count, this.windowCount);
    } finally {
      lock.unlock();
    }
  }

  /** Give back windows reserved by `pid` (none may be in flight). */
  release(first: number, count: number, pid: number = process.pid): void {
    const lock = this.clientLock(pid, `release ${count} window(s)`);
    try {
      for (let j = first; j < first + count; j++) Atomics.compareExchange(this.i32, this.owner0 + j, pid, 0);
    } finally {
      lock.unlock();
    }
  }

  ownerOf(win: number): number {
    return Atomics.load(this.i32, this.owner0 + win);
  }

  /** Windows currently owned by anyone (diagnostics, tests). */
  ownedCount(): number {
    let n = 0;
    for (let i = 0; i < this.windowCount; i++) if (Atomics.load(this.i32, this.owner0 + i) !== 0) n++;
    return n;
  }

  /**
   * Under the board lock, hand every window owned by a dead process to
   * `quarantine` (reclaimed later by the caller once no server thread can
   * still write to it) and return them; null when the lock is held by a live
   * process (never waits: the caller, the server, retries on its next tick).
   * `token` is the caller's lock token.
   *
   * An owner word is client-writable, so anything that is not a live pid is
   * treated as dead: 0 is free; a negative word or a pid that names no live
   * (or a zombie) process is collected. The quarantine value itself is
   * collected too unless `held(i)` says the caller already holds window i in
   * a batch: a foreign write of that value outside a batch would otherwise
   * keep the window out of use forever.
   */
  collectDead(token: number, quarantine: number, held: (win: number) => boolean): number[] | null {
    const lock = this.boardLock(token);
    const dead: number[] = [];
    const alive = new Map<number, boolean>();
    if (!lock.tryTakeOver()) return null;
    try {
      for (let i = 0; i < this.windowCount; i++) {
        const pid = Atomics.load(this.i32, this.owner0 + i);
        if (pid === 0 || (pid === quarantine && held(i))) continue;
        let ok = alive.get(pid);
        if (ok === undefined) alive.set(pid, (ok = pid > 0 && processAlive(pid)));
        if (!ok) {
          Atomics.store(this.i32, this.owner0 + i, quarantine);
          dead.push(i);
        }
      }
    } finally {
      lock.unlock();
    }
    return dead;
  }

  /**
   * Free windows previously moved to `quarantine`; false (nothing done) when
   * the lock is held by a live process: the caller retries later.
   */
  freeQuarantined(token: number, wins: number[], quarantine: number): boolean {
    const lock = this.boardLock(token);
    if (!lock.tryTakeOver()) return false;
    try {
      for (const i of wins) Atomics.compareExchange(this.i32, this.owner0 + i, quarantine, 0);
    } finally {
      lock.unlock();
    }
    return true;
  }

  /**
   * Run `use(win)` for every window nobody owns, holding the board lock so
   * that no client reserves one meanwhile; false (nothing done) when the
   * lock is held by a live process: the caller retries later.
   */
  forEachFree(token: number, use: (win: number) => void): boolean {
    const lock = this.boardLock(token);
    if (!lock.tryTakeOver()) return false;
    try {
      for (let i = 0; i < this.windowCount; i++) if (Atomics.load(this.i32, this.owner0 + i) === 0) use(i);
    } finally {
      lock.unlock();
    }
    return true;
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

  /**
   * Block until the server marks `win` DONE: spin, yield, then sleep on the
   * window's state word. `onIdle` runs after each sleep without an answer
   * and may throw (the server died).
   */
  awaitDone(win: number, policy: WaitPolicy = DEFAULT_WAIT_POLICY, onIdle?: () => void): void {
    const w = this.i32;
    const s = this.board0 + win * this.winWords;
    if (Atomics.load(w, s) === WindowState.Done) return;
    if (spinThenYield(() => Atomics.load(w, s) === WindowState.Done, policy)) return;
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
