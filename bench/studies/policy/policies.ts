/**
 * Exact LRU, CLOCK and SIEVE as count-based caches (bench/studies/policy/list.ts has
 * the interface). S3-FIFO is in s3fifo.ts, the store-shaped CLOCK variant in
 * clock-hash.ts.
 *
 * Hit paths are written the way the real store would have to do them: LRU
 * relinks (the one that would need a lock and cross-core writes), the others
 * read the flag and store it only when it changes, so a hot entry's header
 * cache line stays shared between cores instead of bouncing.
 */
import { checkCapacity, List, Policy, SlotIndex } from './list';

/** Exact LRU: a hit moves the entry to the head, a miss evicts the tail. */
export class Lru implements Policy {
  readonly name = 'LRU';
  private readonly index: SlotIndex;
  private readonly list: List;
  private used = 0;

  constructor(
    readonly capacity: number,
    keySpace: number,
  ) {
    checkCapacity(capacity, keySpace);
    this.index = new SlotIndex(capacity, keySpace);
    this.list = List.create(capacity);
  }

  get size(): number {
    return this.list.length;
  }

  has(key: number): boolean {
    return this.index.slotOf[key] >= 0;
  }

  access(key: number): boolean {
    const list = this.list;
    const s = this.index.slotOf[key];
    if (s >= 0) {
      if (s !== list.head) {
        list.remove(s);
        list.pushHead(s);
      }
      return true;
    }
    let slot: number;
    if (this.used < this.capacity) slot = this.used++;
    else {
      slot = list.tail;
      list.remove(slot);
      this.index.unbind(slot);
    }
    this.index.bind(slot, key);
    list.pushHead(slot);
    return false;
  }

  replay(keys: Uint32Array, from: number, to: number): number {
    let misses = 0;
    for (let i = from; i < to; i++) if (!this.access(keys[i])) misses++;
    return misses;
  }
}

/**
 * CLOCK (second chance): slots in a ring, a hand, one reference bit. A new
 * entry takes the slot the hand just freed, so it is the last the hand will
 * reach: CLOCK is FIFO with reinsertion of referenced entries. New entries
 * start unreferenced (as in libCacheSim's Clock), so a key must be hit once
 * after admission to survive one sweep.
 */
export class Clock implements Policy {
  readonly name = 'CLOCK';
  private readonly index: SlotIndex;
  private readonly ref: Uint8Array;
  private hand = 0;
  private used = 0;

  constructor(
    readonly capacity: number,
    keySpace: number,
  ) {
    checkCapacity(capacity, keySpace);
    this.index = new SlotIndex(capacity, keySpace);
    this.ref = new Uint8Array(capacity);
  }

  get size(): number {
    return this.used;
  }

  has(key: number): boolean {
    return this.index.slotOf[key] >= 0;
  }

  access(key: number): boolean {
    const s = this.index.slotOf[key];
    if (s >= 0) {
      if (this.ref[s] === 0) this.ref[s] = 1;
      return true;
    }
    let slot: number;
    if (this.used < this.capacity) slot = this.used++;
    else {
      const ref = this.ref;
      const cap = this.capacity;
      let h = this.hand;
      // Terminates: each step clears a bit, so within one lap a clear one is found.
      while (ref[h] !== 0) {
        ref[h] = 0;
        if (++h === cap) h = 0;
      }
      slot = h;
      this.index.unbind(slot);
      this.hand = h + 1 === cap ? 0 : h + 1;
    }
    this.index.bind(slot, key);
    this.ref[slot] = 0;
    return false;
  }

  replay(keys: Uint32Array, from: number, to: number): number {
    let misses = 0;
    for (let i = from; i < to; i++) if (!this.access(keys[i])) misses++;
    return misses;
  }
}

/**
 * SIEVE (Zhang et al., NSDI 2024): one FIFO list (new entries at the head), a
 * visited bit, and a hand that walks from the tail toward the head, clearing
 * visited bits and evicting the first unvisited entry. Unlike CLOCK, a
 * survivor keeps its place in the list and the hand keeps its position
 * between evictions, so new entries (at the head) are examined before old
 * survivors get a second look: "quick demotion" of one-hit wonders.
 */
export class Sieve implements Policy {
  readonly name = 'SIEVE';
  private readonly index: SlotIndex;
  private readonly list: List;
  private readonly visited: Uint8Array;
  /** Next eviction candidate; -1 = start from the tail. */
  private hand = -1;
  private used = 0;

  constructor(
    readonly capacity: number,
    keySpace: number,
  ) {
    checkCapacity(capacity, keySpace);
    this.index = new SlotIndex(capacity, keySpace);
    this.list = List.create(capacity);
    this.visited = new Uint8Array(capacity);
  }

  get size(): number {
    return this.list.length;
  }

  has(key: number): boolean {
    return this.index.slotOf[key] >= 0;
  }

  access(key: number): boolean {
    const s = this.index.slotOf[key];
    if (s >= 0) {
      if (this.visited[s] === 0) this.visited[s] = 1;
      return true;
    }
    const slot = this.used < this.capacity ? this.used++ : this.evict();
    this.index.bind(slot, key);
    this.visited[slot] = 0;
    this.list.pushHead(slot);
    return false;
  }

  private evict(): number {
    const list = this.list;
    const visited = this.visited;
    let o = this.hand >= 0 ? this.hand : list.tail;
    while (visited[o] !== 0) {
      visited[o] = 0;
      o = list.newer[o];
      if (o < 0) o = list.tail; // past the head: wrap to the tail
    }
    // The hand stays where the victim was (its newer neighbour), not at the tail.
    this.hand = list.newer[o];
    list.remove(o);
    this.index.unbind(o);
    return o;
  }

  replay(keys: Uint32Array, from: number, to: number): number {
    let misses = 0;
    for (let i = from; i < to; i++) if (!this.access(keys[i])) misses++;
    return misses;
  }
}
