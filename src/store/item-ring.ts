/**
 * One eviction queue of one chunk (s3fifo.ts): a FIFO of queue items
 * (layout/eviction-queues.ts, QUEUE ITEM: two u32 words) in a growable
 * SharedArrayBuffer of the server process, its control words (QRING_*) in
 * the server's private state. Every method runs holding the chunk's queue
 * lock, the one lock that guards the chunk's rings and ghost: nothing here
 * is lock-free, and the lock's acquire (a seq-cst CAS) and release (a
 * seq-cst store) order every word and item, and a growth's new length, for
 * the next holder.
 *
 * POSITIONS. Items are pushed at `head` and popped at `tail`; position p
 * lives in slot p % cap. Positions stay below 2^31: once `tail` reaches
 * `cap`, every position drops by `cap` (a rebase: no slot moves).
 *
 * GROWTH. A push into a full ring grows the buffer (QRING_GROWTH, up to its
 * maximum) and moves the items that wrapped to where their positions now
 * map; at the maximum the push fails and the caller drops the item.
 * Each thread reads the items through its own fixed-length view, made
 * again when the capacity word says the buffer grew (view()).
 *
 * COMPACTION (s3fifo-tidy.ts removes the items of keys that are gone) runs
 * in passes while pushes and pops go on. Judging an item takes its
 * segment's lock, which comes before the queue lock, so a pass copies a
 * batch out under the lock, judges it without the lock, and applies the
 * verdicts under the lock again. While a pass is active the ring holds
 * [tail, write) (judged and kept, in order) and [read, head) (not judged
 * yet), with a hole [write, read) between:
 *
 *   INVARIANT  tail <= write <= read <= head,  head - tail <= cap;
 *              inactive: the items are [tail, head).
 *
 * A pop that finds [tail, write) empty skips the hole. The pass ends when
 * `read` reaches `mark` (the head when it began): what was pushed since
 * moves down after the kept items, to be judged by the next pass. `epoch`
 * changes whenever positions move under a pass (the hole skipped, a
 * rebase, a growth, the end): a batch judged under another epoch is not
 * applied (its items are still there, and are judged again).
 *
 * TICKETS. `pops` counts pops (it wraps). An item kept at position p is
 * popped by the (pops + p - tail + 1)-th pop from now: its ticket is
 * pops + p - tail, and it is still queued while ((ticket - pops) | 0) >= 0.
 * The compaction uses them to keep one item per u32 key (s3fifo-tidy.ts).
 */
import {
  QRING_ACTIVE,
  QRING_CAP,
  QRING_EPOCH,
  QRING_GROWTH,
  QRING_HEAD,
  QRING_MARK,
  QRING_MIN_ITEMS,
  QRING_POPS,
  QRING_READ,
  QRING_TAIL,
  QRING_WRITE,
  QUEUE_ITEM_WORDS,
} from '../layout/eviction-queues';

/** apply() verdicts. */
export const enum Verdict {
  Drop = 0,
  Keep = 1,
  /** Keep unless the item whose ticket is in tickets[i] is still queued. */
  KeepUnlessQueued = 2,
}

export class ItemRing {
  /** The items, as far as this thread has seen the buffer grow (view()). */
  private u32: Uint32Array;
  private readonly t: number;
  private readonly h: number;
  private readonly w: number;
  private readonly r: number;
  private readonly m: number;
  private readonly c: number;
  private readonly act: number;
  private readonly pops: number;
  private readonly ep: number;
  private readonly maxItems: number;
  /** The item pop() took last. */
  a = 0;
  b = 0;

  /**
   * @param i32 the private state's words; this ring's QRING_* words start at `base`
   * @param buf its items' growable buffer
   */
  constructor(
    private readonly i32: Int32Array,
    base: number,
    private readonly buf: SharedArrayBuffer,
  ) {
    this.u32 = new Uint32Array(buf, 0, buf.byteLength >>> 2);
    this.t = base + (QRING_TAIL >>> 2);
    this.h = base + (QRING_HEAD >>> 2);
    this.w = base + (QRING_WRITE >>> 2);
    this.r = base + (QRING_READ >>> 2);
    this.m = base + (QRING_MARK >>> 2);
    this.c = base + (QRING_CAP >>> 2);
    this.act = base + (QRING_ACTIVE >>> 2);
    this.pops = base + (QRING_POPS >>> 2);
    this.ep = base + (QRING_EPOCH >>> 2);
    this.maxItems = Math.floor(buf.maxByteLength / 4 / QUEUE_ITEM_WORDS);
  }

