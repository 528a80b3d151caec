/**
 * The single source of truth for every shared-memory layout in the project:
 * the region file that server and clients map, the data file that holds
 * the table (which clients map and read directly), the exchange file
 * (staging and eviction hints), and the server's private words. No other
 * module hard-codes an offset or a size.
 *
 * Every record is laid out as running sums (fields.ts): a field's offset is
 * the sum of the sizes before it, so no offset below is typed by
 * hand. Each record's drawing sits in the comment above it, in the form
 * `offset  bytes  constant  note`; test/unit/layout.test.ts checks every
 * drawing against the constants (`node dist/tools/draw-layouts.js` redraws them
 * after a change), and test/unit/layout-values.test.ts pins every value: a
 * file an older build wrote must stay readable, so a moved field is a
 * version bump, never an accident.
 *
 * All offsets are in bytes unless named *_I32 (an index into an Int32Array
 * over the same buffer). Every line that another process writes often sits
 * on its own 64-byte cache line, so that producers, consumers and the
 * heartbeat do not false-share.
 *
 * Every request and its response live in the client's own window; the ring
 * carries only window indices. That keeps a ring slot to one word, so
 * claiming a slot and publishing into it are one CAS and a client killed at
 * any instant can never leave a half-written slot behind (see ring.ts).
 * Keys and values of any length travel in the window's staging block, in
 * the exchange file's staging arena (WIN_STAGING_OFFSET), while the ring
 * and its protocol stay one word per request.
 */
import { alignUp, CACHE_LINE as LINE, Fields } from './fields';

// A data property, not a re-export: TypeScript compiles `export { X }` of an
// import to a getter over a name it first declared as data, and redefining a
// data property as an accessor turns this module's exports object into a
// dictionary, after which every layout constant loaded in a hot path is a
// hash lookup (getSync 0.60x, setSync 0.56x: test/unit/exports-fast.test.ts).
export const CACHE_LINE = LINE;
export const PAGE = 4096;

// ---- Region identity -------------------------------------------------------
/** "SHKV" little-endian. */
export const REGION_MAGIC = 0x564b4853;
/** Bump on any change to the region layout, the data file's, or their protocols. */
export const REGION_VERSION = 4;

export const MAX_SERVER_THREADS = 256;
export const DATA_PATH_MAX_BYTES = 1024;

// ---- Region header (the region file's first page) --------------------------
/*
 * Line 0 is written once by the server before it publishes READY; line 1 is
 * the server's liveness; the ring's positions and event counts each have a
 * line of their own (producers, consumers and sleepers do not false-share).
 *
 * REGION HEADER (the first page of the region file; all words Int32 unless noted)
 *   offset    bytes  field
 *        0        4  HDR_MAGIC                 REGION_MAGIC
 *        4        4  HDR_VERSION               REGION_VERSION
 *        8        4  HDR_HEADER_BYTES          HEADER_BYTES
 *       12        4  HDR_REGION_BYTES          the whole file
 *       16        4  HDR_RING_OFFSET
 *       20        4  HDR_RING_CAPACITY
 *       24        4  HDR_OWNER_OFFSET
 *       28        4  HDR_BOARD_OFFSET
 *       32        4  HDR_WINDOW_COUNT
 *       36        4  HDR_WINDOW_BYTES
 *       64        4  HDR_SERVER_PID
 *       68        4  HDR_SERVER_STATE          ServerState
 *       72        4  HDR_HEARTBEAT             bumped every HEARTBEAT_MS
 *       76        4  HDR_SERVER_THREADS
 *       80        4  HDR_SERVER_EPOCH          random nonzero, per server start
 *      128       64  -                         unused (the board lock of layouts <= 3)
 *      192        4  HDR_RING_TAIL             producers' position
 *      256        4  HDR_RING_HEAD             consumers' position
 *      320        4  HDR_NOT_EMPTY             ring not-empty EventCount: seq
 *      324        4  HDR_NOT_EMPTY_SLEEPERS    and its sleepers flag
 *      384        4  HDR_NOT_FULL              ring not-full EventCount: seq
 *      388        4  HDR_NOT_FULL_SLEEPERS     and its sleepers flag
 *      448       64  -                         unused
 *      512     1024  HDR_BUSY                  one busy word per server thread: odd while it may hold a request (reaper.ts)
 *     1536        4  HDR_DATA_PAGES            the data file's size in pages (u32: files past 4 GiB)
 *     1540        2  HDR_DATA_PATH             u16 byte length of the data file's path
 *     1542     1024  HDR_DATA_PATH_UTF8        the path (the exchange file is the same path ending in .xchg)
 *     4096        0  HEADER_BYTES              the end: the ring starts on the next page
 */
const regionHeader = new Fields('REGION HEADER (the first page of the region file; all words Int32 unless noted)');
export const HDR_MAGIC = regionHeader.field('HDR_MAGIC', 4, 'REGION_MAGIC');
export const HDR_VERSION = regionHeader.field('HDR_VERSION', 4, 'REGION_VERSION');
export const HDR_HEADER_BYTES = regionHeader.field('HDR_HEADER_BYTES', 4, 'HEADER_BYTES');
export const HDR_REGION_BYTES = regionHeader.field('HDR_REGION_BYTES', 4, 'the whole file');
export const HDR_RING_OFFSET = regionHeader.field('HDR_RING_OFFSET', 4);
export const HDR_RING_CAPACITY = regionHeader.field('HDR_RING_CAPACITY', 4);
export const HDR_OWNER_OFFSET = regionHeader.field('HDR_OWNER_OFFSET', 4);
export const HDR_BOARD_OFFSET = regionHeader.field('HDR_BOARD_OFFSET', 4);
export const HDR_WINDOW_COUNT = regionHeader.field('HDR_WINDOW_COUNT', 4);
export const HDR_WINDOW_BYTES = regionHeader.field('HDR_WINDOW_BYTES', 4);

export const HDR_SERVER_PID = regionHeader.line().field('HDR_SERVER_PID', 4);
export const HDR_SERVER_STATE = regionHeader.field('HDR_SERVER_STATE', 4, 'ServerState');
export const HDR_HEARTBEAT = regionHeader.field('HDR_HEARTBEAT', 4, 'bumped every HEARTBEAT_MS');
export const HDR_SERVER_THREADS = regionHeader.field('HDR_SERVER_THREADS', 4);
/**
 * A random nonzero u32 the server writes when it creates the region: a
 * client tells a new server (a restart at the same path) from the one it
 * attached to by it and by the file's inode, not by pids (which are reused).
 */
export const HDR_SERVER_EPOCH = regionHeader.field('HDR_SERVER_EPOCH', 4, 'random nonzero, per server start');

