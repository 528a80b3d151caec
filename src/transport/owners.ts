/**
 * Window ownership: which client process owns each window of the board, how
 * clients claim and give back windows, and how the server's reaper takes
 * back the windows of clients that died or gave up on them. No lock: every
 * change is one CAS on one owner word, so a process frozen or killed at any
 * instant (SIGSTOP inside connect() or close(), SIGKILL) costs at most the
 * windows it owns, never another process's attach or detach.
 *
 * OWNER WORD (one Int32 per window, the region's owner table; values in
 * layout/board.ts):
 *   OWNER_FREE (0)          free
 *   pid > 0                 owned by that client process
 *   OWNER_QUARANTINED (-1)  the reaper's: in a reclamation batch, or held
 *                           for a moment while it frees the staging block
 *   anything else           abandoned: OWNER_ABANDONED (-2), stored by a
 *                           live client, a pid naming no live process (or a
 *                           zombie), a junk value written by someone; the
 *                           reaper collects it like a dead owner's window
 *
 * TRANSITIONS (each a seq-cst CAS on the word):
 *   claim    0 -> pid            reserve(): a run of `count` words claimed in
 *                                order; a CAS that fails (another client got
 *                                there first) undoes the run's earlier claims
 *                                (pid -> 0) and the scan goes on past it
 *   release  pid -> 0            a window with no request a server thread
 *                                may still hold or answer: IDLE (never sent,
 *                                answered and consumed, or retracted) or DONE
 *   abandon  pid -> ABANDONED    any other window (TAKEN: a server thread may
 *                                still write its answer); the reaper frees it
 *   collect  x -> QUARANTINED    reaper: x is not 0, not a live pid, and not
 *                                one of its own batches' QUARANTINED words
 *   free     QUARANTINED -> 0    reaper: once no server thread can write to
 *                                the window (RECLAMATION below)
 *   staging  0 -> QUARANTINED -> 0  reaper, around freeing the staging block
 *                                of a window nobody owns: no client can claim
 *                                it meanwhile (a worker may be using the
 *                                block of a window only while it is owned)
 *
 * INVARIANT: a window passes to a new owner (0 -> pid) only when no server
 * thread holds a request of an earlier owner's in it and none can still
 * claim one: released windows are IDLE or DONE (a retract is a CAS from
 * SUBMITTED, window.ts, so a retracted request can never be claimed), and
 * abandoned or dead owners' windows go through RECLAMATION. A ring position
 * may still name a released window (a retracted request's): taking it later
 * claims nothing, or the new owner's next submission, which that owner wrote
 * completely before storing SUBMITTED, run once. A claimer stores IDLE into
 * the window's state after its CAS (the word may hold an earlier owner's
 * DONE); the CAS orders that store after every write of the earlier owner
 * and of the server.
 *
 * RECLAMATION (two phases, the reaper on the server's main thread):
 *   1. collect: CAS the owner word of every window that is neither free,
 *      nor a live pid, nor already in a batch, to QUARANTINED. Then read the
 *      ring tail t0: the dead (or abandoning) owner publishes nothing more,
 *      so every request naming these windows sits at a position < t0, or at
 *      t0 itself when a producer filled slot t0 and died before moving the
 *      tail (a producer only fills the slot the tail points at).
 *   2. free, once (a) every position < t0 was taken (head >= t0) and
 *      position t0 was taken too or holds no window of the batch, and then
 *      (b) every worker's BUSY WORD was even at some check after (a), or has
 *      changed since an odd reading: that worker finished what it held. A
 *      worker that takes anything after that takes a position that cannot
 *      name a quarantined window, and a window it held then was answered.
 *   Both conditions hold on an idle server too: nothing waits for traffic.
 *   An abandoned window whose server is paused (SIGSTOP) is freed once the
 *   server runs again and its worker finishes the request.
 *
 * BUSY WORDS (region header, HDR_BUSY, one per server worker): even while
 * the worker holds no request, odd while it may. A worker makes its word
 * odd BEFORE it tries to take from the ring (so the reaper never misses a
 * request taken between its check and the store) and even after the
 * responses of everything it took are published (server/batches.ts).
 *
 * The reaper never waits for anything a client can hold: every step is a
 * CAS that succeeds or is retried on the next tick. Owner words are
 * client-writable: a foreign write can take a window out of use until the
 * reaper collects it (junk values) or free a window another client owns
 * (that client's requests may then be answered in the wrong window: the
 * trust model does not cover a same-user process lying about ownership).
 */
