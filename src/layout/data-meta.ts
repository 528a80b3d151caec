/**
 * The data file's shape and its meta area: what the file as a whole is
 * (the meta area, then equal chunks), the header a server writes at
 * creation and rewrites as it serves, and the server threads' counter
 * lines; the sizes that bound a file and split it into chunks.
 *
 * What a chunk holds is chunk-directory.ts (its header and segment
 * directory) and heap.ts (its blocks, indexes and entries); data-file.ts
 * finds, maps and checks the file on disk.
 */
import { alignUp, CACHE_LINE, Fields, PAGE } from './fields';
import { MAX_SERVER_THREADS } from './region-header';

// ---- Data file: the table (server threads write; clients map it read-only) --
/*
 * The data file holds the table and nothing else: segment directories,
 * indexes and entries. Only server threads write it; clients map it
 * read-only and read it directly under each segment's seqlock. It outlives
 * its server: a server started again on the same region path adopts it
 * (store/recovery.ts) unless told otherwise.
 *
 * It is mapped in pieces, each at most MAX_CHUNK_BYTES (every offset into a
 * piece is then a small integer for V8, and no typed array is longer than
 * Node 20 allows): the META area, then CHUNKS equal chunks, a power of two
 * in number. Segment s lives wholly in chunk (s & (chunks - 1)): its
 * directory entry, its index and its entries, so a lookup touches one chunk.
 * Each chunk is its own heap, with its own allocator (alloc.ts).
 *
 * Line 0 of the meta area is written once at creation; line 1 holds what a
 * server may change when it adopts the file; line 2 what it rewrites as it
 * serves (the clock pair every heartbeat, so that a deadline of another
 * boot converts through it). Then the server's counters: one STATS LINE per
 * server thread (its index; the main thread uses the last), each written by
 * its thread only and summed by readers: no shared counter word on the hot
 * path.
 *
 * DATA FILE META (the header, then the server's counters)
 *   offset    bytes  field
 *        0        4  D_MAGIC                   DATA_MAGIC
 *        4        4  D_VERSION                 DATA_VERSION
 *        8        8  D_BYTES                   f64: the whole file, = the memory budget
 *       16        4  D_CHUNK_BYTES
 *       20        4  D_CHUNKS                  a power of two
 *       24        4  D_SEGMENT_BITS
 *       28        4  D_SEED                    hash seed, random at creation
 *       32        4  D_MAX_KEY_BYTES
 *       36        4  D_MAX_VALUE_BYTES
 *       40        8  D_CREATED_AT              f64 ms since the epoch
 *       48       16  D_BOOT_ID                 boot_id of its last boot: CLOCK_MONOTONIC is per boot
 *       64        4  D_DEFAULT_TTL_MS          the server's --ttl: clients apply it
 *       68        4  D_EVICTION                Eviction: the policy at the cap
 *       72        8  D_STARTED_AT              f64 ms since the epoch
 *      128        8  D_CLOCK_WALL              f64 Date.now() at the last beat
 *      136        8  D_CLOCK_MONO              f64 monotonic ms at the same beat
 *      144        4  D_SNAPSHOTS               snapshots finished
 *      148        4  D_SNAPSHOT_RESULT         SnapshotResult of the last one
 *      152        0  D_SERVED_END              the end of what the server rewrites as it serves
 *      192        2  D_REGION_PATH             u16 byte length of the region path
 *      194     1024  D_REGION_PATH_UTF8        the region path this cache belongs to (gone: an orphan)
 *     1280    32896  D_STATS                   STATS_LINES stats lines of STATS_LINE_BYTES
 *    36864        0  META_BYTES                the end: chunk 0 starts on this page
 */
export const DATA_MAGIC = 0x54564b53; // "SKVT"
/** Bump on any change to the data file's layout or meaning (a server refuses to adopt another version). */
export const DATA_VERSION = 4;
export const REGION_PATH_MAX_BYTES = 1024;
/** /proc/sys/kernel/random/boot_id as 16 bytes. */
export const BOOT_ID_BYTES = 16;

export const enum Stat {
  Requests = 0,
  Sets = 1,
  Deletes = 2,
  Evictions = 3,
  Expirations = 4,
  ServerReads = 5,
  Refused = 6,
  /** Net keys this thread added (inserts minus removals): their sum over lines is the table's size. */
  Entries = 7,
  /** Net heap bytes this thread allocated (headers included): their sum is the table's memory in use. */
  UsedBytes = 8,
  /** Chunks this thread rebuilt because it met data it did not write (repair.ts). */
  Repairs = 9,
}
export const STAT_COUNT = 10;
/** A stats line: STAT_COUNT f64 (Stat), rounded up to whole cache lines. */
export const STATS_LINE_BYTES = alignUp(STAT_COUNT * 8, CACHE_LINE);
export const STATS_LINES = MAX_SERVER_THREADS + 1;
export const STATS_MAIN_LINE = MAX_SERVER_THREADS;

