/**
 * Eviction at the memory cap by S3-FIFO with a 1-bit visited flag (Yang et
 * al., SOSP 2023; bench/studies/POLICY.md recommends it: never far from
 * the best policy on any trace there), `--eviction s3fifo`, the default.
 *
 * PER CHUNK (a write that cannot allocate evicts in its key's chunk, whose
 * heap it needs): a small FIFO S, a main FIFO M (item-ring.ts) and a ghost
 * G of keys S evicted lately (ghost.ts), in the server's private memory,
 * shared by its threads under one queue lock Q per chunk.
 *
 * ITEMS name a key from its insertion to its removal, not an entry (copy
 * on write moves a key's entry at every update): (hash, stamp) for a key
 * held in a heap entry, whose ENTRY_STAMP an update keeps (segments.ts
 * store), and (u32 key, 0) for a u32 key, whose inline slot has no room
 * for a stamp. So an update keeps its key's place and queue, and queues
 * nothing. An item is only believed after its key is found again, under
 * its segment's lock (locate()).
 *
 * THE VISITED FLAG is the slot's hint byte in the exchange file: readers
 * store to it on a hit (table-reader.ts, unchanged: one plain byte store),
 * any non-zero value means visited, and only this server clears it.
 *
 *   admit (a new key; index-slots.ts insert, under its segment lock, after the
 *     odd period): M if G remembers its hash (G forgets it), else S.
 *     System keys are never queued, so never evicted.
 *   evict (holding no lock): pop M's tail while S holds less than
 *     SMALL_RATIO of the queued items (or none), else S's; release Q; take
 *     the item's segment lock and locate its key. Gone: the item is stale,
 *     dropped. Expired: reclaimed. Visited: the flag is cleared and the
 *     item goes to M's head (S's tail is promoted, M's reinserted).
 *     Otherwise it is evicted, into G when it came from S.
 *   A call examines at most 2 x the items queued; what it could not free
 *   (every key visited again meanwhile, or keys no queue holds) the CLOCK
 *   hand frees (evictor.ts). A full segment evicts in itself, by CLOCK
 *   (evictIn), as with `--eviction clock`.
 *
 * LOCK ORDER: a segment lock, then Q (admit; an evictor putting a visited
 * key back); never a segment lock while Q is held, and Q only for a few
 * words: evictors pop, release, then lock the victim's segment.
 *
 * INVARIANT: every live key of the chunk but System keys has exactly one
 * item in S or M, or is in an evictor's hands between its pop and its
 * verdict (under its segment lock). Exceptions, all safe: a u32 key
 * removed otherwise than by eviction (deleted, expired, cleared) leaves an
 * item that a later insert of that key makes valid again, beside its own
 * (compaction keeps one: s3fifo-tidy.ts); a key whose push failed (a ring
 * at its maximum) or whose stamp a process forged has none, and only the
 * CLOCK fallback evicts it. Items of keys that are gone are stale: skipped
 * when popped, and removed by compaction, which keeps each chunk's items
 * below TIDY_ITEMS_PER_KEY per key (plus slack) even when nothing evicts.
 *
 * After a warm restart the queues are rebuilt from the table
 * (s3fifo-tidy.ts rebuildQueues).
 */
import { TableCorruptError } from '../errors';
import { expired, monoNowMs } from './clock';
import { ClockEvictor, Evictor } from './evictor';
import { Ghost } from './ghost';
import { ItemRing } from './item-ring';
import { hashU32Key, readU32LE, U32_KEY_BYTES, writeU32Key } from './keys';
import { PrivateState } from './private-state';
import { Segments } from './segments';
import { Lock } from '../sync/lock';
import { QueueTidy } from './s3fifo-tidy';
import { ChunkQueues, QueueHost, SMALL_RATIO } from './s3fifo-queues';