regionHeader.line().spare(CACHE_LINE, 'unused (the board lock of layouts <= 3)');
export const HDR_RING_TAIL = regionHeader.line().field('HDR_RING_TAIL', 4, "producers' position");
export const HDR_RING_HEAD = regionHeader.line().field('HDR_RING_HEAD', 4, "consumers' position");
/** The ring's EventCounts (sync/waiter.ts): [seq, sleepers flag], each pair on its own line. */
export const HDR_NOT_EMPTY = regionHeader.line().field('HDR_NOT_EMPTY', 4, 'ring not-empty EventCount: seq');
export const HDR_NOT_EMPTY_SLEEPERS = regionHeader.field('HDR_NOT_EMPTY_SLEEPERS', 4, 'and its sleepers flag');
export const HDR_NOT_FULL = regionHeader.line().field('HDR_NOT_FULL', 4, 'ring not-full EventCount: seq');
export const HDR_NOT_FULL_SLEEPERS = regionHeader.field('HDR_NOT_FULL_SLEEPERS', 4, 'and its sleepers flag');
regionHeader.line().spare(CACHE_LINE, 'unused');
export const HDR_BUSY = regionHeader.line().field('HDR_BUSY', 4 * MAX_SERVER_THREADS, 'one busy word per server thread: odd while it may hold a request (reaper.ts)', 4);
/** Size of the data file holding the table, in pages (u32: files past 4 GiB). */
export const HDR_DATA_PAGES = regionHeader.line().field('HDR_DATA_PAGES', 4, "the data file's size in pages (u32: files past 4 GiB)");
/** Path of the data file: u16 byte length, then UTF-8 bytes. */
export const HDR_DATA_PATH = regionHeader.field('HDR_DATA_PATH', 2, "u16 byte length of the data file's path");
export const HDR_DATA_PATH_UTF8 = regionHeader.field('HDR_DATA_PATH_UTF8', DATA_PATH_MAX_BYTES, 'the path (the exchange file is the same path ending in .xchg)', 1);

export const HEADER_BYTES = regionHeader.field('HEADER_BYTES', 0, 'the end: the ring starts on the next page', PAGE);

/** Server states, stored at HDR_SERVER_STATE. */
export const enum ServerState {
  Init = 0,
  Ready = 1,
  Stopping = 2,
  Stopped = 3,
}

/** The server main thread bumps the heartbeat this often. */
export const HEARTBEAT_MS = 100;
/** A client declares the server dead after this long without a heartbeat. */
export const HEARTBEAT_TIMEOUT_MS = 1500;

// ---- The server's private control words ---------------------------------
// An Int32Array over a SharedArrayBuffer of CONTROL_WORDS words that only
// the server's threads share (no file: no client can write it). Protocols:
// server/idle.ts and server/worker.ts.
/** 1 once the server is stopping (a forged region state cannot stop workers). */
export const CONTROL_STOP = 0;
/** The idle worker that polls the ring (worker index + 1), 0 when none. */
export const CONTROL_SPINNER = 1;
/** Futex word of the other idle workers (the bench); bumped to call one. */
export const CONTROL_BENCH_SEQ = 2;
/** How many workers sleep on the bench. */
export const CONTROL_BENCH_SLEEPERS = 3;
export const CONTROL_WORDS = 4;

// ---- Owner words (one Int32 per window; protocol in transport/owners.ts) ----
/** A free window. */
export const OWNER_FREE = 0;
/** Held by the server's reaper: in a reclamation batch, or claimed while it frees the window's staging block. */
export const OWNER_QUARANTINED = -1;
/** Handed to the reaper by a live client: a request in it may still be held by a server thread. */
export const OWNER_ABANDONED = -2;

/**
 * The server stops with "the request ring is corrupt" when the ring's head
 * and tail held still while two checks at least this far apart found the
 * same violation of the ring's invariants (server/ring-audit.ts).
 */
export const RING_AUDIT_MS = 1000;

// ---- Ring slot word --------------------------------------------------------
export const SLOT_BYTES = 4;
export const SLOT_WINDOW_BITS = 19;
export const SLOT_WINDOW_MASK = (1 << SLOT_WINDOW_BITS) - 1;
export const SLOT_FULL = 1 << SLOT_WINDOW_BITS;
export const SLOT_LAP_SHIFT = SLOT_WINDOW_BITS + 1;
export const SLOT_LAP_MASK = (1 << (32 - SLOT_LAP_SHIFT)) - 1;
/** Capacity bounds: a power of two, and lap * capacity must divide 2^32. */
export const MAX_RING_CAPACITY = 1 << SLOT_LAP_SHIFT;
export const MAX_WINDOWS = 1 << SLOT_WINDOW_BITS;

// ---- Window (one per request in flight, on the board) ----------------------
/*
 * WINDOW (WINDOW_BYTES each on the board; all words Int32 unless noted)
 *   offset    bytes  field
 *        0        4  WIN_STATE                 WindowState (+ the Sleeping bit)
 *        4        4  WIN_OP                    Op
 *        8        4  WIN_KEY                   u32 key of a u32 op; CompareSet: the expected tag
 *       12        4  WIN_VALUE                 u32 value / delta / bytes wanted (Reserve) / expected bytes (CompareSet)
 *       16        4  WIN_STATUS                Status of the response
 *       20        4  WIN_RESULT                u32 result of a u32 op
 *       24        4  WIN_KEY_LEN               key bytes in the staging block
 *       28        4  WIN_VALUE_LEN             value bytes after the key (request and response of a byte op)
 *       32        4  WIN_TAG                   ValueTag of the value (request and response)
 *       36        4  WIN_FLAGS                 REQ_* request flags
 *       40        4  WIN_STAGING_OFFSET        the staging block's offset in the staging arena (server writes)
 *       44        4  WIN_STAGING_BYTES         and its bytes (server writes)
 *       48        8  WIN_EXPIRES               f64 deadline of a Set or Expire (ms, CLOCK_MONOTONIC; 0 = never), with REQ_EXPIRES
 *       64        0  WINDOW_BYTES              the end: a window is one cache line
 */
const windowFields = new Fields('WINDOW (WINDOW_BYTES each on the board; all words Int32 unless noted)');
export const WIN_STATE = windowFields.field('WIN_STATE', 4, 'WindowState (+ the Sleeping bit)');
export const WIN_OP = windowFields.field('WIN_OP', 4, 'Op');
export const WIN_KEY = windowFields.field('WIN_KEY', 4, 'u32 key of a u32 op; CompareSet: the expected tag');
export const WIN_VALUE = windowFields.field('WIN_VALUE', 4, 'u32 value / delta / bytes wanted (Reserve) / expected bytes (CompareSet)');
export const WIN_STATUS = windowFields.field('WIN_STATUS', 4, 'Status of the response');
export const WIN_RESULT = windowFields.field('WIN_RESULT', 4, 'u32 result of a u32 op');
export const WIN_KEY_LEN = windowFields.field('WIN_KEY_LEN', 4, 'key bytes in the staging block');
export const WIN_VALUE_LEN = windowFields.field('WIN_VALUE_LEN', 4, 'value bytes after the key (request and response of a byte op)');
export const WIN_TAG = windowFields.field('WIN_TAG', 4, 'ValueTag of the value (request and response)');
export const WIN_FLAGS = windowFields.field('WIN_FLAGS', 4, 'REQ_* request flags');
/** The window's staging block in the exchange file's staging arena: written by the server only (its own copy is authoritative). */
export const WIN_STAGING_OFFSET = windowFields.field('WIN_STAGING_OFFSET', 4, "the staging block's offset in the staging arena (server writes)");
export const WIN_STAGING_BYTES = windowFields.field('WIN_STAGING_BYTES', 4, 'and its bytes (server writes)');
export const WIN_EXPIRES = windowFields.field('WIN_EXPIRES', 8, 'f64 deadline of a Set or Expire (ms, CLOCK_MONOTONIC; 0 = never), with REQ_EXPIRES');
export const WINDOW_BYTES = windowFields.field('WINDOW_BYTES', 0, 'the end: a window is one cache line', CACHE_LINE);