export const dataMetaRecord = new Fields('DATA FILE META (the header, then the server\'s counters)');
export const D_MAGIC = dataMetaRecord.field('D_MAGIC', 4, 'DATA_MAGIC');
export const D_VERSION = dataMetaRecord.field('D_VERSION', 4, 'DATA_VERSION');
/** Bytes of the whole file (f64: it may pass 2^32). */
export const D_BYTES = dataMetaRecord.field('D_BYTES', 8, 'f64: the whole file, = the memory budget');
export const D_CHUNK_BYTES = dataMetaRecord.field('D_CHUNK_BYTES', 4);
export const D_CHUNKS = dataMetaRecord.field('D_CHUNKS', 4, 'a power of two');
export const D_SEGMENT_BITS = dataMetaRecord.field('D_SEGMENT_BITS', 4);
export const D_SEED = dataMetaRecord.field('D_SEED', 4, 'hash seed, random at creation');
export const D_MAX_KEY_BYTES = dataMetaRecord.field('D_MAX_KEY_BYTES', 4);
export const D_MAX_VALUE_BYTES = dataMetaRecord.field('D_MAX_VALUE_BYTES', 4);
/** When the table was created (f64, ms since the epoch). */
export const D_CREATED_AT = dataMetaRecord.field('D_CREATED_AT', 8, 'f64 ms since the epoch');
/** The boot it was last served in (/proc/sys/kernel/random/boot_id): deadlines are on CLOCK_MONOTONIC, which a reboot restarts. */
export const D_BOOT_ID = dataMetaRecord.field('D_BOOT_ID', BOOT_ID_BYTES, 'boot_id of its last boot: CLOCK_MONOTONIC is per boot', 8);
export const D_DEFAULT_TTL_MS = dataMetaRecord.line().field('D_DEFAULT_TTL_MS', 4, "the server's --ttl: clients apply it");
export const D_EVICTION = dataMetaRecord.field('D_EVICTION', 4, 'Eviction: the policy at the cap');
/**
 * What a write that needs memory at the cap does (D_EVICTION; a restart
 * may change it): refuse (Full), or evict by CLOCK over the index slots
 * (store/evictor.ts) or by S3-FIFO queues (store/s3fifo.ts, the default).
 */
export const enum Eviction {
  None = 0,
  Clock = 1,
  S3Fifo = 2,
}
export const MAX_EVICTION = 2;
/** When the serving server started (f64, ms since the epoch). */
export const D_STARTED_AT = dataMetaRecord.field('D_STARTED_AT', 8, 'f64 ms since the epoch');
export const D_CLOCK_WALL = dataMetaRecord.line().field('D_CLOCK_WALL', 8, 'f64 Date.now() at the last beat');
export const D_CLOCK_MONO = dataMetaRecord.field('D_CLOCK_MONO', 8, 'f64 monotonic ms at the same beat');
/** Snapshots finished since the table was created, and how the last one went (SnapshotResult): `--snapshot-now` waits on them. */
export const D_SNAPSHOTS = dataMetaRecord.field('D_SNAPSHOTS', 4, 'snapshots finished');
export const D_SNAPSHOT_RESULT = dataMetaRecord.field('D_SNAPSHOT_RESULT', 4, 'SnapshotResult of the last one');
export const D_SERVED_END = dataMetaRecord.field('D_SERVED_END', 0, 'the end of what the server rewrites as it serves');
export const enum SnapshotResult {
  Written = 0,
  Failed = 1,
  /** The server has no --snapshot file. */
  NoFile = 2,
}
/** The region path this cache belongs to: u16 length, then UTF-8 (a data file whose region is gone is an orphan). */
export const D_REGION_PATH = dataMetaRecord.line().field('D_REGION_PATH', 2, 'u16 byte length of the region path');
export const D_REGION_PATH_UTF8 = dataMetaRecord.field('D_REGION_PATH_UTF8', REGION_PATH_MAX_BYTES, 'the region path this cache belongs to (gone: an orphan)', 1);
export const D_STATS = dataMetaRecord.line().field('D_STATS', STATS_LINES * STATS_LINE_BYTES, 'STATS_LINES stats lines of STATS_LINE_BYTES', CACHE_LINE);
/** Bytes of the meta area: header and counters, page-aligned (the first chunk starts there). */
export const META_BYTES = dataMetaRecord.field('META_BYTES', 0, 'the end: chunk 0 starts on this page', PAGE);

/** Largest chunk: offsets stay below 2^31 (V8 small integers; Node 20 and 22 Buffer#write fails past 2^31). */
export const MAX_CHUNK_BYTES = 2 ** 31 - 2 ** 20;

/** Largest data file: 256 chunks of MAX_CHUNK_BYTES at the default segment count. */
export const MAX_DATA_BYTES = 2 ** 39;
/** Smallest data file: the meta area and one chunk with room for its directory and first indexes. */
export const MIN_DATA_BYTES = 1024 * 1024;

/** Chunks of a data file of `bytes` bytes: the fewest (a power of two) of at most MAX_CHUNK_BYTES. */
export function chunkCount(bytes: number): number {
  let n = 1;
  while ((bytes - META_BYTES) / n > MAX_CHUNK_BYTES) n *= 2;
  return n;
}

/** Bytes of each chunk of a data file of `bytes` bytes in `chunks` chunks. */
export function chunkBytesOf(bytes: number, chunks: number): number {
  return Math.floor((bytes - META_BYTES) / chunks / PAGE) * PAGE;
}

/** Where chunk `c` starts in the file. */
export function chunkOffset(chunkBytes: number, c: number): number {
  return META_BYTES + c * chunkBytes;
}
