/**
 * The single source of truth for every shared-memory layout in the project:
 * the region file that server and clients map, the data file that holds
 * the table (which clients map and read directly), and the server's private
 * control words. No other module hard-codes an offset or a size.
 *
 * All offsets are in bytes unless named *_I32 (an index into an Int32Array
 * over the same buffer). Every line that another process writes often sits
 * on its own 64-byte cache line, so that producers, consumers and the
 * heartbeat do not false-share.
 *
 * REGION FILE (shmem_file), version REGION_VERSION
 *
 *   0        +-----------------------------------------------------------+
 *            | header line 0: identity and geometry (written once by the |
 *            |   server before it publishes state READY)                 |
 *            |   magic, version, header bytes, region bytes,             |
 *            |   ring offset, ring capacity, owner table offset,         |
 *            |   board offset, window count, window bytes                |
 *   64       | header line 1: server liveness                            |
 *            |   pid, state (INIT/READY/STOPPING/STOPPED), heartbeat,    |
 *            |   server threads                                          |
 *   128      | board allocation lock [owner pid, waiters]                |
 *   192      | ring tail (producers' position)                           |
 *   256      | ring head (consumers' position)                           |
 *   320      | ring not-empty event count [seq, sleepers flag]           |
 *   384      | ring not-full event count [seq, sleepers flag]            |
 *   512      | per-server-thread busy words (MAX_SERVER_THREADS i32),    |
 *            |   odd while that thread may hold a request (reaper.ts)    |
 *   1536     | data file: its size (u32), its path (u16 length + UTF-8,  |
 *            |   at most DATA_PATH_MAX_BYTES): the table's mapping       |
 *   4096     +-----------------------------------------------------------+
 *            | ring: RING_CAPACITY Int32 slot words                      |
 *            |   slot word = lap(12) | full(1) | window index(19)        |
 *            +-----------------------------------------------------------+
 *            | owner table: one Int32 per window: owning client pid,     |
 *            |   0 when free                                             |
 *            +-----------------------------------------------------------+
 *            | board: WINDOW_COUNT windows of WINDOW_BYTES each          |
 *            |   0  state   IDLE/SUBMITTED/TAKEN/DONE (+SLEEPING bit)    |
 *            |   4  op      see Op                                       |
 *            |   8  key     u32 key (u32 ops)                            |
 *            |   12 value   u32 value / delta / bytes wanted (Reserve)   |
 *            |   16 status  response status                              |
 *            |   20 result  u32 result of a u32 op                       |
 *            |   24 keyLen  key bytes in the staging block               |
 *            |   28 valueLen value bytes after the key (request and      |
 *            |              response of a byte op)                       |
 *            |   32 tag     ValueTag of the value (request and response) |
 *            |   36 flags   request flags (REQ_*)                        |
 *            |   40 staging offset, 44 staging bytes: the window's       |
 *            |      staging block in the data file, written by the       |
 *            |      server only (its own copy is authoritative)          |
 *            |   48 expires f64: deadline of a Set or Expire (ms on      |
 *            |      CLOCK_MONOTONIC; 0 = never), with REQ_EXPIRES        |
 *            +-----------------------------------------------------------+
 *
 * Every request and its response live in the client's own window; the ring
 * carries only window indices. That keeps a ring slot to one word, so
 * claiming a slot and publishing into it are one CAS and a client killed at
 * any instant can never leave a half-written slot behind (see ring.ts). It
 * is also what lets variable-length payloads come later: they go in the
 * window's payload area (and windows can grow, WINDOW_BYTES is in the
 * header), while the ring and its protocol stay as they are.
 */

export const CACHE_LINE = 64;
export const PAGE = 4096;

// ---- Region identity -------------------------------------------------------
/** "SHKV" little-endian. */
export const REGION_MAGIC = 0x564b4853;
/** Bump on any change to the region layout, the data file's, or their protocols. */
export const REGION_VERSION = 4;

// ---- Region header (byte offsets, all Int32) -------------------------------
export const HDR_MAGIC = 0;
export const HDR_VERSION = 4;
export const HDR_HEADER_BYTES = 8;
export const HDR_REGION_BYTES = 12;
export const HDR_RING_OFFSET = 16;
export const HDR_RING_CAPACITY = 20;
export const HDR_OWNER_OFFSET = 24;
export const HDR_BOARD_OFFSET = 28;
export const HDR_WINDOW_COUNT = 32;
export const HDR_WINDOW_BYTES = 36;