/** Request flags (WIN_FLAGS). */
export const REQ_EXPIRES = 1;
/** CompareSet: on a match, delete the key instead of storing a value. */
export const REQ_DELETE = 2;

/**
 * Window states. Transitions: IDLE -> SUBMITTED (client) -> TAKEN (server,
 * by CAS: a window is executed at most once per submission) -> DONE
 * (server) -> IDLE (client). The owner may add SLEEPING to SUBMITTED or
 * TAKEN (by CAS) before a futex sleep on the word; the server's move to
 * DONE wakes it when the bit was set.
 */
export const enum WindowState {
  Idle = 0,
  Submitted = 1,
  Taken = 2,
  Done = 3,
  /** Bit added by the owner before it sleeps on the state word. */
  Sleeping = 4,
}

export enum Op {
  /** u32 key -> u32 value (the seed's get; result in WIN_RESULT). */
  Get = 1,
  /** Store a u32 value under a u32 key. */
  Put = 2,
  /** value += delta (mod 2^32), absent counts as 0; result = the new value. */
  Add = 3,
  /** Grow the window's staging block to at least WIN_VALUE bytes. */
  Reserve = 4,
  /** Staging holds key then value (keyLen, valueLen, tag): store it. */
  Set = 5,
  /** Staging holds the key: answer the value into staging (tag, valueLen). */
  Read = 6,
  /** Staging holds the key: remove it; Ok or NotFound. */
  Delete = 7,
  /** Staging holds the key: set its deadline to WIN_EXPIRES (0 = never); Ok or NotFound. */
  Expire = 8,
  /**
   * Staging holds the key, the expected value (WIN_VALUE bytes, tag in
   * WIN_KEY; tag 0: the key must be absent) and the new value (valueLen,
   * tag): store the new value (or delete, REQ_DELETE) only if the key holds
   * the expected one. Ok, or Mismatch.
   */
  CompareSet = 9,
  /**
   * Staging holds the key, then a delta (f64, valueLen 8): add it to the
   * key's integer value (absent counts as 0, the ttl stays); the new value
   * is answered like a Read. Ok, WrongType (not an integer), Overflow.
   */
  AddNumber = 10,
  /** Remove every entry, segment by segment. */
  Clear = 11,
}

export enum Status {
  Ok = 0,
  /** The key is absent. */
  NotFound = 1,
  /** The table is at its memory cap. */
  Full = 2,
  /** The server does not know this op. */
  BadOp = 3,
  /** Lengths, tag or staging of the request are out of bounds. */
  BadRequest = 4,
  /** A u32 op met a key whose value is not a u32. */
  WrongType = 5,
  /** The table's shared memory does not hold what the server wrote. */
  Corrupt = 6,
  /** CompareSet: the key does not hold the expected value. */
  Mismatch = 7,
  /** AddNumber: the result is not a safe integer. */
  Overflow = 8,
}

// ---- Region geometry -------------------------------------------------------
export interface RegionGeometry {
  ringCapacity: number;
  windowCount: number;
  windowBytes: number;
}

export interface RegionLayout extends RegionGeometry {
  ringOffset: number;
  ownerOffset: number;
  boardOffset: number;
  /** The client stats area (CLIENT_STATS_*), after the board. */
  clientStatsOffset: number;
  regionBytes: number;
}

export const DEFAULT_RING_CAPACITY = 1024;
export const DEFAULT_WINDOW_COUNT = 8192;
/** An owner word: one Int32 per window. */
export const OWNER_BYTES = 4;

function isPowerOfTwo(n: number): boolean {
  return Number.isInteger(n) && n > 0 && (n & (n - 1)) === 0;
}

/*
 * The region file: the header page, then areas whose sizes follow from the
 * geometry, each starting on a cache line. At the default geometry:
 *
 * REGION FILE (RegionLayout fields, drawn at the default geometry)
 *   offset    bytes  field
 *        0     4096  HDR_MAGIC                 the header page: REGION HEADER, HEADER_BYTES long
 *     4096     4096  ringOffset                ring: ringCapacity slot words (SLOT_*)
 *     8192    32768  ownerOffset               owner table: one owner word per window (transport/owners.ts)
 *    40960   524288  boardOffset               board: windowCount windows (WINDOW)
 *   565248   131264  clientStatsOffset         client stats (CLIENT STATS AREA)
 *   700416        0  regionBytes               the end: whole pages
 */
function regionFile(g: RegionGeometry): { f: Fields; layout: RegionLayout } {
  const f = new Fields('REGION FILE (RegionLayout fields, drawn at the default geometry)');
  f.field('HDR_MAGIC', HEADER_BYTES, 'the header page: REGION HEADER, HEADER_BYTES long', PAGE);
  const ringOffset = f.line().field('ringOffset', g.ringCapacity * SLOT_BYTES, 'ring: ringCapacity slot words (SLOT_*)', CACHE_LINE);
  const ownerOffset = f.line().field('ownerOffset', g.windowCount * OWNER_BYTES, 'owner table: one owner word per window (transport/owners.ts)', CACHE_LINE);
  const boardOffset = f.line().field('boardOffset', g.windowCount * g.windowBytes, 'board: windowCount windows (WINDOW)', CACHE_LINE);
  const clientStatsOffset = f.line().field('clientStatsOffset', CLIENT_STATS_BYTES, 'client stats (CLIENT STATS AREA)', CACHE_LINE);
  const regionBytes = f.field('regionBytes', 0, 'the end: whole pages', PAGE);
  return { f, layout: { ...g, ringOffset, ownerOffset, boardOffset, clientStatsOffset, regionBytes } };
}

