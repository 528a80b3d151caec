/**
 * Adopting a data file: a server started on a region path whose previous
 * server stopped or died takes its table over instead of starting empty
 * (memcached restarts warm only after a clean shutdown; this store does it
 * after a crash too, since the table lives in a file that outlives the
 * process). Every chunk is rebuilt from what it holds (repair.ts lists what
 * a crash can leave and how each is repaired); clients that kept reading
 * the file meanwhile retry each segment while it is rebuilt.
 *
 * DEADLINES are on CLOCK_MONOTONIC, which a server restart keeps but a
 * reboot restarts. The data file records the boot it was served in and, at
 * every heartbeat, a (wall clock, monotonic clock) pair; a file adopted in
 * another boot (a data directory on a disk) has each deadline moved by the
 * monotonic time left at the last beat, less the wall time since.
 *
 * COUNTERS start again at zero, except the table's size and bytes in use,
 * which the rebuild counts (on the main thread's line).
 *
 * EVICTION QUEUES (S3-FIFO) were in the old server's memory: they are
 * rebuilt from the table (s3fifo-tidy.ts rebuildQueues).
 */
import { Segments, TableParts } from './segments';
import { rebuildChunk, RepairReport } from './repair';
import { bootId } from './table-format';
import { monoNowMs } from './clock';
import { S3Fifo } from './s3fifo';
import { rebuildQueues } from './s3fifo-tidy';
import {
  D_BOOT_ID,
  D_CLOCK_MONO,
  D_CLOCK_WALL,
  D_DEFAULT_TTL_MS,
  D_EVICTION,
  D_STARTED_AT,
  Eviction,
  Stat,
  STATS_LINE_BYTES,
  STATS_MAIN_LINE,
} from '../layout/data-meta';

export interface Adoption extends RepairReport {
  /** The file was last served in another boot: its deadlines were converted. */
  rebooted: boolean;
  /** How long the rebuild took (ms). */
  ms: number;
}

/** What a new server may change about an adopted table. */
export interface AdoptOptions {
  defaultTtlMs: number;
  eviction: Eviction;
}

/**
 * Rebuild every chunk of a mapped data file, set what may change, and
 * count it. Nothing else may write the file meanwhile (the server holds its
 * flock and has not started its workers).
 */
export function adoptTable(parts: TableParts, opts: AdoptOptions): Adoption {
  const start = Date.now();
  const h = parts.header;
  const dv = new DataView(h.meta);
  const now = bootId();
  const rebooted = !now.equals(Buffer.from(h.meta, D_BOOT_ID, 16)) && !now.equals(Buffer.alloc(16));
  let deadline: ((at: number) => number) | undefined;
  if (rebooted) {
    const lastWall = dv.getFloat64(D_CLOCK_WALL, true);
    const lastMono = dv.getFloat64(D_CLOCK_MONO, true);
    const shift = monoNowMs() - lastMono - (Date.now() - lastWall);
    // A deadline of 0 means never; one moved to or below 0 is simply past.
    deadline = (at) => Math.max(at + shift, Number.MIN_VALUE);
  }
  const segs = new Segments(parts);
  const total: Adoption = { segments: 0, keys: 0, dropped: 0, duplicates: 0, lostIndexes: 0, usedBytes: 0, rebooted, ms: 0 };
  for (let c = 0; c < h.chunks; c++) {
    const r = rebuildChunk(segs, c, { fromFile: true, deadline });
    // The rebuilt heap checks itself before anything serves from it: every
    // block tiles the heap, free lists hold exactly the free blocks.
    segs.allocs[c].verify();
    total.segments += r.segments;
    total.keys += r.keys;
    total.dropped += r.dropped;
    total.duplicates += r.duplicates;
    total.lostIndexes += r.lostIndexes;
    total.usedBytes += r.usedBytes;
  }
  h.stats.fill(0);
  const main = STATS_MAIN_LINE * (STATS_LINE_BYTES / 8);
  h.stats[main + Stat.Entries] = total.keys;
  h.stats[main + Stat.UsedBytes] = total.usedBytes;
  dv.setUint32(D_DEFAULT_TTL_MS, opts.defaultTtlMs, true);
  dv.setUint32(D_EVICTION, opts.eviction, true);
  // The queues were in the dead server's memory: S3-FIFO queues every key again (s3fifo-tidy.ts says in what order).
  if (opts.eviction === Eviction.S3Fifo) rebuildQueues(new S3Fifo(segs, parts.priv));
  dv.setFloat64(D_STARTED_AT, Date.now(), true);
  now.copy(Buffer.from(h.meta), D_BOOT_ID);
  total.ms = Date.now() - start;
  return total;
}