import { Stat } from '../layout/data-meta';
import { PQ_GHOST_BUCKETS, PQ_LOCK, PQ_MAIN, PQ_SMALL } from '../layout/eviction-queues';
import { ENTRY_EXPIRES, ENTRY_HEADER_BYTES, ENTRY_INLINE, ENTRY_STAMP, IX_BYTES, IX_ENTRY, IX_HASH } from '../layout/heap';
import { KeyKind } from '../layout/keys-values';

const LOCK_TOKEN = 1;

/** What this thread's evictions did (plain counters, for tests and benchmarks). */
export interface S3FifoCounts {
  promoted: number;
  reinserted: number;
  ghostHits: number;
  stale: number;
  /** Bytes the CLOCK fallback freed. */
  fallbackBytes: number;
}

export class S3Fifo implements Evictor, QueueHost {
  readonly queues: ChunkQueues[];
  /** For what the queues cannot free, and for full segments. */
  readonly clock: ClockEvictor;
  readonly counts: S3FifoCounts = { promoted: 0, reinserted: 0, ghostHits: 0, stale: 0, fallbackBytes: 0 };
  private readonly chunkMask: number;
  private readonly material = new Uint8Array(U32_KEY_BYTES);
  private tidier: QueueTidy | null = null;

  constructor(
    readonly segs: Segments,
    priv: PrivateState,
  ) {
    this.clock = new ClockEvictor(segs);
    this.chunkMask = segs.chunks.length - 1;
    this.queues = segs.chunks.map((_, c) => {
      const base = priv.queueBase(c);
      return {
        lock: new Lock(priv.i32, base + (PQ_LOCK >>> 2), LOCK_TOKEN),
        small: new ItemRing(priv.i32, base + (PQ_SMALL >>> 2), priv.queues[3 * c]),
        main: new ItemRing(priv.i32, base + (PQ_MAIN >>> 2), priv.queues[3 * c + 1]),
        ghost: new Ghost(priv.i32, base + (PQ_GHOST_BUCKETS >>> 2), priv.queues[3 * c + 2]),
      };
    });
  }

  /** Queue the key just inserted into `slot`'s entry `entry` (u32 `key` when inline). Under its segment lock. */
  admit(seg: number, hash: number, entry: number, key: number): void {
    let a = hash;
    let b = 0;
    if (entry === ENTRY_INLINE) a = key;
    else {
      const ch = this.segs.chunkOf(seg);
      const kind = ch.u8[entry + ENTRY_HEADER_BYTES];
      if (kind === KeyKind.System) return;
      if (kind === KeyKind.U32) a = readU32LE(ch.u8, entry + ENTRY_HEADER_BYTES + 1);
      else if ((b = ch.u32[(entry + ENTRY_STAMP) >>> 2]) === 0) return;
    }
    const q = this.queues[seg & this.chunkMask];
    q.lock.lock();
    try {
      if (q.ghost.take(hash)) {
        this.counts.ghostHits++;
        if (q.main.push(a, b)) q.ghost.fit(q.main.count());
      } else q.small.push(a, b);
    } finally {
      q.lock.unlock();
    }
  }

  evict(seg: number, bytes: number): number {
    const c = seg & this.chunkMask;
    const q = this.queues[c];
    const now = monoNowMs();
    let freed = 0;
    let budget = -1;
    while (freed < bytes) {
      let fromMain = false;
      let ring: ItemRing | null = null;
      q.lock.lock();
      try {
        const s = q.small.count();
        const m = q.main.count();
        if (budget < 0) budget = 2 * (s + m) + 64;
        if (s + m > 0 && budget-- > 0) {
          fromMain = s === 0 || s < SMALL_RATIO * (s + m);
          ring = fromMain ? q.main : q.small;
          if (!ring.pop()) ring = null;
        }
      } finally {
        q.lock.unlock();
      }
      if (ring === null) break;
      freed += this.judge(c, q, ring.a, ring.b, !fromMain, now);
    }
    if (freed < bytes) {
      const more = this.clock.evict(seg, bytes - freed);
      this.counts.fallbackBytes += more;
      freed += more;
    }
    return freed;
  }