/** Compute offsets from a geometry; throws RangeError naming a bad field. */
export function computeLayout(g: RegionGeometry): RegionLayout {
  if (!isPowerOfTwo(g.ringCapacity) || g.ringCapacity > MAX_RING_CAPACITY)
    throw new RangeError(`ring capacity must be a power of two up to ${MAX_RING_CAPACITY}, got ${g.ringCapacity}`);
  if (!Number.isInteger(g.windowCount) || g.windowCount < 1 || g.windowCount > MAX_WINDOWS)
    throw new RangeError(`window count must be 1..${MAX_WINDOWS}, got ${g.windowCount}`);
  if (g.windowBytes !== WINDOW_BYTES)
    throw new RangeError(`window size must be ${WINDOW_BYTES} bytes in layout version ${REGION_VERSION}`);
  return regionFile(g).layout;
}

// ---- Client stats area (the end of the region) -----------------------------
/*
 * Counters only clients know (direct-read hits and misses, fetch's loads,
 * stale values served...), published where the server and ./stat can sum
 * them over processes (client/metrics.ts writes, server/metrics.ts folds and
 * reads). A client claims a line by CAS of its owner word 0 -> pid; a line
 * is free again only after the server folded it (added its counters to the
 * retired ones and zeroed them, inside the fold seqlock), so the machine's
 * sums never go down while the server runs: Prometheus counters stay
 * monotonic when processes come and go.
 */
export const enum ClientStat {
  Hits = 0,
  Misses = 1,
  /** Stale values served (grace: a failed or slow loader, allowStale). */
  StaleServed = 2,
  /** Loader calls this process ran (fetch misses and refreshes). */
  Loads = 3,
  LoadFailures = 4,
  /** Loads started in the background (early refresh, a stale value served while it reloads). */
  Refreshes = 5,
  SoftTimeouts = 6,
  HardTimeouts = 7,
}
export const CLIENT_STAT_COUNT = 8;
export const CLIENT_STATS_LINES = 1024;
export const CS_IN_USE = 0;
export const CS_RELEASED = 1;

/*
 * CLIENT STATS LINE (CLIENT_STATS_LINE_BYTES each, from CS_LINES)
 *   offset    bytes  field
 *        0        4  CS_OWNER                  Int32 owner pid: 0 = free
 *        4        4  CS_STATE                  Int32 CS_IN_USE, or CS_RELEASED once its client closed
 *        8       64  CS_COUNTERS               CLIENT_STAT_COUNT f64 (ClientStat), written by the owner only
 *      128        0  CLIENT_STATS_LINE_BYTES   the end: whole cache lines
 */
const clientStatsLine = new Fields('CLIENT STATS LINE (CLIENT_STATS_LINE_BYTES each, from CS_LINES)');
export const CS_OWNER = clientStatsLine.field('CS_OWNER', 4, 'Int32 owner pid: 0 = free');
export const CS_STATE = clientStatsLine.field('CS_STATE', 4, 'Int32 CS_IN_USE, or CS_RELEASED once its client closed');
export const CS_COUNTERS = clientStatsLine.field('CS_COUNTERS', CLIENT_STAT_COUNT * 8, 'CLIENT_STAT_COUNT f64 (ClientStat), written by the owner only', 8);
export const CLIENT_STATS_LINE_BYTES = clientStatsLine.field('CLIENT_STATS_LINE_BYTES', 0, 'the end: whole cache lines', CACHE_LINE);

/*
 * CLIENT STATS AREA (offsets from RegionLayout.clientStatsOffset)
 *   offset    bytes  field
 *        0        4  CS_SEQ                    Int32 fold seqlock: odd while the server folds a line (main thread only)
 *       64      128  CS_RETIRED                retired counters: CLIENT_STAT_COUNT f64, the sums of every line folded so far
 *      192   131072  CS_LINES                  CLIENT_STATS_LINES lines (CLIENT STATS LINE)
 *   131264        0  CLIENT_STATS_BYTES        the end
 */
const clientStats = new Fields('CLIENT STATS AREA (offsets from RegionLayout.clientStatsOffset)');
export const CS_SEQ = clientStats.field('CS_SEQ', 4, 'Int32 fold seqlock: odd while the server folds a line (main thread only)');
export const CS_RETIRED = clientStats.line().field('CS_RETIRED', CLIENT_STATS_LINE_BYTES, 'retired counters: CLIENT_STAT_COUNT f64, the sums of every line folded so far', CACHE_LINE);
export const CS_LINES = clientStats.line().field('CS_LINES', CLIENT_STATS_LINES * CLIENT_STATS_LINE_BYTES, 'CLIENT_STATS_LINES lines (CLIENT STATS LINE)', CACHE_LINE);
export const CLIENT_STATS_BYTES = clientStats.field('CLIENT_STATS_BYTES', 0, 'the end');

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

const dataHeader = new Fields('DATA FILE META (the header, then the server\'s counters)');
export const D_MAGIC = dataHeader.field('D_MAGIC', 4, 'DATA_MAGIC');
export const D_VERSION = dataHeader.field('D_VERSION', 4, 'DATA_VERSION');
/** Bytes of the whole file (f64: it may pass 2^32). */
export const D_BYTES = dataHeader.field('D_BYTES', 8, 'f64: the whole file, = the memory budget');
export const D_CHUNK_BYTES = dataHeader.field('D_CHUNK_BYTES', 4);
export const D_CHUNKS = dataHeader.field('D_CHUNKS', 4, 'a power of two');
export const D_SEGMENT_BITS = dataHeader.field('D_SEGMENT_BITS', 4);
export const D_SEED = dataHeader.field('D_SEED', 4, 'hash seed, random at creation');
export const D_MAX_KEY_BYTES = dataHeader.field('D_MAX_KEY_BYTES', 4);
export const D_MAX_VALUE_BYTES = dataHeader.field('D_MAX_VALUE_BYTES', 4);
/** When the table was created (f64, ms since the epoch). */
export const D_CREATED_AT = dataHeader.field('D_CREATED_AT', 8, 'f64 ms since the epoch');
/** The boot it was last served in (/proc/sys/kernel/random/boot_id): deadlines are on CLOCK_MONOTONIC, which a reboot restarts. */
export const D_BOOT_ID = dataHeader.field('D_BOOT_ID', BOOT_ID_BYTES, 'boot_id of its last boot: CLOCK_MONOTONIC is per boot', 8);
export const D_DEFAULT_TTL_MS = dataHeader.line().field('D_DEFAULT_TTL_MS', 4, "the server's --ttl: clients apply it");
export const D_EVICTION = dataHeader.field('D_EVICTION', 4, 'Eviction: the policy at the cap');
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
export const D_STARTED_AT = dataHeader.field('D_STARTED_AT', 8, 'f64 ms since the epoch');
export const D_CLOCK_WALL = dataHeader.line().field('D_CLOCK_WALL', 8, 'f64 Date.now() at the last beat');
export const D_CLOCK_MONO = dataHeader.field('D_CLOCK_MONO', 8, 'f64 monotonic ms at the same beat');
/** Snapshots finished since the table was created, and how the last one went (SnapshotResult): `--snapshot-now` waits on them. */
export const D_SNAPSHOTS = dataHeader.field('D_SNAPSHOTS', 4, 'snapshots finished');
export const D_SNAPSHOT_RESULT = dataHeader.field('D_SNAPSHOT_RESULT', 4, 'SnapshotResult of the last one');
export const D_SERVED_END = dataHeader.field('D_SERVED_END', 0, 'the end of what the server rewrites as it serves');
export const enum SnapshotResult {
  Written = 0,
  Failed = 1,
  /** The server has no --snapshot file. */
  NoFile = 2,
}
/** The region path this cache belongs to: u16 length, then UTF-8 (a data file whose region is gone is an orphan). */
export const D_REGION_PATH = dataHeader.line().field('D_REGION_PATH', 2, 'u16 byte length of the region path');
export const D_REGION_PATH_UTF8 = dataHeader.field('D_REGION_PATH_UTF8', REGION_PATH_MAX_BYTES, 'the region path this cache belongs to (gone: an orphan)', 1);
export const D_STATS = dataHeader.line().field('D_STATS', STATS_LINES * STATS_LINE_BYTES, 'STATS_LINES stats lines of STATS_LINE_BYTES', CACHE_LINE);
/** Bytes of the meta area: header and counters, page-aligned (the first chunk starts there). */
export const META_BYTES = dataHeader.field('META_BYTES', 0, 'the end: chunk 0 starts on this page', PAGE);