export const HDR_SERVER_PID = 64;
export const HDR_SERVER_STATE = 68;
export const HDR_HEARTBEAT = 72;
export const HDR_SERVER_THREADS = 76;

export const HDR_BOARD_LOCK = 128;
export const HDR_RING_TAIL = 192;
export const HDR_RING_HEAD = 256;
export const HDR_NOT_EMPTY = 320; // [seq, sleepers flag] (waiter.ts EventCount)
export const HDR_NOT_FULL = 384; // [seq, sleepers flag]
export const HDR_BUSY = 512;
export const MAX_SERVER_THREADS = 256;
/** Size in bytes (u32) of the data file holding the table. */
export const HDR_DATA_BYTES = 1536;
/** Path of the data file: u16 byte length, then UTF-8 bytes. */
export const HDR_DATA_PATH = 1540;
export const DATA_PATH_MAX_BYTES = 1024;

export const HEADER_BYTES = PAGE;

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

/**
 * A client waits at most this long for the board lock (attach, detach) and
 * then fails with BoardLockedError naming the holder: a holder that is alive
 * but stopped (SIGSTOP, a debugger) must not hang every other client. The
 * server never waits for that lock at all.
 */
export const BOARD_LOCK_WAIT_MS = 5000;

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

// ---- Window (byte offsets within a window) ---------------------------------
export const WIN_STATE = 0;
export const WIN_OP = 4;
export const WIN_KEY = 8;
export const WIN_VALUE = 12;
export const WIN_STATUS = 16;
export const WIN_RESULT = 20;
export const WIN_KEY_LEN = 24;
export const WIN_VALUE_LEN = 28;
export const WIN_TAG = 32;
export const WIN_FLAGS = 36;
export const WIN_STAGING_OFFSET = 40;
export const WIN_STAGING_BYTES = 44;
export const WIN_EXPIRES = 48;
export const WINDOW_BYTES = 64;

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
  regionBytes: number;
}

export const DEFAULT_RING_CAPACITY = 1024;
export const DEFAULT_WINDOW_COUNT = 8192;

function alignUp(n: number, a: number): number {
  return Math.ceil(n / a) * a;
}

function isPowerOfTwo(n: number): boolean {
  return Number.isInteger(n) && n > 0 && (n & (n - 1)) === 0;
}

/** Compute offsets from a geometry; throws RangeError naming a bad field. */
export function computeLayout(g: RegionGeometry): RegionLayout {
  if (!isPowerOfTwo(g.ringCapacity) || g.ringCapacity > MAX_RING_CAPACITY)
    throw new RangeError(`ring capacity must be a power of two up to ${MAX_RING_CAPACITY}, got ${g.ringCapacity}`);
  if (!Number.isInteger(g.windowCount) || g.windowCount < 1 || g.windowCount > MAX_WINDOWS)
    throw new RangeError(`window count must be 1..${MAX_WINDOWS}, got ${g.windowCount}`);
  if (g.windowBytes !== WINDOW_BYTES)
    throw new RangeError(`window size must be ${WINDOW_BYTES} bytes in layout version ${REGION_VERSION}`);
  const ringOffset = HEADER_BYTES;
  const ownerOffset = alignUp(ringOffset + g.ringCapacity * SLOT_BYTES, CACHE_LINE);
  const boardOffset = alignUp(ownerOffset + g.windowCount * 4, CACHE_LINE);
  const regionBytes = alignUp(boardOffset + g.windowCount * g.windowBytes, PAGE);
  return { ...g, ringOffset, ownerOffset, boardOffset, regionBytes };
}