  /** The verdict on a popped item: the bytes its eviction freed (0 when it stays or was stale). */
  private judge(c: number, q: ChunkQueues, a: number, b: number, fromSmall: boolean, now: number): number {
    const hash = b === 0 ? hashU32Key(a, this.segs.seed) : a;
    const seg = this.segs.segmentOf(hash);
    if ((seg & this.chunkMask) !== c) return this.staleItem();
    const segs = this.segs;
    const lock = segs.locks[seg];
    lock.lock();
    try {
      const slot = this.locate(seg, a, b, hash);
      if (slot < 0) return this.staleItem();
      const ch = segs.chunkOf(seg);
      const e = ch.u32[(slot + IX_ENTRY) >>> 2];
      if (e !== ENTRY_INLINE) {
        if (ch.u8[e + ENTRY_HEADER_BYTES] === KeyKind.System) return this.staleItem();
        if (expired(ch.dv.getFloat64(e + ENTRY_EXPIRES, true), now)) {
          segs.stats[Stat.Expirations]++;
          return segs.removeEntry(seg, slot);
        }
      }
      const h = ch.hintOf(slot);
      if (h < ch.hints.length && ch.hints[h] !== 0) {
        ch.hints[h] = 0;
        if (fromSmall) this.counts.promoted++;
        else this.counts.reinserted++;
        q.lock.lock();
        try {
          if (q.main.push(a, b)) q.ghost.fit(q.main.count());
        } finally {
          q.lock.unlock();
        }
        return 0;
      }
      if (fromSmall) {
        q.lock.lock();
        q.ghost.insert(hash);
        q.lock.unlock();
      }
      segs.stats[Stat.Evictions]++;
      return segs.removeEntry(seg, slot) || IX_BYTES;
    } finally {
      lock.unlock();
    }
  }

  private staleItem(): number {
    this.counts.stale++;
    return 0;
  }

  /**
   * The slot in segment `seg` of the key item (a, b) names (its hash
   * `hash`), or -1 when that key is gone. Under the segment's lock.
   */
  locate(seg: number, a: number, b: number, hash: number): number {
    const segs = this.segs;
    if (b === 0) {
      writeU32Key(this.material, 0, a);
      try {
        return segs.find(seg, hash, this.material, 0, U32_KEY_BYTES);
      } catch (e) {
        // A forged slot: find() marked the chunk for repair.
        if (e instanceof TableCorruptError) return -1;
        throw e;
      }
    }
    const ch = segs.chunkOf(seg);
    const u32 = ch.u32;
    const index = segs.indexOf(seg);
    const mask = segs.capacityOf(seg) - 1;
    for (let n = 0, i = hash & mask; n <= mask; n++, i = (i + 1) & mask) {
      const slot = index + i * IX_BYTES;
      const e = u32[(slot + IX_ENTRY) >>> 2];
      if (e === 0) return -1;
      if (u32[(slot + IX_HASH) >>> 2] === hash && e !== ENTRY_INLINE && ch.entryOk(e) && u32[(e + ENTRY_STAMP) >>> 2] === b) return slot;
    }
    return -1;
  }

  evictIn(seg: number): boolean {
    return this.clock.evictIn(seg);
  }

  /** Compaction of queues that hold too many stale items (s3fifo-tidy.ts): at most `budget` items judged. */
  tidy(budget: number): number {
    this.tidier ??= new QueueTidy(this);
    return this.tidier.tidy(budget);
  }

  /** Items queued in chunk `c` (S and M). */
  queued(c: number): number {
    const q = this.queues[c];
    q.lock.lock();
    try {
      return q.small.count() + q.main.count();
    } finally {
      q.lock.unlock();
    }
  }

  /** Bytes the queues and ghosts of every chunk hold now. */
  bytes(): number {
    let n = 0;
    for (const q of this.queues) n += q.small.bytes() + q.main.bytes() + q.ghost.bytes();
    return n;
  }
}