/** Largest chunk: offsets stay below 2^31 (V8 small integers; Node 20 and 22 Buffer#write fails past 2^31). */
export const MAX_CHUNK_BYTES = 2 ** 31 - 2 ** 20;

/*
 * CHUNK (its header line, then the directory of its segments, then its heap)
 *   offset    bytes  field
 *        0        4  C_MAGIC                   CHUNK_MAGIC ^ chunk index
 *        4        4  C_HEAP_START              page-aligned
 *        8        4  C_HEAP_END                = chunk bytes
 *       64        0  C_DIRECTORY               SEGMENT_BYTES per segment of the chunk
 */
const chunkHeader = new Fields('CHUNK (its header line, then the directory of its segments, then its heap)');
export const C_MAGIC = chunkHeader.field('C_MAGIC', 4, 'CHUNK_MAGIC ^ chunk index');
export const C_HEAP_START = chunkHeader.field('C_HEAP_START', 4, 'page-aligned');
export const C_HEAP_END = chunkHeader.field('C_HEAP_END', 4, '= chunk bytes');
export const C_DIRECTORY = chunkHeader.line().field('C_DIRECTORY', 0, 'SEGMENT_BYTES per segment of the chunk', CACHE_LINE);
export const CHUNK_MAGIC = 0x4b4e4843; // "CHNK"

/**
 * A segment's directory entry, in its chunk: what readers need. The
 * server's authoritative copies of these words are private (PRIVATE
 * below); the file holds a mirror that the server writes and, when another
 * process forged it, puts back.
 *
 * SEGMENT DIRECTORY ENTRY (one cache line: writers of different segments do not false-share)
 *   offset    bytes  field
 *        0        4  SEG_VERSION               seqlock: odd while a writer is inside
 *        4        4  SEG_COUNT                 keys in the segment
 *        8        4  SEG_INDEX                 offset | log2(capacity)
 *       12        4  SEG_INDEX_BLOCK           its heap block; one 8-byte store with the word above
 *       64        0  SEGMENT_BYTES             the end: one cache line
 */
const segmentFields = new Fields('SEGMENT DIRECTORY ENTRY (one cache line: writers of different segments do not false-share)');
/** The seqlock: odd while a server thread changes anything a reader of this segment can reach. */
export const SEG_VERSION = segmentFields.field('SEG_VERSION', 4, 'seqlock: odd while a writer is inside');
export const SEG_COUNT = segmentFields.field('SEG_COUNT', 4, 'keys in the segment');
/**
 * The index: its offset (CACHE_LINE-aligned) with log2 of its capacity in
 * the low 6 bits (what readers read), and the heap block that holds it
 * (what recovery needs to know which block is the index's). The two words
 * are one 8-byte field, stored by one 8-byte atomic store: a crash leaves
 * both old or both new.
 */
export const SEG_INDEX = segmentFields.field('SEG_INDEX', 4, 'offset | log2(capacity)', 8);
export const SEG_INDEX_BLOCK = segmentFields.field('SEG_INDEX_BLOCK', 4, 'its heap block; one 8-byte store with the word above');
export const SEGMENT_BYTES = segmentFields.field('SEGMENT_BYTES', 0, 'the end: one cache line', CACHE_LINE);
export const INDEX_LOG2_MASK = CACHE_LINE - 1;

/** Directory bytes of a chunk holding `segments` segments. */
export function chunkHeapStart(segmentsPerChunk: number): number {
  return alignUp(C_DIRECTORY + segmentsPerChunk * SEGMENT_BYTES, PAGE);
}

export const DEFAULT_SEGMENT_BITS = 8;
export const MAX_SEGMENT_BITS = 12;
/** Largest segment index: 2^MAX_INDEX_LOG2 slots. */
export const MAX_INDEX_LOG2 = 26;
/** Grow a segment's index when count exceeds capacity * GROW_NUM / GROW_DEN. */
export const GROW_NUM = 3;
export const GROW_DEN = 4;
/** When the index cannot grow (memory cap), inserts go on up to this load. */
export const FULL_NUM = 15;
export const FULL_DEN = 16;

/*
 * Index slot: [hash, entry, key, value], each a u32. A u32 key holding a
 * u32 value with no deadline lives in the slot itself (entry =
 * ENTRY_INLINE): a lookup then touches the slot's cache line only, not a
 * second line (or two) for a heap entry. That is what the u32 replay spends
 * its time on (a table operation is mostly cache misses). Any other value
 * of a u32 key (a string, a deadline) moves it to a heap entry; a later u32
 * value without deadline moves it back.
 *
 * CRASH SAFETY. The entry word is stored last when a slot is filled and
 * first (to 0) when one is emptied: a slot caught half-written by a crash
 * reads as empty, never as a mixture of two keys (recovery.ts).
 *
 * INDEX SLOT (four per cache line; the index is line-aligned)
 *   offset    bytes  field
 *        0        4  IX_HASH                   the key's hash (its segment: the top bits)
 *        4        4  IX_ENTRY                  0 empty, ENTRY_INLINE, else the entry offset
 *        8        4  IX_KEY                    inline: the u32 key
 *       12        4  IX_VALUE                  inline: the u32 value
 *       16        0  IX_BYTES                  the end
 */
const slotFields = new Fields('INDEX SLOT (four per cache line; the index is line-aligned)');
export const IX_HASH = slotFields.field('IX_HASH', 4, "the key's hash (its segment: the top bits)");
export const IX_ENTRY = slotFields.field('IX_ENTRY', 4, '0 empty, ENTRY_INLINE, else the entry offset');
/** The u32 key of an inline slot. */
export const IX_KEY = slotFields.field('IX_KEY', 4, 'inline: the u32 key');
/** The u32 value of an inline slot. */
export const IX_VALUE = slotFields.field('IX_VALUE', 4, 'inline: the u32 value');
export const IX_BYTES = slotFields.field('IX_BYTES', 0, 'the end');
export const IX_WORDS = IX_BYTES / 4;
/** IX_ENTRY of an inline slot: odd, so no block offset (TLSF_ALIGN) can equal it. */
export const ENTRY_INLINE = 1;

