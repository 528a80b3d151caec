/**
 * The ghost of one chunk (s3fifo.ts): the keys its small queue evicted
 * lately, so that one that comes back soon enters the main queue. Only a
 * key's hash is kept, as a 16-bit fingerprint, in buckets of GHOST_WAYS
 * packed newest first (0 = empty): an insert pushes the bucket's oldest
 * out, a hit takes its fingerprint out. Each bucket is thus a small FIFO,
 * and together they hold about the last (buckets x GHOST_WAYS) keys, the
 * FIFO ghost of the paper (Yang et al., SOSP 2023) without its queue or
 * its hash table; a fingerprint that matches another key of the bucket
 * (about GHOST_WAYS / 2^16 of lookups) only sends that key to main.
 *
 * The buckets double (up to the buffer's maximum) as the main queue grows:
 * bucket b is copied to b + buckets, so every fingerprint stays where its
 * hash now looks, beside a copy that ages out unused.
 *
 * Like the rings, it lives in a growable buffer of the server process and
 * is only touched under the chunk's queue lock (item-ring.ts says why
 * that orders everything, a growth included).
 */
import { GHOST_FP_BYTES, GHOST_MIN_BUCKETS, GHOST_WAYS } from '../layout/eviction-queues';

export function fingerprint(hash: number): number {
  return Math.imul(hash, 0x9e3779b1) >>> 16 || 1;
}

export class Ghost {
  /** The fingerprints, as far as this thread has seen the buffer grow (view()). */
  private u16: Uint16Array;
  private readonly maxBuckets: number;

  /**
   * @param i32 the private state's words; the bucket count is word `bucketsWord`
   * @param buf the fingerprints' growable buffer
   */
  constructor(
    private readonly i32: Int32Array,
    private readonly bucketsWord: number,
    private readonly buf: SharedArrayBuffer,
  ) {
    this.u16 = new Uint16Array(buf, 0, buf.byteLength >>> 1);
    this.maxBuckets = Math.floor(buf.maxByteLength / (GHOST_WAYS * GHOST_FP_BYTES));
  }

  /** A fixed-length view, made again when a growth left it short (item-ring.ts, view(), says why). */
  private view(): Uint16Array {
    if (this.u16.length < this.i32[this.bucketsWord] * GHOST_WAYS) this.u16 = new Uint16Array(this.buf, 0, this.buf.byteLength >>> 1);
    return this.u16;
  }

  buckets(): number {
    return this.i32[this.bucketsWord];
  }

  /** Bytes its buffer holds now. */
  bytes(): number {
    return this.buf.byteLength;
  }

  /** Room for about `keys` keys: double the buckets while they hold fewer (up to the maximum). */
  fit(keys: number): void {
    let n = this.i32[this.bucketsWord];
    while ((n === 0 || n * GHOST_WAYS < keys) && Math.max(GHOST_MIN_BUCKETS, 2 * n) <= this.maxBuckets) {
      const next = Math.max(GHOST_MIN_BUCKETS, 2 * n);
      try {
        this.buf.grow(Math.max(this.buf.byteLength, next * GHOST_WAYS * GHOST_FP_BYTES));
      } catch {
        return;
      }
      this.u16 = new Uint16Array(this.buf, 0, this.buf.byteLength >>> 1);
      if (n > 0) this.u16.copyWithin(n * GHOST_WAYS, 0, n * GHOST_WAYS);
      this.i32[this.bucketsWord] = n = next;
    }
  }

  /** Remember `hash`, forgetting its bucket's oldest. */
  insert(hash: number): void {
    const n = this.i32[this.bucketsWord];
    if (n === 0) {
      this.fit(1);
      if (this.i32[this.bucketsWord] === 0) return;
      return this.insert(hash);
    }
    const b = (hash & (n - 1)) * GHOST_WAYS;
    const u16 = this.view();
    u16.copyWithin(b + 1, b, b + GHOST_WAYS - 1);
    u16[b] = fingerprint(hash);
  }

  /** Whether `hash` is remembered; if so it is forgotten. */
  take(hash: number): boolean {
    const n = this.i32[this.bucketsWord];
    if (n === 0) return false;
    const b = (hash & (n - 1)) * GHOST_WAYS;
    const fp = fingerprint(hash);
    const u16 = this.view();
    for (let k = 0; k < GHOST_WAYS; k++) {
      const f = u16[b + k];
      if (f === 0) return false;
      if (f === fp) {
        u16.copyWithin(b + k, b + k + 1, b + GHOST_WAYS);
        u16[b + GHOST_WAYS - 1] = 0;
        return true;
      }
    }
    return false;
  }

  /** Forget everything (the buckets stay). */
  reset(): void {
    this.view().fill(0, 0, this.i32[this.bucketsWord] * GHOST_WAYS);
  }
}