import { Region } from '../layout/region';
import { Ring } from './ring';
import { processAlive } from '../sync/lock';
import { OWNER_ABANDONED, OWNER_FREE, OWNER_QUARANTINED, WIN_STATE, WindowState } from '../layout/board';
import { HDR_BUSY } from '../layout/region-header';
import { BoardFullError } from '../errors';

export class Owners {
  private readonly w: Int32Array;
  private readonly owner0: number;
  private readonly state0: number;
  private readonly winWords: number;
  readonly windowCount: number;

  constructor(region: Region) {
    this.w = region.i32;
    this.owner0 = region.layout.ownerOffset >> 2;
    this.state0 = (region.layout.boardOffset + WIN_STATE) >> 2;
    this.winWords = region.layout.windowBytes >> 2;
    this.windowCount = region.layout.windowCount;
  }

  ownerOf(win: number): number {
    return Atomics.load(this.w, this.owner0 + win);
  }

  /** Windows owned by anyone, the reaper included (diagnostics, tests). */
  ownedCount(): number {
    let n = 0;
    for (let i = 0; i < this.windowCount; i++) if (Atomics.load(this.w, this.owner0 + i) !== OWNER_FREE) n++;
    return n;
  }

  /** Windows whose owner word is `pid`. */
  ownedBy(pid: number): number {
    let n = 0;
    for (let i = 0; i < this.windowCount; i++) if (Atomics.load(this.w, this.owner0 + i) === pid) n++;
    return n;
  }

  // ---- client side -------------------------------------------------------------

  /**
   * Claim `count` consecutive free windows for process `pid` (CLAIM above);
   * returns the first index, each window IDLE. BoardFullError when no run
   * of that many is free.
   */
  reserve(count: number, pid: number = process.pid): number {
    if (!Number.isInteger(count) || count < 1) throw new RangeError(`window count must be positive, got ${count}`);
    if (!(pid > 0)) throw new RangeError(`owner must be a pid, got ${pid}`);
    const w = this.w;
    let run = 0;
    for (let i = 0; i < this.windowCount; i++) {
      run = Atomics.load(w, this.owner0 + i) === OWNER_FREE ? run + 1 : 0;
      if (run < count) continue;
      const first = i - count + 1;
      let j = first;
      while (j <= i && Atomics.compareExchange(w, this.owner0 + j, OWNER_FREE, pid) === OWNER_FREE) j++;
      if (j > i) {
        for (let k = first; k <= i; k++) Atomics.store(w, this.state0 + k * this.winWords, WindowState.Idle);
        return first;
      }
      // Window j was taken under us: give back first..j-1, scan on past j.
      for (let k = first; k < j; k++) Atomics.compareExchange(w, this.owner0 + k, pid, OWNER_FREE);
      i = j;
      run = 0;
    }
    throw new BoardFullError(count, this.windowCount);
  }

  /** Give back window `win` (RELEASE: no server thread may hold a request in it). */
  release(win: number, pid: number = process.pid): void {
    Atomics.compareExchange(this.w, this.owner0 + win, pid, OWNER_FREE);
  }

  /** Hand window `win` to the reaper (ABANDON: a server thread may still answer into it). */
  abandon(win: number, pid: number = process.pid): void {
    Atomics.compareExchange(this.w, this.owner0 + win, pid, OWNER_ABANDONED);
  }