/*
 * An entry, in its chunk's heap: the payload of one TLSF block. Entries are
 * never changed once reachable (copy on write): a new value is a new entry,
 * published by one store of the slot's entry word, so a crash leaves the
 * old entry or the new one, never a torn one. `stamp` names the KEY from
 * its insertion to its removal: a new key's entry takes the chunk's write
 * sequence (never 0), and an update's new entry keeps the old one's, so an
 * eviction queue item (hash, stamp) outlives updates (copy on write moves
 * the entry) and never names a later key at the same hash (s3fifo.ts).
 *
 * ENTRY (8-aligned, a heap block payload; never written once reachable)
 *   offset    bytes  field
 *        0        4  ENTRY_VALUE_LEN
 *        4        2  ENTRY_KEY_LEN             key material bytes (<= 65535)
 *        6        1  ENTRY_TAG                 ValueTag
 *        7        1  ENTRY_FLAGS
 *        8        8  ENTRY_EXPIRES             f64 ms on CLOCK_MONOTONIC; 0 = never
 *       16        4  ENTRY_STAMP               the chunk's write sequence when the key was inserted
 *       20        0  ENTRY_HEADER_BYTES        key material, then the value bytes
 */
const entryFields = new Fields('ENTRY (8-aligned, a heap block payload; never written once reachable)');
export const ENTRY_VALUE_LEN = entryFields.field('ENTRY_VALUE_LEN', 4);
export const ENTRY_KEY_LEN = entryFields.field('ENTRY_KEY_LEN', 2, 'key material bytes (<= 65535)');
export const ENTRY_TAG = entryFields.field('ENTRY_TAG', 1, 'ValueTag');
export const ENTRY_FLAGS = entryFields.field('ENTRY_FLAGS', 1);
export const ENTRY_EXPIRES = entryFields.field('ENTRY_EXPIRES', 8, 'f64 ms on CLOCK_MONOTONIC; 0 = never');
export const ENTRY_STAMP = entryFields.field('ENTRY_STAMP', 4, "the chunk's write sequence when the key was inserted");
export const ENTRY_HEADER_BYTES = entryFields.field('ENTRY_HEADER_BYTES', 0, 'key material, then the value bytes');

/** Bytes of an entry with these key and value lengths (before block rounding). */
export function entryBytes(keyLen: number, valueLen: number): number {
  return ENTRY_HEADER_BYTES + keyLen + valueLen;
}

/** Bytes of a heap block that holds an index of `capacity` slots, aligned up to CACHE_LINE inside it. */
export function indexBlockBytes(capacity: number): number {
  return capacity * IX_BYTES + CACHE_LINE - TLSF_ALIGN;
}

/** Where the index goes in a block allocated at `block`. */
export function indexInBlock(block: number): number {
  return alignUp(block, CACHE_LINE);
}

// TLSF (Masmano et al., 2004): good-fit in O(1), immediate coalescing. The
// block headers are in the heap (a data-file chunk); the bitmaps and
// free-list heads are the server's private state (PRIVATE below), rebuilt
// from the live blocks when a heap is adopted.
export const TLSF_ALIGN = 8;
export const TLSF_SL_BITS = 4;
export const TLSF_SL_COUNT = 1 << TLSF_SL_BITS;
/** Sizes below this use linear classes of TLSF_ALIGN bytes (first level 0). */
export const TLSF_SMALL_BYTES = TLSF_SL_COUNT * TLSF_ALIGN;
/** First-level classes: enough for any size below 2^31. */
export const TLSF_FL_COUNT = 25;
/** Flags in the low bits of BLOCK_SIZE (sizes are TLSF_ALIGN multiples). */
export const BLOCK_FREE = 1;
export const BLOCK_PREV_FREE = 2;
export const BLOCK_FLAG_MASK = 7;

/*
 * TLSF BLOCK (in a chunk's heap: a header, then the payload at BLOCK_HEADER_BYTES)
 *   offset    bytes  field
 *        0        4  BLOCK_PREV_PHYS           the previous block in memory (read only when BLOCK_PREV_FREE)
 *        4        4  BLOCK_SIZE                payload bytes | BLOCK_FREE | BLOCK_PREV_FREE
 *        8        0  BLOCK_HEADER_BYTES        the payload (an entry, an index, free)
 *        8        4  BLOCK_NEXT_FREE           a free block: the next in its free list
 *       12        4  BLOCK_PREV_FREE_LINK      and the previous
 */
const blockFields = new Fields("TLSF BLOCK (in a chunk's heap: a header, then the payload at BLOCK_HEADER_BYTES)");
export const BLOCK_PREV_PHYS = blockFields.field('BLOCK_PREV_PHYS', 4, 'the previous block in memory (read only when BLOCK_PREV_FREE)');
export const BLOCK_SIZE = blockFields.field('BLOCK_SIZE', 4, 'payload bytes | BLOCK_FREE | BLOCK_PREV_FREE');
export const BLOCK_HEADER_BYTES = blockFields.field('BLOCK_HEADER_BYTES', 0, 'the payload (an entry, an index, free)');
/** Free-list links, inside the payload of a free block. */
export const BLOCK_NEXT_FREE = blockFields.field('BLOCK_NEXT_FREE', 4, 'a free block: the next in its free list');
export const BLOCK_PREV_FREE_LINK = blockFields.field('BLOCK_PREV_FREE_LINK', 4, 'and the previous');
/** The smallest payload: room for the free-list links. */
export const BLOCK_MIN_PAYLOAD = blockFields.size() - BLOCK_HEADER_BYTES;

/** First byte of a key's material. */
export const enum KeyKind {
  U32 = 0,
  String = 1,
  Bytes = 2,
  /**
   * The library's pinned keys (the codec's shared record structures):
   * never evicted, never removed by clear(), invisible to key scans.
   */
  System = 3,
  /**
   * The client's reserved keys (tag and namespace tokens, namespaced
   * entries, fetch's leases: src/client/reserved.ts): evicted and cleared
   * like any key, listed only by scans that ask for them.
   */
  Reserved = 4,
}
export const KEY_KIND_BYTES = 1;

