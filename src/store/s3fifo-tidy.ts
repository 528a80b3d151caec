/**
 * Upkeep of the S3-FIFO queues (s3fifo.ts) off the request path:
 *
 * COMPACTION. Evictors drop stale items (keys deleted, expired, cleared,
 * evicted by CLOCK) only when they pop them, and below the cap nothing
 * pops: a table that keeps deleting and inserting would grow its queues
 * without bound. So the server's main thread (every heartbeat tick, a
 * bounded number of items) watches each chunk, and when its queues hold
 * more than TIDY_ITEMS_PER_KEY items per key of the chunk (plus
 * TIDY_SLACK_ITEMS), runs a compaction pass over both rings (item-ring.ts,
 * COMPACTION): batches copied out under the queue lock, each item judged
 * by locating its key under its segment's lock (never both locks: the
 * segment lock comes first in the lock order), verdicts applied under the
 * queue lock. Kept items keep their order. A u32 key may have several
 * valid items (s3fifo.ts, INVARIANT): the pass keeps its first, unless
 * that one has left the ring meanwhile (its ticket says), so each ring
 * ends with at most one item per key.
 *
 * REBUILD. A warm restart adopts the table, not the queues (they were in
 * the dead server's memory): rebuildQueues() queues every key again, u32
 * keys first (their slots carry no stamp: index order), then the others
 * by stamp, i.e. by insertion, oldest first (stamps wrap: the order starts
 * after the widest gap between two stamps); the newest SMALL_RATIO of them
 * into S, the rest into M; the ghost empty; visited flags start clear (the
 * exchange file is new). The chunk's stamps go on after the newest.
 */
import { QueueHost, SMALL_RATIO } from './s3fifo-queues';
import { Verdict } from './item-ring';
import { hashU32Key, readU32LE } from './keys';
import { Segments } from './segments';
import { TIDY_ITEMS_PER_KEY, TIDY_SLACK_ITEMS } from '../layout/eviction-queues';
import { ENTRY_HEADER_BYTES, ENTRY_INLINE, ENTRY_STAMP, IX_ENTRY, IX_HASH, IX_KEY, IX_WORDS } from '../layout/heap';
import { KeyKind } from '../layout/keys-values';

/** Items judged per hold of the queue lock. */
const BATCH = 256;

/** u32 key -> ticket, open addressing (a pass over a big u32 table holds many: no Map of objects). */
class TicketMap {
  private keys = new Uint32Array(64);
  private tickets = new Int32Array(64);
  private used = new Uint8Array(64);
  private size = 0;

  private find(key: number): number {
    const mask = this.keys.length - 1;
    let i = Math.imul(key, 0x9e3779b1) >>> 0 & mask;
    while (this.used[i] !== 0 && this.keys[i] !== key) i = (i + 1) & mask;
    return i;
  }

  /** The ticket of `key`, or undefined. */
  get(key: number): number | undefined {
    const i = this.find(key);
    return this.used[i] !== 0 ? this.tickets[i] : undefined;
  }

  set(key: number, ticket: number): void {
    let i = this.find(key);
    if (this.used[i] === 0) {
      if (2 * (this.size + 1) > this.keys.length) {
        this.grow();
        i = this.find(key);
      }
      this.used[i] = 1;
      this.keys[i] = key;
      this.size++;
    }
    this.tickets[i] = ticket;
  }

  private grow(): void {
    const { keys, tickets, used } = this;
    this.keys = new Uint32Array(keys.length * 2);
    this.tickets = new Int32Array(keys.length * 2);
    this.used = new Uint8Array(keys.length * 2);
    this.size = 0;
    for (let i = 0; i < keys.length; i++) if (used[i] !== 0) this.set(keys[i], tickets[i]);
  }
}

export class QueueTidy {
  private readonly items = new Uint32Array(2 * BATCH);
  private readonly verdicts = new Uint8Array(BATCH);
  private readonly tickets = new Int32Array(BATCH);
  /** Per chunk and ring (2c: S, 2c + 1: M): the u32 keys a running pass kept. */
  private readonly kept: Array<TicketMap | null>;
  private next = 0;

  constructor(private readonly s3: QueueHost) {
    this.kept = s3.queues.flatMap(() => [null, null]);
  }

