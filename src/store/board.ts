/**
 * The request-status board: the region's array of windows, and the owner
 * table that hands runs of windows to client processes.
 *
 * A window is one request slot owned by one client thread. The client writes
 * the request into it, marks it SUBMITTED and publishes its index through the
 * ring; the server writes the response into it and marks it DONE.
 *
 * WINDOW STATE PROTOCOL (one Int32 word, WIN_STATE):
 *   client: IDLE -> SUBMITTED        plain writes of op/key/value happen before
 *                                    (ordered by the ring's publishing CAS)
 *   client: SUBMITTED -> SLEEPING    CAS, only before a futex sleep on the word
 *   server: SUBMITTED|SLEEPING -> DONE  exchange, after writing status/result;
 *                                    if it replaced SLEEPING, futexWake
 *   client: DONE -> IDLE             after reading the response
 * Invariant: only the server moves a window to DONE and only its owner moves
 * it anywhere else. The server's exchange is the release that publishes the
 * response; the client's load that sees DONE is the acquire. A client sleeps
 * only on the value SLEEPING that its own CAS installed, so the server's
 * exchange either precedes that CAS (which then fails, no sleep) or sees
 * SLEEPING and wakes it: no lost wake-up, and no syscall when nobody sleeps.
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
import { Lock, LockTimeoutError, processAlive } from '../sync/lock';
import { DEFAULT_WAIT_POLICY, spinThenYield, WaitPolicy } from '../sync/waiter';
import { Region } from '../layout/region';
import {
  BOARD_LOCK_WAIT_MS,
  HDR_BOARD_LOCK,
  WIN_KEY,
  WIN_OP,
  WIN_RESULT,
  WIN_STATE,
  WIN_STATUS,
  WIN_VALUE,
  WindowState,
} from '../layout/layout';

export class BoardFullError extends Error {
  constructor(wanted: number, total: number) {
    super(`the server's board has no ${wanted} free consecutive windows (${total} in all): raise the server's -c capacity or use fewer threads or a smaller window`);
    this.name = 'BoardFullError';
  }
}

/** A client waited BOARD_LOCK_WAIT_MS for the board lock: its live holder makes no progress. */
export class BoardLockedError extends Error {
  constructor(readonly holder: number, waitedMs: number, what: string) {
    super(`cannot ${what}: the board lock has been held by pid ${holder} for over ${waitedMs} ms (is that process stopped?)`);
    this.name = 'BoardLockedError';
  }
}

export class Board {
  private readonly i32: Int32Array;
  private readonly owner0: number;
  private readonly board0: number;
  private readonly winWords: number;
  readonly windowCount: number;

  constructor(region: Region) {
    this.i32 = region.i32;
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

  // ---- client side of a window -------------------------------------------------

  /** Write a request into a window and mark it SUBMITTED (publish via the ring). */
  prepare(win: number, op: number, key: number, value: number): void {
    const w = this.i32;
    const base = this.board0 + win * this.winWords;
    w[base + (WIN_OP >> 2)] = op;
    w[base + (WIN_KEY >> 2)] = key;
    w[base + (WIN_VALUE >> 2)] = value;
    Atomics.store(w, base + (WIN_STATE >> 2), WindowState.Submitted);
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
      const prev = Atomics.compareExchange(w, s, WindowState.Submitted, WindowState.Sleeping);
      if (prev === WindowState.Done) return;
      futexWait(w, s, WindowState.Sleeping, policy.sleepMs);
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

  // ---- server side of a window -------------------------------------------------

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
    if (Atomics.exchange(w, base + (WIN_STATE >> 2), WindowState.Done) === WindowState.Sleeping)
      futexWake(w, base + (WIN_STATE >> 2), 1);
  }
}
