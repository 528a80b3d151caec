/**
 * S3-FIFO (Yang et al., SOSP 2023, "FIFO queues are all you need for cache
 * eviction"): a small FIFO S (10% of the entries) that new keys enter, a main
 * FIFO M (90%) run as a CLOCK with a 2-bit counter, and a ghost FIFO G of
 * keys recently evicted from S (as many as M holds).
 *
 * - hit: freq = min(freq + 1, maxFreq), maxFreq = 3 (2 bits). In the store
 *   this is a racy read and a plain byte store by the reader, so concurrent
 *   hits may lose increments; the simulation is single-threaded, loses none.
 * - miss: a key found in G goes straight to M, any other key to S.
 * - eviction: from M when M is over its share (or S is empty), else from S.
 *   S's tail moves to M (counter cleared) when its freq >= moveThreshold,
 *   otherwise it is evicted into G. M's tail with freq > 0 is reinserted at
 *   M's head with freq - 1, otherwise evicted.
 *
 * moveThreshold defaults to 2, the paper's Algorithm 1 ("if t.freq > 1") and
 * libCacheSim's default; the run also reports threshold 1 ("accessed at
 * least once"), which is what the paper's prose and several ports use, and
 * a 1-bit variant (maxFreq 1, threshold 1) whose hit is exactly SIEVE's and
 * CLOCK's: one store of a flag, no read-modify-write by readers at all.
 * Moving S's tail to M does not evict from M on the spot (libCacheSim's
 * structure): M may run one over its share until the next eviction, which
 * keeps it to exactly one eviction per miss once full.
 *
 * The ghost is what the paper suggests for a real implementation: a stamp
 * per key (the ghost-insertion count when it entered) instead of a queue;
 * a key is in G while fewer than ghostCapacity keys entered after it. A
 * ghost hit clears the stamp, which (unlike a linked ghost queue) does not
 * give the slot back to older ghosts: they age out at the same time anyway.
 */
import { checkCapacity, List, Policy, SlotIndex } from './list';

export const S3FIFO_SMALL_RATIO = 0.1;

export class S3Fifo implements Policy {
  readonly name: string;
  readonly smallCapacity: number;
  readonly mainCapacity: number;
  readonly ghostCapacity: number;
  private readonly index: SlotIndex;
  private readonly small: List;
  private readonly main: List;
  private readonly freq: Uint8Array;
  /** Ghost-insertion count at which the key entered G, or -1. */
  private readonly ghostStamp: Int32Array;
  private ghostClock = 0;
  /** Slots never used yet, then a stack of freed ones. */
  private used = 0;
  private readonly free: Int32Array;
  private freeTop = 0;

  constructor(
    readonly capacity: number,
    keySpace: number,
    readonly moveThreshold = 2,
    readonly maxFreq = 3,
  ) {
    checkCapacity(capacity, keySpace);
    if (!(moveThreshold >= 1 && moveThreshold <= maxFreq)) throw new RangeError('need 1 <= moveThreshold <= maxFreq');
    this.name = maxFreq === 1 ? 'S3-FIFO(1 bit)' : moveThreshold === 2 ? 'S3-FIFO' : `S3-FIFO(t=${moveThreshold})`;
    this.smallCapacity = Math.max(1, Math.floor(capacity * S3FIFO_SMALL_RATIO));
    this.mainCapacity = Math.max(1, capacity - this.smallCapacity);
    this.ghostCapacity = this.mainCapacity;
    this.index = new SlotIndex(capacity, keySpace);
    const older = new Int32Array(capacity);
    const newer = new Int32Array(capacity);
    this.small = new List(older, newer);
    this.main = new List(older, newer);
    this.freq = new Uint8Array(capacity);
    this.ghostStamp = new Int32Array(keySpace).fill(-1);
    this.free = new Int32Array(capacity);
  }

  get size(): number {
    return this.small.length + this.main.length;
  }

  has(key: number): boolean {
    return this.index.slotOf[key] >= 0;
  }

  /** Whether the key is in the ghost queue now (for tests). */
  inGhost(key: number): boolean {
    const st = this.ghostStamp[key];
    return st >= 0 && this.ghostClock - st < this.ghostCapacity;
  }

  access(key: number): boolean {
    const s = this.index.slotOf[key];
    if (s >= 0) {
      const f = this.freq[s];
      if (f < this.maxFreq) this.freq[s] = f + 1;
      return true;
    }
    while (this.small.length + this.main.length >= this.capacity) this.evict();
    const slot = this.used < this.capacity ? this.used++ : this.free[--this.freeTop];
    this.index.bind(slot, key);
    this.freq[slot] = 0;
    if (this.inGhost(key)) {
      this.ghostStamp[key] = -1;
      this.main.pushHead(slot);
    } else this.small.pushHead(slot);
    return false;
  }

  private evict(): void {
    if (this.main.length > this.mainCapacity || this.small.length === 0) this.evictMain();
    else this.evictSmall();
  }

  /** Evict one entry of S into G, promoting referenced ones to M on the way (may evict none). */
  private evictSmall(): void {
    const small = this.small;
    while (small.length > 0) {
      const t = small.tail;
      small.remove(t);
      if (this.freq[t] >= this.moveThreshold) {
        this.freq[t] = 0;
        this.main.pushHead(t);
      } else {
        this.ghostStamp[this.index.keyOf[t]] = ++this.ghostClock;
        this.release(t);
        return;
      }
    }
  }

  /** Evict one entry of M, reinserting the referenced ones with one count less. */
  private evictMain(): void {
    const main = this.main;
    const freq = this.freq;
    for (;;) {
      const t = main.tail;
      main.remove(t);
      const f = freq[t];
      if (f > 0) {
        freq[t] = f - 1;
        main.pushHead(t);
      } else {
        this.release(t);
        return;
      }
    }
  }

  private release(slot: number): void {
    this.index.unbind(slot);
    this.free[this.freeTop++] = slot;
  }

  replay(keys: Uint32Array, from: number, to: number): number {
    let misses = 0;
    for (let i = from; i < to; i++) if (!this.access(keys[i])) misses++;
    return misses;
  }
}
