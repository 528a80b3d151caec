/**
 * The request ring: a bounded MPMC queue of window indices in the region.
 * Producers are client threads (of any number of client processes),
 * consumers are server threads.
 *
 * PROTOCOL. Positions are unbounded 32-bit counters (wrapping); position p
 * lives in slot p & (capacity - 1) and belongs to lap (p / capacity) mod
 * 2^12. Each slot is ONE Int32 word:
 *
 *     lap(12 bits) | full(1 bit) | window index(19 bits)
 *
 *   EMPTY(L) : the slot is free for the position of lap L
 *   FULL(L,w): position of lap L holds window w
 *
 * Produce at tail t (slot s, lap L):
 *     word == EMPTY(L)   -> CAS word to FULL(L, w): claim and publish at once;
 *                           then CAS tail t -> t+1 (anyone may do it)
 *     word == FULL(L-1,_)-> position t - capacity is unconsumed: ring FULL
 *     otherwise          -> t was filled already (its producer may have died
 *                           before moving the tail): CAS tail t -> t+1, which
 *                           fails harmlessly if our read of t was stale
 * Consume at head h (slot s, lap L):
 *     word == FULL(L, w) -> CAS word to EMPTY(L+1): take w; CAS head h -> h+1
 *     word == EMPTY(L)   -> nothing published at h: ring EMPTY
 *     otherwise          -> h was taken already: CAS head h -> h+1 (helping,
 *                           or failing harmlessly on a stale read)
 *
 * Invariants: a slot word only moves EMPTY(L) -> FULL(L,w) -> EMPTY(L+1), by
 * CAS; tail and head only move t -> t+1 by CAS, and only after the slot of t
 * has made its move, so head <= tail <= head + capacity at every instant.
 *
 * Why one word per slot (the Vyukov and rte_ring designs claim a slot, then
 * write it, then publish it): here the request itself lives in the client's
 * window, written before the CAS, so claim and publish are a single atomic
 * step. A client killed at any instant leaves either nothing or a complete,
 * published slot; a lagging tail or head is advanced by the next thread that
 * meets it. Nothing can wedge the ring, so it needs no repair protocol.
 *
 * Memory order: the producer's plain writes to its window happen before its
 * seq-cst CAS of the slot; the consumer's CAS that takes the slot reads that
 * value, so (JS memory model, seq-cst atomics synchronize) the consumer sees
 * the whole request.
 *
 * Lap wrap-around (12 bits) cannot corrupt anything: a thread whose view is
 * 4096 laps stale and whose CAS still matches acts on a slot whose word
 * truly is in the expected state for a position inside the live window, so
 * its step is a valid step for that position.
 *
 * Blocking: producers sleep on the not-full event count, consumers on the
 * not-empty one (see EventCount for the no-lost-wake-up argument).
 *
 * CORRUPTION. The words are in a file any same-user process can write. A
 * moved counter or a forged slot can wedge the ring for good (consumers read
 * EMPTY at a head that the tail says is filled; producers read "full" at a
 * tail far from the head) while every thread sleeps politely. audit() checks
 * a snapshot against the invariants above; the server stops with a message
 * when the same violation persists (server/ring-audit.ts). Given head h and
 * tail t, the legal slot word of each position p in [h, h + capacity) is:
 *     p <  t : FULL(lap p, any w)    published, not taken
 *              or EMPTY(lap p + 1)   only at p == h: taken, head not moved
 *     p == t : EMPTY(lap p), or FULL(lap p): filled, tail not moved
 *              (or EMPTY(lap p + 1) at p == h, as above)
 *     p >  t : EMPTY(lap p)
 * and t - h is in -1..capacity (-1: the position at the tail was filled
 * and taken before anyone moved the tail). Every step of the protocol,
 * including those of threads acting on stale reads (their CAS only matches
 * a word in the expected state for its position), keeps every slot inside
 * this set while h and t hold, so one snapshot outside it, taken between
 * two equal reads of h and t, is a foreign write.
 */
import { EventCount, WaitPolicy, DEFAULT_WAIT_POLICY } from '../sync/waiter';
import { Region } from '../layout/region';
import { RING_SLOT_FULL, RING_SLOT_LAP_MASK, RING_SLOT_LAP_SHIFT, RING_SLOT_WINDOW_MASK } from '../layout/board';
import { HDR_NOT_EMPTY, HDR_NOT_EMPTY_SLEEPERS, HDR_NOT_FULL, HDR_NOT_FULL_SLEEPERS, HDR_RING_HEAD, HDR_RING_TAIL } from '../layout/region-header';

/** Returned by tryTake when the ring is empty. */
export const RING_EMPTY = -1;

export class Ring {
  private readonly w: Int32Array;
  private readonly slot0: number;
  private readonly mask: number;
  private readonly capShift: number;
  private readonly tailI: number;
  private readonly headI: number;
  readonly notEmpty: EventCount;
  readonly notFull: EventCount;

  constructor(region: Region) {
    this.w = region.i32;
    this.slot0 = region.layout.ringOffset >> 2;
    this.mask = region.layout.ringCapacity - 1;
    this.capShift = Math.log2(region.layout.ringCapacity);
    this.tailI = HDR_RING_TAIL >> 2;
    this.headI = HDR_RING_HEAD >> 2;
    this.notEmpty = new EventCount(this.w, HDR_NOT_EMPTY >> 2, HDR_NOT_EMPTY_SLEEPERS >> 2);
    this.notFull = new EventCount(this.w, HDR_NOT_FULL >> 2, HDR_NOT_FULL_SLEEPERS >> 2);
  }

  private lap(pos: number): number {
    return (pos >>> this.capShift) & RING_SLOT_LAP_MASK;
  }

