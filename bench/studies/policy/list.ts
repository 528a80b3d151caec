/**
 * Shared plumbing for the policy simulations (bench/studies/policy/): the common
 * interface, a key -> slot index, and an intrusive doubly linked list over
 * slot numbers.
 *
 * Everything is typed arrays indexed by small integers rather than Maps and
 * objects: the simulation replays millions of requests per (policy, trace,
 * size) cell, and a Map lookup plus an object per entry would make the run
 * take minutes and make the throughput column measure the garbage collector.
 * Keys are therefore integers in [0, keySpace), which the trace generators
 * guarantee (bench/studies/policy/traces.ts).
 */

/** A count-based cache: `capacity` entries of any key, no values. */
export interface Policy {
  readonly name: string;
  readonly capacity: number;
  /** Entries resident now; never more than `capacity`. */
  readonly size: number;
  /** One request: true on a hit; on a miss the key is admitted (evicting as needed). */
  access(key: number): boolean;
  /** Residency, without touching any policy state (for tests). */
  has(key: number): boolean;
  /**
   * access() over keys[from, to), returning the number of misses. Each class
   * has its own copy of this loop on purpose: one shared loop calling
   * access() on five classes would be a megamorphic call site, and the
   * throughput column would measure V8's dispatch instead of the policies.
   */
  replay(keys: Uint32Array, from: number, to: number): number;
}

export type PolicyFactory = (capacity: number, keySpace: number) => Policy;

/** Key -> slot number (or -1), with the reverse map slot -> key. */
export class SlotIndex {
  readonly slotOf: Int32Array;
  readonly keyOf: Int32Array;

  constructor(capacity: number, keySpace: number) {
    this.slotOf = new Int32Array(keySpace).fill(-1);
    this.keyOf = new Int32Array(capacity).fill(-1);
  }

  bind(slot: number, key: number): void {
    this.slotOf[key] = slot;
    this.keyOf[slot] = key;
  }

  /** Forget the key held in `slot` (the slot itself is the caller's to reuse). */
  unbind(slot: number): void {
    this.slotOf[this.keyOf[slot]] = -1;
    this.keyOf[slot] = -1;
  }
}

/**
 * A doubly linked list of slots, head = newest, tail = oldest. Several lists
 * may share the link arrays (S3-FIFO's small and main queues) because a slot
 * is in at most one list at a time.
 */
export class List {
  head = -1;
  tail = -1;
  length = 0;

  /** older[s]: the next slot toward the tail; newer[s]: toward the head. */
  constructor(
    readonly older: Int32Array,
    readonly newer: Int32Array,
  ) {}

  static create(capacity: number): List {
    return new List(new Int32Array(capacity), new Int32Array(capacity));
  }

  pushHead(s: number): void {
    this.older[s] = this.head;
    this.newer[s] = -1;
    if (this.head >= 0) this.newer[this.head] = s;
    else this.tail = s;
    this.head = s;
    this.length++;
  }

  remove(s: number): void {
    const o = this.older[s];
    const n = this.newer[s];
    if (n >= 0) this.older[n] = o;
    else this.head = o;
    if (o >= 0) this.newer[o] = n;
    else this.tail = n;
    this.length--;
  }
}

export function checkCapacity(capacity: number, keySpace: number): void {
  if (!Number.isInteger(capacity) || capacity < 1) throw new RangeError(`capacity must be a positive integer, got ${capacity}`);
  if (!Number.isInteger(keySpace) || keySpace < 1) throw new RangeError(`keySpace must be a positive integer, got ${keySpace}`);
}