  /** Items queued (the hole of a pass excluded). */
  count(): number {
    const i = this.i32;
    return i[this.act] === 0 ? i[this.h] - i[this.t] : i[this.w] - i[this.t] + (i[this.h] - i[this.r]);
  }

  /** Bytes its buffer holds now. */
  bytes(): number {
    return this.buf.byteLength;
  }

  active(): boolean {
    return this.i32[this.act] !== 0;
  }

  epoch(): number {
    return this.i32[this.ep];
  }

  /** The pop counter (tickets are compared against it). */
  popCount(): number {
    return this.i32[this.pops];
  }

  /**
   * The items' view, at least as long as the capacity word says. A
   * fixed-length view, made again when another thread's growth (under the
   * queue lock, which orders it) left this one short. Not a
   * length-tracking view of the growable buffer: through one, an element
   * access measured 9-18x one through a fixed-length view on Node 20 and
   * 24, and a push or pop 22 ns against 7.6 (Node 20, 200,000 pushes then
   * pops, medians of 15).
   */
  private view(): Uint32Array {
    if (this.u32.length < this.i32[this.c] * QUEUE_ITEM_WORDS) this.u32 = new Uint32Array(this.buf, 0, this.buf.byteLength >>> 2);
    return this.u32;
  }

  private slot(p: number): number {
    return (p % this.i32[this.c]) * QUEUE_ITEM_WORDS;
  }

  /** Queue (a, b) at the head; false when the buffer is at its maximum (or cannot be grown). */
  push(a: number, b: number): boolean {
    const i = this.i32;
    if (i[this.h] - i[this.t] >= i[this.c] && !this.grow()) return false;
    const u32 = this.view();
    const s = this.slot(i[this.h]);
    u32[s] = a;
    u32[s + 1] = b;
    i[this.h]++;
    return true;
  }

  /** Take the oldest item into (a, b); false when empty. */
  pop(): boolean {
    const i = this.i32;
    const active = i[this.act] !== 0;
    if (active && i[this.t] === i[this.w]) {
      if (i[this.r] === i[this.h]) return false;
      // The kept run is used up: skip the hole.
      i[this.t] = i[this.w] = i[this.r];
      i[this.ep]++;
    }
    const t = i[this.t];
    if (t === i[this.h]) return false;
    const u32 = this.view();
    const s = this.slot(t);
    this.a = u32[s];
    this.b = u32[s + 1];
    i[this.t] = t + 1;
    i[this.pops]++;
    if (active && t + 1 > i[this.w]) {
      // Popped an item not judged yet: the pass goes on after it.
      i[this.w] = i[this.r] = t + 1;
      i[this.ep]++;
      if (i[this.r] >= i[this.m]) this.finish();
    }
    if (i[this.t] >= i[this.c]) this.rebase();
    return true;
  }

  /** Empty the ring (and end any pass). */
  reset(): void {
    const i = this.i32;
    i[this.t] = i[this.h] = i[this.w] = i[this.r] = i[this.m] = 0;
    i[this.act] = 0;
    i[this.ep]++;
  }

  /** Start a compaction pass over what is queued now (nothing when one runs). */
  begin(): void {
    const i = this.i32;
    if (i[this.act] !== 0) return;
    i[this.w] = i[this.r] = i[this.t];
    i[this.m] = i[this.h];
    i[this.act] = 1;
    i[this.ep]++;
    if (i[this.r] >= i[this.m]) this.finish();
  }

  /** Copy up to `max` unjudged items of the pass into `out` (two words each); returns how many. */
  batch(out: Uint32Array, max: number): number {
    const i = this.i32;
    if (i[this.act] === 0) return 0;
    const n = Math.min(max, i[this.m] - i[this.r], out.length / QUEUE_ITEM_WORDS);
    const u32 = this.view();
    for (let k = 0, p = i[this.r]; k < n; k++, p++) {
      const s = this.slot(p);
      out[2 * k] = u32[s];
      out[2 * k + 1] = u32[s + 1];
    }
    return n;
  }