  private empty(lap: number): number {
    return (lap << RING_SLOT_LAP_SHIFT) | 0;
  }

  /** Try to enqueue window `win`; false when the ring is full. */
  tryPut(win: number): boolean {
    const w = this.w;
    for (;;) {
      const t = Atomics.load(w, this.tailI);
      const i = this.slot0 + (t & this.mask);
      const lap = this.lap(t);
      const word = Atomics.load(w, i);
      const empty = this.empty(lap);
      if (word === empty) {
        if (Atomics.compareExchange(w, i, empty, empty | RING_SLOT_FULL | win) === empty) {
          Atomics.compareExchange(w, this.tailI, t, (t + 1) | 0);
          this.notEmpty.notify();
          return true;
        }
      } else if ((word & ~RING_SLOT_WINDOW_MASK) === (this.empty((lap - 1) & RING_SLOT_LAP_MASK) | RING_SLOT_FULL)) {
        if (Atomics.load(w, this.tailI) === t) return false;
      } else {
        // Position t was already filled (and maybe consumed): help the tail
        // on. If our read of the tail was stale, this CAS simply fails.
        Atomics.compareExchange(w, this.tailI, t, (t + 1) | 0);
      }
    }
  }

  /** Try to dequeue; the window index, or RING_EMPTY. */
  tryTake(): number {
    const w = this.w;
    for (;;) {
      const h = Atomics.load(w, this.headI);
      const i = this.slot0 + (h & this.mask);
      const lap = this.lap(h);
      const word = Atomics.load(w, i);
      const full = this.empty(lap) | RING_SLOT_FULL;
      if ((word & ~RING_SLOT_WINDOW_MASK) === full) {
        if (Atomics.compareExchange(w, i, word, this.empty((lap + 1) & RING_SLOT_LAP_MASK)) === word) {
          Atomics.compareExchange(w, this.headI, h, (h + 1) | 0);
          this.notFull.notify();
          return word & RING_SLOT_WINDOW_MASK;
        }
      } else if (word === this.empty(lap)) {
        if (Atomics.load(w, this.headI) === h) return RING_EMPTY;
      } else {
        // Position h was already taken: help the head on (fails if stale).
        Atomics.compareExchange(w, this.headI, h, (h + 1) | 0);
      }
    }
  }

  /** Enqueue, blocking while full. `onIdle` runs between sleeps and may throw. */
  put(win: number, policy: WaitPolicy = DEFAULT_WAIT_POLICY, onIdle?: () => void): void {
    if (this.tryPut(win)) return;
    this.notFull.await(() => this.tryPut(win), policy, onIdle);
  }

  /** Dequeue, blocking while empty. `onIdle` may throw to give up. */
  take(policy: WaitPolicy = DEFAULT_WAIT_POLICY, onIdle?: () => void): number {
    let got = this.tryTake();
    if (got !== RING_EMPTY) return got;
    this.notEmpty.await(() => (got = this.tryTake()) !== RING_EMPTY, policy, onIdle);
    return got;
  }

  /**
   * The window published at position `pos` if it is still there (FULL for
   * pos's lap), else RING_EMPTY. For the window reaper.
   */
  windowAt(pos: number): number {
    const word = Atomics.load(this.w, this.slot0 + (pos & this.mask));
    if ((word & ~RING_SLOT_WINDOW_MASK) !== (this.empty(this.lap(pos)) | RING_SLOT_FULL)) return RING_EMPTY;
    return word & RING_SLOT_WINDOW_MASK;
  }

  /** Current head position (consumers' progress), for the window reaper. */
  head(): number {
    return Atomics.load(this.w, this.headI);
  }

  tail(): number {
    return Atomics.load(this.w, this.tailI);
  }

  /**
   * Check the ring against its invariants (see CORRUPTION above). Returns
   * null when head or tail moved during the check (inconclusive), else the
   * snapshot's head, tail and the first violation found (null: none).
   */
  audit(): { head: number; tail: number; problem: string | null } | null {
    const w = this.w;
    const h = Atomics.load(w, this.headI);
    const t = Atomics.load(w, this.tailI);
    const cap = this.mask + 1;
    const d = (t - h) | 0;
    let problem: string | null = null;
    if (d < -1 || d > cap) problem = `head ${h >>> 0} and tail ${t >>> 0} are ${d} apart (capacity ${cap})`;
    for (let k = 0; problem === null && k < cap; k++) {
      const p = (h + k) | 0;
      const word = Atomics.load(w, this.slot0 + (p & this.mask));
      const lap = this.lap(p);
      const rel = (p - t) | 0;
      const taken = k === 0 && word === this.empty((lap + 1) & RING_SLOT_LAP_MASK);
      const ok =
        taken ||
        (rel < 0 && (word & ~RING_SLOT_WINDOW_MASK) === (this.empty(lap) | RING_SLOT_FULL)) ||
        (rel === 0 && (word === this.empty(lap) || (word & ~RING_SLOT_WINDOW_MASK) === (this.empty(lap) | RING_SLOT_FULL))) ||
        (rel > 0 && word === this.empty(lap));
      if (!ok)
        problem = `head ${h >>> 0}, tail ${t >>> 0}: the slot of position ${p >>> 0} holds 0x${(word >>> 0).toString(16)}, which no ring operation leaves there`;
    }
    if (Atomics.load(w, this.headI) !== h || Atomics.load(w, this.tailI) !== t) return null;
    return { head: h, tail: t, problem };
  }

  /** Requests published and not yet taken (approximate under concurrency). */
  size(): number {
    return (this.tail() - this.head()) | 0;
  }
}
