/**
 * CLOCK as the store could run it with no extra metadata: the hand sweeps the
 * table's index (its slots in hash order, segment after segment) instead of a
 * ring in insertion order, and a new key lands at its hash position, not just
 * behind the hand. So a new entry is reached by the hand after a random
 * fraction of a lap rather than after a full one: the only difference from
 * textbook CLOCK, and the one this simulation is here to price.
 *
 * Hash order is modelled by a seeded random permutation of the key space
 * (pos[key]); residency is a bitmap over positions, and the hand finds the
 * next resident position with Math.clz32 over 32-bit words, like a sweep that
 * skips empty index slots. Reference bits are per position.
 */
import { rng } from '../../../src/workload/generate';
import { checkCapacity, Policy } from './list';

export class ClockHash implements Policy {
  readonly name = 'CLOCK-hash';
  private readonly pos: Int32Array;
  private readonly bits: Uint32Array;
  private readonly ref: Uint8Array;
  private readonly words: number;
  private hand = 0;
  private count = 0;

  constructor(
    readonly capacity: number,
    readonly keySpace: number,
    seed = 1,
  ) {
    checkCapacity(capacity, keySpace);
    this.pos = new Int32Array(keySpace);
    for (let i = 0; i < keySpace; i++) this.pos[i] = i;
    const rand = rng(seed);
    for (let i = keySpace - 1; i > 0; i--) {
      const j = Math.floor(rand() * (i + 1));
      const t = this.pos[i];
      this.pos[i] = this.pos[j];
      this.pos[j] = t;
    }
    this.words = (keySpace + 31) >>> 5;
    this.bits = new Uint32Array(this.words);
    this.ref = new Uint8Array(keySpace);
  }

  get size(): number {
    return this.count;
  }

  has(key: number): boolean {
    const p = this.pos[key];
    return (this.bits[p >>> 5] & (1 << (p & 31))) !== 0;
  }

  access(key: number): boolean {
    const p = this.pos[key];
    const w = p >>> 5;
    const b = 1 << (p & 31);
    if ((this.bits[w] & b) !== 0) {
      if (this.ref[p] === 0) this.ref[p] = 1;
      return true;
    }
    if (this.count === this.capacity) this.evict();
    else this.count++;
    this.bits[w] |= b;
    this.ref[p] = 0;
    return false;
  }

  /** Next resident position at or after p, wrapping (some position is resident). */
  private next(p: number): number {
    const bits = this.bits;
    let w = p >>> 5;
    // Bits below p in its word are masked off for the first look only.
    let word = bits[w] & (~0 << (p & 31));
    while (word === 0) {
      if (++w === this.words) w = 0;
      word = bits[w];
    }
    return (w << 5) + (31 - Math.clz32(word & -word));
  }

  private evict(): void {
    const ref = this.ref;
    let p = this.next(this.hand);
    while (ref[p] !== 0) {
      ref[p] = 0;
      p = this.next(p + 1 === this.keySpace ? 0 : p + 1);
    }
    this.bits[p >>> 5] &= ~(1 << (p & 31));
    this.hand = p + 1 === this.keySpace ? 0 : p + 1;
  }

  replay(keys: Uint32Array, from: number, to: number): number {
    let misses = 0;
    for (let i = from; i < to; i++) if (!this.access(keys[i])) misses++;
    return misses;
  }
}