  /** Judge up to `budget` items in the chunks that need it; returns how many were judged. */
  tidy(budget: number): number {
    const queues = this.s3.queues;
    let judged = 0;
    for (let n = 0; n < queues.length && judged < budget; n++) {
      const c = this.next;
      const q = queues[c];
      q.lock.lock();
      try {
        if (!q.small.active() && !q.main.active() && q.small.count() + q.main.count() > TIDY_ITEMS_PER_KEY * this.keysIn(c) + TIDY_SLACK_ITEMS) {
          q.small.begin();
          q.main.begin();
        }
      } finally {
        q.lock.unlock();
      }
      for (let r = 0; r < 2 && judged < budget; r++) {
        for (;;) {
          const step = this.step(c, r);
          judged += step;
          if (step === 0 || judged >= budget) break;
        }
      }
      // A chunk left with budget to spare is done for now; else it goes on next time.
      if (judged < budget) this.next = (c + 1) % queues.length;
    }
    return judged;
  }

  /** Keys in chunk `c` (its segments' counts). */
  private keysIn(c: number): number {
    const segs = this.s3.segs;
    let keys = 0;
    for (let s = c; s < segs.segments; s += segs.chunks.length) keys += segs.countOf(s);
    return keys;
  }

  /** One batch of ring `r` (0: S, 1: M) of chunk `c`: the items judged (0 when no pass runs). */
  private step(c: number, r: number): number {
    const q = this.s3.queues[c];
    const ring = r === 0 ? q.small : q.main;
    let n: number;
    let epoch: number;
    q.lock.lock();
    try {
      n = ring.batch(this.items, BATCH);
      epoch = ring.epoch();
    } finally {
      q.lock.unlock();
    }
    if (n === 0) {
      this.kept[2 * c + r] = null;
      return 0;
    }
    const kept = (this.kept[2 * c + r] ??= new TicketMap());
    const inBatch = new Set<number>();
    for (let k = 0; k < n; k++) {
      const a = this.items[2 * k];
      const b = this.items[2 * k + 1];
      if (!this.present(c, a, b)) this.verdicts[k] = Verdict.Drop;
      else if (b !== 0) this.verdicts[k] = Verdict.Keep;
      else if (inBatch.has(a)) this.verdicts[k] = Verdict.Drop;
      else {
        inBatch.add(a);
        const t = kept.get(a);
        this.verdicts[k] = t === undefined ? Verdict.Keep : Verdict.KeepUnlessQueued;
        this.tickets[k] = t ?? 0;
      }
    }
    let applied: boolean;
    let done: boolean;
    q.lock.lock();
    try {
      applied = ring.apply(this.verdicts, this.tickets, n, epoch);
      done = !ring.active();
    } finally {
      q.lock.unlock();
    }
    if (applied) for (let k = 0; k < n; k++) if (this.items[2 * k + 1] === 0 && this.verdicts[k] === Verdict.Keep) kept.set(this.items[2 * k], this.tickets[k]);
    if (done) this.kept[2 * c + r] = null;
    return n;
  }

  /** Whether the key item (a, b) names is in the table (under its segment's lock). */
  private present(c: number, a: number, b: number): boolean {
    const segs = this.s3.segs;
    const hash = b === 0 ? hashU32Key(a, segs.seed) : a;
    const seg = segs.segmentOf(hash);
    if ((seg & (segs.chunks.length - 1)) !== c) return false;
    const lock = segs.locks[seg];
    lock.lock();
    try {
      return this.s3.locate(seg, a, b, hash) >= 0;
    } finally {
      lock.unlock();
    }
  }
}

/**
 * Queue every key of every chunk again (a table adopted after a restart):
 * the rings and ghosts are emptied first. Each segment is read under its
 * lock. Returns the items queued.
 */