  // ---- the reaper's side -----------------------------------------------------

  /**
   * COLLECT: move every window whose owner is not free, not a live pid and
   * not `held(i)` (already in one of the caller's batches) to QUARANTINED;
   * returns them.
   */
  collect(held: (win: number) => boolean): number[] {
    const dead: number[] = [];
    const alive = new Map<number, boolean>();
    for (let i = 0; i < this.windowCount; i++) {
      const owner = Atomics.load(this.w, this.owner0 + i);
      if (owner === OWNER_FREE || (owner === OWNER_QUARANTINED && held(i))) continue;
      let ok = alive.get(owner);
      if (ok === undefined) alive.set(owner, (ok = owner > 0 && processAlive(owner)));
      if (!ok && Atomics.compareExchange(this.w, this.owner0 + i, owner, OWNER_QUARANTINED) === owner) dead.push(i);
    }
    return dead;
  }

  /** FREE the windows of a batch whose conditions hold. */
  freeQuarantined(wins: number[]): void {
    for (const i of wins) Atomics.compareExchange(this.w, this.owner0 + i, OWNER_QUARANTINED, OWNER_FREE);
  }

  /**
   * Run `use(win)` for every window nobody owns, each claimed by the reaper
   * (0 -> QUARANTINED) for the duration, so that no client reserves it
   * meanwhile. Synchronous: collect() on the same thread never sees these.
   */
  forEachFree(use: (win: number) => void): void {
    for (let i = 0; i < this.windowCount; i++) {
      if (Atomics.compareExchange(this.w, this.owner0 + i, OWNER_FREE, OWNER_QUARANTINED) !== OWNER_FREE) continue;
      try {
        use(i);
      } finally {
        Atomics.store(this.w, this.owner0 + i, OWNER_FREE);
      }
    }
  }
}

interface Batch {
  windows: number[];
  t0: number;
  /** Busy words seen odd once (a) held, by worker index; null before (a). */
  pending: Map<number, number> | null;
}

/** RECLAMATION's two phases, run by the server's reaper once per tick. */
export class Reclamation {
  private batches: Batch[] = [];
  /** Every window of every batch (what collect must leave alone). */
  private readonly held = new Set<number>();
  private readonly isHeld = (w: number): boolean => this.held.has(w);

  constructor(
    private readonly owners: Owners,
    private readonly ring: Ring,
    /** The region's words (the busy words are at HDR_BUSY). */
    private readonly words: Int32Array,
    private readonly workers: number,
  ) {}

  /** One pass: collect newly dead or abandoned windows, free the batches that are safe. */
  tick(): void {
    // Collect first, then read the tail: a client alive during collect may
    // publish and die before it returns, and its requests must sit before t0.
    const dead = this.owners.collect(this.isHeld);
    const t0 = this.ring.tail();
    if (dead.length > 0) {
      this.batches.push({ windows: dead, t0, pending: null });
      for (const w of dead) this.held.add(w);
    }
    this.batches = this.batches.filter((b) => !this.tryFree(b));
  }

  /** Windows waiting in batches (tests, diagnostics). */
  get quarantined(): number {
    return this.held.size;
  }

  private tryFree(b: Batch): boolean {
    if (b.pending === null) {
      const behind = (b.t0 - this.ring.head()) | 0;
      if (behind > 0) return false;
      if (behind === 0 && b.windows.includes(this.ring.windowAt(b.t0))) return false;
      b.pending = new Map();
      for (let i = 0; i < this.workers; i++) {
        const v = Atomics.load(this.words, (HDR_BUSY >> 2) + i);
        if (v & 1) b.pending.set(i, v);
      }
    }
    for (const [i, v] of b.pending) if (Atomics.load(this.words, (HDR_BUSY >> 2) + i) !== v) b.pending.delete(i);
    if (b.pending.size > 0) return false;
    this.owners.freeQuarantined(b.windows);
    for (const w of b.windows) this.held.delete(w);
    return true;
  }
}
