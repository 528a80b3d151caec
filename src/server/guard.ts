/**
 * Putting back what another process forged in the data file. The file is
 * mapped read-only by clients, but any process of the same user can open
 * it and write. Every word the server owns there has its authoritative copy
 * in the server's memory: the header (seed, limits, geometry, ttl,
 * eviction), each chunk's header, and each segment's directory mirror
 * (version, count, index word; private-state.ts). Writers never read the
 * mirrors, so a forged one cannot mislead the server; it can only mislead
 * readers (every key absent under a forged seed, a segment that reads as
 * "busy" forever under an odd version). The main thread compares every
 * mirror with its copy once per heartbeat tick and puts back what differs,
 * so the damage lasts at most one tick (HEARTBEAT_MS).
 *
 * A segment is compared under its lock, taken by trying: a segment whose
 * lock a writer holds is inside a write (its version is legitimately odd)
 * and is looked at on a later tick.
 */
import { Segments } from '../store/segments';
import {
  C_DIRECTORY,
  C_HEAP_END,
  C_HEAP_START,
  C_MAGIC,
  CHUNK_MAGIC,
  SEG_COUNT,
  SEG_INDEX,
  SEG_INDEX_BLOCK,
  SEG_VERSION,
  SEGMENT_BYTES,
} from '../layout/chunk-directory';
import { D_CLOCK_MONO, D_CLOCK_WALL, D_SERVED_END, D_STATS } from '../layout/data-meta';
import { PS_COUNT, PS_INDEX, PS_INDEX_BLOCK, PS_VERSION } from '../layout/server-private';
import { monoNowMs } from '../store/clock';

export class Guard {
  /** The header as the server wrote it: every byte before the counters, but the clock pair. */
  private readonly header: Uint8Array;
  private readonly meta: Uint8Array;
  private readonly dv: DataView;
  /** Words put back so far (a forger's writes, counted). */
  restored = 0;

  constructor(private readonly segs: Segments) {
    this.meta = new Uint8Array(segs.header.meta, 0, D_STATS);
    this.header = this.meta.slice();
    this.dv = new DataView(segs.header.meta);
  }

  /** The clock pair of this beat (recovery.ts converts deadlines of another boot through it). */
  beat(): void {
    this.dv.setFloat64(D_CLOCK_WALL, Date.now(), true);
    this.dv.setFloat64(D_CLOCK_MONO, monoNowMs(), true);
    this.keep();
  }

  /** The server changed its own words of the line it rewrites as it serves (D_CLOCK_WALL..D_SERVED_END): they are the authority now. */
  keep(): void {
    this.header.set(this.meta.subarray(D_CLOCK_WALL, D_SERVED_END), D_CLOCK_WALL);
  }

  /** Compare and put back; returns the words put back this tick. */
  tick(): number {
    let n = 0;
    const meta = this.meta;
    const want = this.header;
    for (let i = 0; i < want.length; i++) {
      if (meta[i] !== want[i]) {
        meta[i] = want[i];
        n++;
      }
    }
    const segs = this.segs;
    for (let c = 0; c < segs.chunks.length; c++) {
      const u32 = segs.chunks[c].u32;
      n += put(u32, C_MAGIC >>> 2, (CHUNK_MAGIC ^ c) >>> 0);
      n += put(u32, C_HEAP_START >>> 2, segs.chunks[c].heapStart);
      n += put(u32, C_HEAP_END >>> 2, segs.chunks[c].heapEnd);
    }
    for (let seg = 0; seg < segs.segments; seg++) {
      const lock = segs.locks[seg];
      if (!lock.tryLock()) continue;
      try {
        const u32 = segs.chunkOf(seg).u32;
        const d = (C_DIRECTORY + segs.localOf(seg) * SEGMENT_BYTES) >>> 2;
        const pw = segs.pw(seg);
        if (u32[d + (SEG_INDEX >>> 2)] !== segs.priv[pw + (PS_INDEX >>> 2)] >>> 0 || u32[d + (SEG_INDEX_BLOCK >>> 2)] !== segs.priv[pw + (PS_INDEX_BLOCK >>> 2)] >>> 0) {
          segs.chunkOf(seg).storeIndex(segs.localOf(seg), segs.priv[pw + (PS_INDEX >>> 2)], segs.priv[pw + (PS_INDEX_BLOCK >>> 2)]);
          n++;
        }
        n += put(u32, d + (SEG_COUNT >>> 2), segs.priv[pw + (PS_COUNT >>> 2)] >>> 0);
        // The version last: a reader that sees it again sees the words above.
        if (u32[d + (SEG_VERSION >>> 2)] !== segs.priv[pw + (PS_VERSION >>> 2)] >>> 0) {
          Atomics.store(segs.chunkOf(seg).i32, d + (SEG_VERSION >>> 2), segs.priv[pw + (PS_VERSION >>> 2)]);
          n++;
        }
      } finally {
        lock.unlock();
      }
    }
    this.restored += n;
    return n;
  }
}

function put(u32: Uint32Array, i: number, v: number): number {
  if (u32[i] === v) return 0;
  u32[i] = v;
  return 1;
}