export function rebuildQueues(s3: QueueHost): number {
  const segs = s3.segs;
  let total = 0;
  for (let c = 0; c < segs.chunks.length; c++) {
    const { u32s, hashes, stamps, count } = collect(segs, c);
    const order = circularOrder(stamps, count);
    const q = s3.queues[c];
    const items = u32s.length + count;
    const toSmall = Math.floor(items * SMALL_RATIO);
    q.lock.lock();
    try {
      q.small.reset();
      q.main.reset();
      q.ghost.reset();
      let k = 0;
      const push = (a: number, b: number): void => void (k++ < items - toSmall ? q.main.push(a, b) : q.small.push(a, b));
      for (const key of u32s) push(key, 0);
      for (let i = 0; i < count; i++) push(hashes[order[i]], stamps[order[i]]);
      q.ghost.fit(q.main.count());
    } finally {
      q.lock.unlock();
    }
    if (count > 0) segs.allocs[c].stampAfter(stamps[order[count - 1]]);
    total += items;
  }
  return total;
}

/** Chunk `c`'s keys: u32 keys (index order), and the others' hashes and stamps (System keys left out). */
function collect(segs: Segments, c: number): { u32s: number[]; hashes: Uint32Array; stamps: Uint32Array; count: number } {
  const ch = segs.chunks[c];
  const u32 = ch.u32;
  const u32s: number[] = [];
  let keys = 0;
  for (let s = c; s < segs.segments; s += segs.chunks.length) keys += segs.countOf(s);
  let hashes = new Uint32Array(keys);
  let stamps = new Uint32Array(keys);
  let count = 0;
  for (let seg = c; seg < segs.segments; seg += segs.chunks.length) {
    const lock = segs.locks[seg];
    lock.lock();
    try {
      const index = segs.indexOf(seg);
      const cap = segs.capacityOf(seg);
      for (let i = 0; i < cap; i++) {
        const s = (index >>> 2) + IX_WORDS * i;
        const e = u32[s + (IX_ENTRY >>> 2)];
        if (e === 0) continue;
        if (e === ENTRY_INLINE) {
          u32s.push(u32[s + (IX_KEY >>> 2)]);
          continue;
        }
        if (!ch.entryOk(e)) continue;
        const kind = ch.u8[e + ENTRY_HEADER_BYTES];
        if (kind === KeyKind.System) continue;
        if (kind === KeyKind.U32) {
          u32s.push(readU32LE(ch.u8, e + ENTRY_HEADER_BYTES + 1));
          continue;
        }
        const stamp = u32[(e + ENTRY_STAMP) >>> 2];
        if (stamp === 0) continue;
        if (count === hashes.length) {
          // Counts can be off (a forged mirror is not read here, but be safe).
          hashes = grown(hashes);
          stamps = grown(stamps);
        }
        hashes[count] = u32[s + (IX_HASH >>> 2)];
        stamps[count] = stamp;
        count++;
      }
    } finally {
      lock.unlock();
    }
  }
  return { u32s, hashes, stamps, count };
}

function grown(a: Uint32Array): Uint32Array<ArrayBuffer> {
  const b = new Uint32Array(Math.max(16, a.length * 2));
  b.set(a);
  return b;
}

/**
 * Indexes of stamps[0, n) from oldest to newest: sorted (a radix sort,
 * two passes of 16 bits), then rotated to start after the widest gap
 * between neighbours, the wrap from the largest back to the smallest
 * included (stamps are a sequence modulo 2^32).
 */
export function circularOrder(stamps: Uint32Array, n: number): Uint32Array {
  let order = new Uint32Array(n);
  for (let i = 0; i < n; i++) order[i] = i;
  let tmp = new Uint32Array(n);
  for (const shift of [0, 16]) {
    const counts = new Uint32Array(65537);
    for (let i = 0; i < n; i++) counts[((stamps[order[i]] >>> shift) & 0xffff) + 1]++;
    for (let d = 1; d <= 65536; d++) counts[d] += counts[d - 1];
    for (let i = 0; i < n; i++) tmp[counts[(stamps[order[i]] >>> shift) & 0xffff]++] = order[i];
    [order, tmp] = [tmp, order];
  }
  if (n < 2) return order;
  let start = 0;
  let widest = stamps[order[0]] + 2 ** 32 - stamps[order[n - 1]];
  for (let i = 1; i < n; i++) {
    const gap = stamps[order[i]] - stamps[order[i - 1]];
    if (gap > widest) {
      widest = gap;
      start = i;
    }
  }
  if (start === 0) return order;
  const out = new Uint32Array(n);
  out.set(order.subarray(start));
  out.set(order.subarray(0, start), n - start);
  return out;
}