/** How a value's bytes are to be read back. */
export enum ValueTag {
  U32 = 1,
  F64 = 2,
  String = 3,
  Buffer = 4,
  Uint8Array = 5,
  True = 6,
  False = 7,
  Null = 8,
  Msgpack = 9,
  V8 = 10,
  Json = 11,
  /** A fetch() in progress: bytes = holder pid (u32); reads as absent. */
  Lease = 12,
  /** A fetch() whose loader failed: bytes = the error message (UTF-8); reads as absent. */
  Failed = 13,
  /**
   * A value with client-side metadata (freshness for grace, tag tokens):
   * bytes = the envelope of src/client/meta.ts, the value inside. The
   * server stores it like any byte value; clients judge it at read.
   */
  Meta = 14,
  /**
   * The tagged structured format (src/codec/records.ts): a format byte
   * naming the codec, the epoch of the table's shared record structures,
   * then the codec's bytes (msgpackr records against those structures).
   */
  Tagged = 15,
}
export const MAX_VALUE_TAG = 15;

/** Bit t set: t is a ValueTag this build knows (tags are assigned sparsely). */
const KNOWN_VALUE_TAGS = Object.values(ValueTag).reduce<number>((m, t) => (typeof t === 'number' ? m | (1 << t) : m), 0);

/** Whether `tag` is a ValueTag of this build (a request check: a tag from shared memory is any number). */
export function isValueTag(tag: number): boolean {
  return tag >= 1 && tag <= MAX_VALUE_TAG && ((KNOWN_VALUE_TAGS >>> tag) & 1) === 1;
}

/** Byte length a fixed-size tag requires, or -1 for variable-length tags. */
export function fixedValueBytes(tag: number): number {
  switch (tag) {
    case ValueTag.U32:
      return 4;
    case ValueTag.F64:
      return 8;
    case ValueTag.True:
    case ValueTag.False:
    case ValueTag.Null:
      return 0;
    default:
      return -1;
  }
}

/** A known tag, with a length its fixed size allows: what the server stores (a request) and keeps (a repair). */
export function valueShapeOk(tag: number, len: number): boolean {
  if (!isValueTag(tag)) return false;
  const fixed = fixedValueBytes(tag);
  return fixed < 0 || len === fixed;
}

/** A value a structured codec wrote (src/codec): its bytes are decoded by one. */
export function isCodecTag(tag: number): boolean {
  return tag === ValueTag.Msgpack || tag === ValueTag.V8 || tag === ValueTag.Json || tag === ValueTag.Tagged;
}

/** fetch()'s bookkeeping (a lease, a failure mark): stored like values, read as absent. */
export function isFetchMark(tag: number): boolean {
  return tag === ValueTag.Lease || tag === ValueTag.Failed;
}

export const DEFAULT_MAX_KEY_BYTES = 4096;
export const DEFAULT_MAX_VALUE_BYTES = 1024 * 1024;
/** Upper bounds for the server's configurable limits (a key's material length is a u16). */
export const MAX_KEY_BYTES_LIMIT = 65534;
export const MAX_VALUE_BYTES_LIMIT = 512 * 1024 * 1024;
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

// ---- Exchange file: what clients write (staging) and eviction hints ---------
/*
 * The exchange file is the one shared mapping besides the region that
 * clients write: request and response bytes (staging blocks, one per window
 * that carries bytes) and eviction hints (readers mark what they read). The
 * server trusts nothing in it: every length it reads there is checked
 * against its own records, and a forged hint only changes which entry is
 * evicted. A new one is made at every start (nothing in it is worth keeping).
 *
 * EXCHANGE FILE: header, then one hint map per data chunk, then the staging arena
 *   offset    bytes  field
 *        0        4  X_MAGIC
 *        4        4  X_VERSION
 *        8        4  X_HINT_BYTES              of each chunk (page-aligned)
 *       12        4  X_ARENA_BYTES
 *     4096        0  X_HINTS                   the hint maps, then the staging arena
 */
export const XCHG_MAGIC = 0x47484358; // "XCHG"
const xchgHeader = new Fields('EXCHANGE FILE: header, then one hint map per data chunk, then the staging arena');
export const X_MAGIC = xchgHeader.field('X_MAGIC', 4);
export const X_VERSION = xchgHeader.field('X_VERSION', 4);
export const X_HINT_BYTES = xchgHeader.field('X_HINT_BYTES', 4, 'of each chunk (page-aligned)');
export const X_ARENA_BYTES = xchgHeader.field('X_ARENA_BYTES', 4);
export const X_HINTS = xchgHeader.field('X_HINTS', 0, 'the hint maps, then the staging arena', PAGE);
/**
 * Heap bytes per hint byte: one index slot. A key's hint is its slot's, for
 * an inline u32 and a heap entry alike, so only the hint pages that cover
 * indexes are ever touched (about two bytes per key), and an update (a new
 * entry in the same slot) keeps what readers marked.
 */
export const HINT_GRANULE = IX_BYTES;
/** Staging arena: at least this, else room for four requests at the largest value. */
export const MIN_ARENA_BYTES = 64 * 1024 * 1024;
export const MAX_ARENA_BYTES = 2 ** 30;

/** Hint bytes covering a chunk of `chunkBytes`. */
export function hintBytesOf(chunkBytes: number): number {
  return alignUp(Math.ceil(chunkBytes / HINT_GRANULE), PAGE);
}

/** Bytes of the staging arena for these limits: four of the largest requests, within bounds. */
export function arenaBytesOf(maxKeyBytes: number, maxValueBytes: number): number {
  let n = MIN_ARENA_BYTES;
  while (n < 4 * (maxKeyBytes + KEY_KIND_BYTES + maxValueBytes) && n < MAX_ARENA_BYTES) n *= 2;
  return n;
}

/** Where the staging arena starts in an exchange file for `chunks` chunks of `hintBytes` each. */
export function arenaOffset(chunks: number, hintBytes: number): number {
  return X_HINTS + chunks * hintBytes;
}

/** Staging block every window gets at its first byte request, enough for small requests. */
export const STAGING_DEFAULT_BYTES = 256;

/**
 * Every record of the shared files, in file order: what their drawings
 * above show (test/unit/layout.test.ts holds each drawing to its record).
 */
export function layoutRecords(): Fields[] {
  const region = computeLayout({ ringCapacity: DEFAULT_RING_CAPACITY, windowCount: DEFAULT_WINDOW_COUNT, windowBytes: WINDOW_BYTES });
  return [regionFile(region).f, regionHeader, windowFields, clientStats, clientStatsLine, dataHeader, chunkHeader, segmentFields, slotFields, entryFields, blockFields, xchgHeader];
}

// ---- The server's private state (no file: no client can write it) ----------
/*
 * Words only server threads share, in a SharedArrayBuffer of the server
 * process: the locks (a client that could hold one could stop the server),
 * the authoritative copy of every word the server mirrors into the data
 * file, and the allocators' free lists. Per segment PRIV_SEG_WORDS words;
 * per chunk PRIV_HEAP_WORDS words.
 */