// ---- Data file: the table (server threads write, clients read directly) ----
/*
 * DATA FILE (a separate mapping, named in the region header; under /dev/shm
 * by default: tmpfs, so the kernel never writes the table back to disk)
 *
 *   0      data header: magic, version, bytes, segment bits, hash seed,
 *          coarse flag, max key bytes, max value bytes, heap start/end,
 *          entries (keys stored), used bytes (allocated blocks), default
 *          ttl (ms)
 *   64     allocator lock [owner, waiters]: server threads only
 *   128    TLSF first-level bitmap
 *   192    TLSF second-level bitmaps: TLSF_FL_COUNT u32
 *   320    TLSF free-list heads: TLSF_FL_COUNT x TLSF_SL_COUNT block offsets
 *   2048   start time (f64, ms since the epoch)
 *   4096   counters: a 64-byte line of f64 per server thread (Stat)
 *   20544  segment directory: 2^segmentBits x SEGMENT_BYTES
 *            0 lock [owner, waiters]  (server threads only)
 *            8 version: the segment's seqlock, odd while a server thread
 *              changes anything a reader of this segment can reach
 *           12 count, 16 capacity (power of two), 20 index offset
 *              (CACHE_LINE-aligned), 24 the heap block holding it
 *   map    visited map: one byte per VISITED_GRANULE bytes of heap; a
 *          reader that finds an entry stores 1 into the byte of the
 *          entry's offset, or of an inline slot's offset (eviction's
 *          CLOCK bit; a slot is one granule). Kept apart from the
 *          entries so that a reader's store can never land in a block
 *          freed and reused meanwhile: at worst it marks a neighbour.
 *   heap   TLSF blocks, each BLOCK_HEADER_BYTES then its payload:
 *            [prevPhys u32 | size u32 with FREE and PREV_FREE bits]
 *          A block holds a segment index (capacity x INDEX_SLOT_BYTES
 *          slots: [hash u32, entry u32, key u32, value u32], entry 0 =
 *          empty, ENTRY_INLINE = a u32 key and u32 value with no deadline
 *          held in the slot itself, else the offset of an entry), an
 *          entry, or a window's staging area. An entry:
 *            0 hash, 4 keyLen, 8 valueLen, 12 tag (u8), 13 flags (u8),
 *            16 expires (f64, ms; 0 = never), 24 key bytes, value bytes
 *          Key bytes are the key's material: a KeyKind byte, then the
 *          key (u32 little-endian, UTF-8, or raw bytes), so 1, '1' and
 *          the bytes of '1' are three keys.
 */
export const DATA_MAGIC = 0x54564b53; // "SKVT"
export const D_MAGIC = 0;
export const D_VERSION = 4;
export const D_BYTES = 8;
export const D_SEGMENT_BITS = 12;
export const D_SEED = 16;
export const D_COARSE = 20;
export const D_MAX_KEY_BYTES = 24;
export const D_MAX_VALUE_BYTES = 28;
export const D_HEAP_START = 32;
export const D_HEAP_END = 36;
export const D_ENTRIES = 40;
export const D_USED_BYTES = 44;
/** Server's default time to live in ms (0 = none): clients apply it to writes without a ttl. */
export const D_DEFAULT_TTL_MS = 48;
export const D_ALLOC_LOCK = 64;
export const D_FL_BITMAP = 128;
export const D_SL_BITMAPS = 192;
export const D_FREE_HEADS = 320;
/** When the server started (f64, ms since the epoch). */
export const D_STARTED_AT = 2048;
/**
 * Server counters: one cache line of f64 counters per server thread (its
 * index; the main thread uses the last line), each written by its thread
 * only and summed by readers: no shared counter word on the hot path.
 */
export const D_STATS = 4096;
export const STATS_LINE_BYTES = 64;
export const STATS_LINES = MAX_SERVER_THREADS + 1;
export const STATS_MAIN_LINE = MAX_SERVER_THREADS;
export const enum Stat {
  Requests = 0,
  Sets = 1,
  Deletes = 2,
  Evictions = 3,
  Expirations = 4,
  ServerReads = 5,
  Refused = 6,
}
export const STAT_COUNT = 7;
export const D_DIRECTORY = D_STATS + STATS_LINES * STATS_LINE_BYTES;
/** Offset of the visited map (bytes). */
export const D_VISITED = 52;
/** Whether writes at the cap evict (1) or are refused (0). */
export const D_EVICTION = 56;
/** Heap bytes per visited-map byte: no two entries start in one granule (a block is >= 16 bytes), nor two index slots. */
export const VISITED_GRANULE = 16;

export const SEGMENT_BYTES = 64;
export const SEG_LOCK = 0;
export const SEG_VERSION = 8;
export const SEG_COUNT = 12;
export const SEG_CAPACITY = 16;
/** The index: CACHE_LINE-aligned, so that a slot never straddles two lines. */
export const SEG_INDEX = 20;
/** The heap block that holds the index (what is freed when it is replaced). */
export const SEG_INDEX_BLOCK = 24;
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
 * Index slot: [hash, entry, key, value], each a u32. The seed's data (a u32
 * key with a u32 value and no deadline) lives in the slot itself, entry =
 * ENTRY_INLINE: a lookup then touches the slot's cache line only, not a
 * second line (or two) for a heap entry. That is what the seed's replay
 * spends its time on (the table op is mostly cache misses). Any other
 * value of a u32 key (a string, a deadline) moves it to a heap entry;
 * a later u32 value without deadline moves it back.
 */