  /**
   * Apply verdicts to the `n` items batch() gave under epoch `epoch`: kept
   * ones move down to `write`, each getting its ticket in tickets[k].
   * False (nothing done) when the epoch moved since.
   */
  apply(verdicts: Uint8Array, tickets: Int32Array, n: number, epoch: number): boolean {
    const i = this.i32;
    if (i[this.act] === 0 || i[this.ep] !== epoch) return false;
    const u32 = this.view();
    for (let k = 0; k < n; k++) {
      const v = verdicts[k];
      const from = this.slot(i[this.r]++);
      if (v === Verdict.Drop || (v === Verdict.KeepUnlessQueued && ((tickets[k] - i[this.pops]) | 0) >= 0)) {
        verdicts[k] = Verdict.Drop;
        continue;
      }
      verdicts[k] = Verdict.Keep;
      tickets[k] = (i[this.pops] + (i[this.w] - i[this.t])) | 0;
      const to = this.slot(i[this.w]++);
      u32[to] = u32[from];
      u32[to + 1] = u32[from + 1];
    }
    if (i[this.r] >= i[this.m]) this.finish();
    return true;
  }

  /** End the pass: what was pushed since it began moves down after the kept items. */
  private finish(): void {
    const i = this.i32;
    const u32 = this.view();
    let to = i[this.w];
    for (let p = i[this.r]; p < i[this.h]; p++, to++) {
      const from = this.slot(p);
      const s = this.slot(to);
      u32[s] = u32[from];
      u32[s + 1] = u32[from + 1];
    }
    i[this.h] = to;
    i[this.w] = i[this.r] = i[this.m] = to;
    i[this.act] = 0;
    i[this.ep]++;
  }

  private rebase(): void {
    const i = this.i32;
    const cap = i[this.c];
    for (const x of [this.t, this.h, this.w, this.r, this.m]) i[x] -= cap;
    i[this.ep]++;
  }

  /**
   * Grow the buffer and move the items that wrapped past the old capacity
   * to where their positions map now. False at the maximum, or when the
   * process cannot get the memory.
   */
  private grow(): boolean {
    const i = this.i32;
    const cap = i[this.c];
    const next = Math.min(this.maxItems, Math.max(cap + QRING_MIN_ITEMS, Math.ceil(cap * QRING_GROWTH)));
    if (next <= cap) return false;
    try {
      this.buf.grow(Math.max(this.buf.byteLength, next * QUEUE_ITEM_WORDS * 4));
    } catch {
      return false;
    }
    this.u32 = new Uint32Array(this.buf, 0, this.buf.byteLength >>> 2);
    if (cap > 0) {
      // tail < cap (rebase) and head <= tail + cap: positions in [cap, head)
      // sat at p - cap; now p < next maps to p, and p >= next to p - next
      // (first the former, whose slots the latter may overwrite).
      const head = i[this.h];
      const W = QUEUE_ITEM_WORDS;
      const firstEnd = Math.min(head, next);
      if (firstEnd > cap) this.u32.copyWithin(cap * W, 0, (firstEnd - cap) * W);
      if (head > next) this.u32.copyWithin(0, (next - cap) * W, (head - cap) * W);
    }
    i[this.c] = next;
    i[this.ep]++;
    return true;
  }

  /** Every queued item, oldest first, as [a, b] (tests and verification). */
  items(): Array<[number, number]> {
    const i = this.i32;
    const out: Array<[number, number]> = [];
    const u32 = this.view();
    const take = (from: number, to: number): void => {
      for (let p = from; p < to; p++) out.push([u32[this.slot(p)], u32[this.slot(p) + 1]]);
    };
    if (i[this.act] === 0) take(i[this.t], i[this.h]);
    else {
      take(i[this.t], i[this.w]);
      take(i[this.r], i[this.h]);
    }
    return out;
  }

  /** Throws when a position breaks the invariant (tests and verification). */
  check(): void {
    const i = this.i32;
    const [t, h, w, r, cap] = [i[this.t], i[this.h], i[this.w], i[this.r], i[this.c]];
    if (!(t >= 0 && t <= h && h - t <= cap && (cap === 0 || t < cap))) throw new Error(`ring positions: tail ${t}, head ${h}, cap ${cap}`);
    if (i[this.act] !== 0 && !(t <= w && w <= r && r <= h && r < i[this.m])) throw new Error(`ring pass: tail ${t} write ${w} read ${r} head ${h} mark ${i[this.m]}`);
    if (cap * QUEUE_ITEM_WORDS * 4 > this.buf.byteLength) throw new Error(`ring cap ${cap} past its buffer (${this.buf.byteLength} bytes)`);
  }
}
