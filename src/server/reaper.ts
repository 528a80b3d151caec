/**
 * Reclaiming the windows of client processes that died without releasing
 * them (SIGKILL, crash).
 *
 * A dead client's windows may still be named by requests in the ring, or be
 * held by a server thread that is executing one; such a thread will write a
 * response into the window. Handing the window to a new client before that
 * write lands would let a stale response complete the new client's request.
 * So reclamation is two-phase:
 *
 *   1. collect: under the board lock, windows whose owner pid is dead move to
 *      owner QUARANTINED (no reservation can take them). Record t0, the ring
 *      tail at that moment: the dead process can publish nothing more, so
 *      every request naming these windows sits at a position < t0, or at t0
 *      itself when the dead producer filled slot t0 and died before moving
 *      the tail (a producer only fills the slot the tail points at).
 *   2. free, once (a) every position < t0 was taken (head >= t0) and
 *      position t0 was taken too or holds no window of the batch, and then
 *      (b) every worker's busy word was even at some check after (a), or has
 *      changed since an odd reading: that worker finished what it held. A
 *      worker that takes anything after that takes a position that cannot
 *      name a quarantined window.
 *   Both conditions hold on an idle server too: nothing waits for traffic.
 *
 * The reaper runs on the server's main thread, which must never block on
 * anything a client can hold: both steps only try the board lock (taking it
 * over from a dead or zombie holder) and otherwise retry on the next tick.
 * A client stopped while holding the lock thus delays reclamation, never
 * the heartbeat or shutdown. Windows whose owner word holds QUARANTINED but
 * that belong to no batch (a foreign write) are collected like dead ones.
 */
import { Board } from '../transport/board';
import { Ring } from '../transport/ring';
import { HDR_BUSY } from '../layout/layout';
import type { Staging } from './staging';

/** Owner value of a window waiting to be reclaimed. */
export const QUARANTINED = -1;

interface Batch {
  windows: number[];
  t0: number;
  /** Busy words seen odd once (a) held, by worker index; null before (a). */
  pending: Map<number, number> | null;
}

export class Reaper {
  private batches: Batch[] = [];
  /** Every window of every batch (what collectDead must leave alone). */
  private readonly held = new Set<number>();

  constructor(
    private readonly board: Board,
    private readonly ring: Ring,
    private readonly words: Int32Array,
    private readonly workers: number,
    private readonly staging: Staging,
  ) {}

  /** One pass: collect newly dead owners, free batches that are safe. */
  tick(): void {
    // Collect first, then read the tail: a client alive during collectDead
    // may publish and die before it returns, and its requests must sit
    // before t0.
    const dead = this.board.collectDead(process.pid, QUARANTINED, (w) => this.held.has(w));
    const t0 = this.ring.tail();
    if (dead !== null && dead.length > 0) {
      this.batches.push({ windows: dead, t0, pending: null });
      for (const w of dead) this.held.add(w);
    }
    this.batches = this.batches.filter((b) => !this.tryFree(b));
    // Staging blocks of windows nobody owns go back to the heap (under the
    // board lock: no client can reserve such a window meanwhile, and none
    // has a request in flight in it: a client releases its windows only
    // after their last answers, and a dead client's windows are freed above
    // only once no worker can still hold them).
    if (this.staging.held() > 0) this.board.forEachFree(process.pid, (w) => this.staging.release(w));
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
    if (!this.board.freeQuarantined(process.pid, b.windows, QUARANTINED)) return false;
    for (const w of b.windows) this.held.delete(w);
    return true;
  }
}