export const INDEX_SLOT_BYTES = 16;
export const INDEX_SLOT_WORDS = INDEX_SLOT_BYTES / 4;
export const SLOT_HASH = 0;
export const SLOT_ENTRY = 4;
/** The u32 key of an inline slot (the key is its material's bytes 1..4, little-endian). */
export const SLOT_KEY = 8;
/** The u32 value of an inline slot. */
export const SLOT_VALUE = 12;
/** SLOT_ENTRY of an inline slot: odd, so no block offset (TLSF_ALIGN) can equal it. */
export const ENTRY_INLINE = 1;

// TLSF (Masmano et al., 2004): good-fit in O(1), immediate coalescing.
export const TLSF_ALIGN = 8;
export const TLSF_SL_BITS = 4;
export const TLSF_SL_COUNT = 1 << TLSF_SL_BITS;
/** Sizes below this use linear classes of TLSF_ALIGN bytes (first level 0). */
export const TLSF_SMALL_BYTES = TLSF_SL_COUNT * TLSF_ALIGN;
/** First-level classes: enough for any u32 size. */
export const TLSF_FL_COUNT = 26;
export const BLOCK_HEADER_BYTES = 8;
export const BLOCK_PREV_PHYS = 0;
export const BLOCK_SIZE = 4;
export const BLOCK_FREE = 1;
export const BLOCK_PREV_FREE = 2;
export const BLOCK_FLAG_MASK = 7;
/** Free-list links, inside the payload of a free block. */
export const BLOCK_NEXT_FREE = 8;
export const BLOCK_PREV_FREE_LINK = 12;
export const BLOCK_MIN_PAYLOAD = 8;

export const ENTRY_HASH = 0;
export const ENTRY_KEY_LEN = 4;
export const ENTRY_VALUE_LEN = 8;
export const ENTRY_TAG = 12;
export const ENTRY_FLAGS = 13;
export const ENTRY_EXPIRES = 16;
export const ENTRY_HEADER_BYTES = 24;

/** First byte of a key's material. */
export const enum KeyKind {
  U32 = 0,
  String = 1,
  Bytes = 2,
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

/** fetch()'s bookkeeping (a lease, a failure mark): stored like values, read as absent. */
export function isFetchMark(tag: number): boolean {
  return tag === ValueTag.Lease || tag === ValueTag.Failed;
}

export const DEFAULT_MAX_KEY_BYTES = 4096;
export const DEFAULT_MAX_VALUE_BYTES = 1024 * 1024;
/** Upper bounds for the server's configurable limits. */
export const MAX_KEY_BYTES_LIMIT = 65536;
export const MAX_VALUE_BYTES_LIMIT = 512 * 1024 * 1024;
/** Largest data file: offsets are u32. */
export const MAX_DATA_BYTES = 2 ** 32 - PAGE;
/** Staging block every window gets at start, enough for small requests. */
export const STAGING_DEFAULT_BYTES = 256;

/** Start of the visited map: one byte per VISITED_GRANULE bytes of heap. */
export function visitedMapStart(segmentBits: number): number {
  return alignUp(D_DIRECTORY + (1 << segmentBits) * SEGMENT_BYTES, CACHE_LINE);
}

/** Start of the heap, after the visited map of a data file of `dataBytes`. */
export function dataHeapStart(segmentBits: number, dataBytes: number): number {
  const map = visitedMapStart(segmentBits);
  return alignUp(map + Math.ceil((dataBytes - map) / VISITED_GRANULE), PAGE);
}

/** Bytes of a heap block that holds an index of `capacity` slots, aligned up to CACHE_LINE inside it. */
export function indexBlockBytes(capacity: number): number {
  return capacity * INDEX_SLOT_BYTES + CACHE_LINE - TLSF_ALIGN;
}

/** Where the index goes in a block allocated at `block`. */
export function indexInBlock(block: number): number {
  return alignUp(block, CACHE_LINE);
}

/** Bytes of an entry with these key and value lengths (before block rounding). */
export function entryBytes(keyLen: number, valueLen: number): number {
  return ENTRY_HEADER_BYTES + keyLen + valueLen;
}