const privSegment = new Fields('PRIVATE, per segment (Int32 words)');
export const PS_LOCK = privSegment.field('lock', 8, '[owner, waiters] (sync/lock.ts)', 4);
export const PS_VERSION = privSegment.field('version', 4, 'authoritative seqlock version');
export const PS_COUNT = privSegment.field('count', 4);
export const PS_INDEX = privSegment.field('index', 4, 'offset | log2(capacity)');
export const PS_INDEX_BLOCK = privSegment.field('indexBlock', 4);
export const PRIV_SEG_WORDS = privSegment.size(8) / 4;

const privHeap = new Fields('PRIVATE, per heap (Int32 words): its allocator');
export const PH_LOCK = privHeap.field('lock', 8, '[owner, waiters]', 4);
export const PH_SEQ = privHeap.field('seq', 4, 'write sequence (entry stamps)');
export const PH_FL_BITMAP = privHeap.field('flBitmap', 4);
export const PH_SL_BITMAPS = privHeap.field('slBitmaps', 4 * TLSF_FL_COUNT, '', 4);
export const PH_FREE_HEADS = privHeap.field('freeHeads', 4 * TLSF_FL_COUNT * TLSF_SL_COUNT, 'block offsets', 4);
export const PH_USED_BYTES = privHeap.field('usedBytes', 4, 'allocated, headers included');
export const PRIV_HEAP_WORDS = privHeap.size(8) / 4;

// ---- Eviction queues (private): S3-FIFO per chunk (store/s3fifo.ts) ---------
/*
 * Each chunk has a small FIFO, a main FIFO and a ghost, shared by the
 * server's threads under one lock per chunk. Their control words are in
 * the private state (PRIV_QUEUE_WORDS per chunk, after the heaps); their
 * items and fingerprints are in growable SharedArrayBuffers of the server
 * process (three per chunk: small, main, ghost), grown as they fill and
 * sized to what they hold, never to the budget: a growable buffer reserves
 * address space up to its maximum but commits only its length.
 *
 * MEMORY PER ENTRY: one item (QUEUE_ITEM_BYTES = 8) per queued key, in a
 * ring grown by QRING_GROWTH (1.25x) and compacted once it holds more than
 * TIDY_ITEMS_PER_KEY items per key (s3fifo-tidy.ts); a ghost of
 * GHOST_FP_BYTES (2) per slot, GHOST_WAYS to a bucket, between 1 and 2
 * slots per entry of the main queue (buckets double). About 8 x 1.25 + 2 x
 * 1.5 = 13 B per entry, 8 + 2 = 10 at best, 8 x 1.25 x 1.5 + 4 = 19 at
 * worst by this count, 11-20 B per entry held as measured (rings near
 * their compaction threshold); the CLOCK policy uses none of it
 * (bench/studies/POLICY.md, "S3-FIFO in the store").
 */
const ringFields = new Fields('PRIVATE, one FIFO ring of queue items (store/item-ring.ts): Int32 words');
export const QRING_TAIL = ringFields.field('tail', 4, 'position of the oldest item');
export const QRING_HEAD = ringFields.field('head', 4, 'position of the next push');
export const QRING_WRITE = ringFields.field('write', 4, 'compaction: next kept item goes here');
export const QRING_READ = ringFields.field('read', 4, 'compaction: next item to judge');
export const QRING_MARK = ringFields.field('mark', 4, 'compaction: the head when the pass began');
export const QRING_CAP = ringFields.field('cap', 4, 'items the buffer holds');
export const QRING_ACTIVE = ringFields.field('active', 4, '1 while a compaction pass runs');
export const QRING_POPS = ringFields.field('pops', 4, 'items popped (wraps): compaction tickets');
export const QRING_EPOCH = ringFields.field('epoch', 4, 'bumped when positions move under a pass');
export const QRING_WORDS = ringFields.size() / 4;

const privQueue = new Fields('PRIVATE, per chunk (Int32 words): its eviction queues (store/s3fifo.ts)');
export const PQ_LOCK = privQueue.field('lock', 8, '[owner, waiters] (sync/lock.ts)', 4);
export const PQ_GHOST_BUCKETS = privQueue.field('ghostBuckets', 4, 'a power of two, GHOST_WAYS fingerprints each');
export const PQ_SMALL = privQueue.field('small', QRING_WORDS * 4, 'the small FIFO (QQRING_* words)', 4);
export const PQ_MAIN = privQueue.field('main', QRING_WORDS * 4, 'the main FIFO (QQRING_* words)', 4);
/** A chunk's queue words fill whole cache lines: threads evicting in two chunks do not false-share. */
export const PRIV_QUEUE_WORDS = privQueue.size(CACHE_LINE) / 4;

const itemFields = new Fields("QUEUE ITEM (in a ring's growable buffer): one key of the chunk, from insertion to removal");
export const ITEM_A = itemFields.field('a', 4, "the key's hash; a u32 key when b = 0");
export const ITEM_B = itemFields.field('b', 4, "the entry's stamp (ENTRY_STAMP, never 0); 0: a u32 key");
export const QUEUE_ITEM_BYTES = itemFields.size();
export const QUEUE_ITEM_WORDS = QUEUE_ITEM_BYTES / 4;
/** A ring grows by this factor (and by at least QRING_MIN_ITEMS). */
export const QRING_GROWTH = 1.25;
export const QRING_MIN_ITEMS = 512;
/** Ghost buckets: GHOST_WAYS fingerprints of GHOST_FP_BYTES, newest first. */
export const GHOST_WAYS = 8;
export const GHOST_FP_BYTES = 2;
export const GHOST_MIN_BUCKETS = 16;
/**
 * Queue items past this many per key of the chunk (plus TIDY_SLACK_ITEMS)
 * start a compaction pass (stale items of deleted, expired or replaced
 * keys go; s3fifo-tidy.ts).
 */
export const TIDY_ITEMS_PER_KEY = 1.5;
export const TIDY_SLACK_ITEMS = 4096;

/**
 * The most a ring's buffer may grow to for a chunk heap of `heapBytes`:
 * every key takes an index slot, so a chunk holds at most heapBytes /
 * IX_BYTES keys; room for twice that many items (compaction keeps them
 * below 1.5 per key), within a typed array's 2^32 bytes.
 */
export function ringMaxBytes(heapBytes: number): number {
  return Math.min(2 ** 32 - PAGE, alignUp(2 * Math.ceil(heapBytes / IX_BYTES) * QUEUE_ITEM_BYTES, PAGE));
}

/** The most a ghost's buffer may grow to: a slot per key the heap can hold, rounded up to buckets (a power of two). */
export function ghostMaxBytes(heapBytes: number): number {
  let buckets = GHOST_MIN_BUCKETS;
  while (buckets * GHOST_WAYS < heapBytes / IX_BYTES) buckets *= 2;
  return buckets * GHOST_WAYS * GHOST_FP_BYTES;
}

/** Every drawing above, the private state's too: `node -p "require('./dist/src/layout/layout').drawLayouts()"`. */
export function drawLayouts(): string {
  return [...layoutRecords(), privSegment, privHeap, privQueue, ringFields, itemFields].map((f) => f.draw()).join('\n\n');
}
