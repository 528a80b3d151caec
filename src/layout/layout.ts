/**
 * The single source of truth for every shared-memory layout in the project:
 * the region file that server and clients map, and the server-private arena
 * that holds the hash table. No other module hard-codes an offset or a size.
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
 *   4096     +-----------------------------------------------------------+
 *            | ring: RING_CAPACITY Int32 slot words                      |
 *            |   slot word = lap(12) | full(1) | window index(19)        |
 *            +-----------------------------------------------------------+
 *            | owner table: one Int32 per window: owning client pid,     |
 *            |   0 when free                                             |
 *            +-----------------------------------------------------------+
 *            | board: WINDOW_COUNT windows of WINDOW_BYTES each          |
 *            |   0  state   IDLE / SUBMITTED / SLEEPING / DONE           |
 *            |   4  op      GET / PUT / ADD                              |
 *            |   8  key     u32 key                                      |
 *            |   12 value   u32 value of a put                           |
 *            |   16 status  response status                              |
 *            |   20 result  u32 value returned by a get or add           |
 *            |   24 keyLen, 28 valueLen: payload lengths (0 for u32)     |
 *            |   32..WINDOW_BYTES: payload (variable-length keys/values) |
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
/** Bump on any change to the region layout or its protocols. */
export const REGION_VERSION = 1;

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
export const WIN_PAYLOAD = 32;
export const WINDOW_BYTES = 64;

/** Window states. Transitions: IDLE -> SUBMITTED (client) -> [SLEEPING (client)] -> DONE (server) -> IDLE (client). */
export const enum WindowState {
  Idle = 0,
  Submitted = 1,
  /** Submitted, and the owning client thread sleeps on this word. */
  Sleeping = 2,
  Done = 3,
}

export enum Op {
  Get = 1,
  Put = 2,
  /** value += delta (mod 2^32), absent counts as 0; result = the new value. */
  Add = 3,
}

export enum Status {
  Ok = 0,
  /** get: the key is absent (result is 0). */
  NotFound = 1,
  /** put: the table is at its memory cap. */
  Full = 2,
  /** The server does not know this op. */
  BadOp = 3,
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

// ---- Hash-table arena (server-private SharedArrayBuffer) --------------------
/*
 * ARENA (one SharedArrayBuffer shared by the server's worker threads)
 *
 *   0     arena header: segment count (log2), hash seed, coarse flag,
 *         arena bytes, allocation top, entries
 *   64    allocator lock [owner, waiters]
 *   128   free lists: one head offset per table capacity (log2), 0 = empty
 *   512   segment directory: ARENA_SEGMENT_BYTES per segment
 *           lock [owner, waiters], count, capacity (power of two),
 *           table offset (bytes), version
 *   ...   heap: segment tables, each `capacity` entries
 *           entry = [key u32, value u32]; plus a ctrl array of
 *           capacity bytes (0 empty, 1 full) after the entries
 */
export const ARENA_SEGMENT_BITS = 0; // header field offsets follow
export const ARENA_SEED = 4;
export const ARENA_COARSE = 8;
export const ARENA_BYTES = 12;
export const ARENA_TOP = 16;
export const ARENA_ENTRIES = 20;
export const ARENA_ALLOC_LOCK = 64;
export const ARENA_FREE_LISTS = 128;
/** Largest segment table: 2^MAX_SEGMENT_LOG2 entries (free-list slots 0..31). */
export const MAX_SEGMENT_LOG2 = 28;
export const ARENA_DIRECTORY = 512;
export const ARENA_SEGMENT_BYTES = 64;
export const SEG_LOCK = 0; // [owner, waiters]
export const SEG_COUNT = 8;
export const SEG_CAPACITY = 12;
export const SEG_TABLE = 16;
export const ENTRY_BYTES = 8;
/** Grow a segment when count exceeds capacity * GROW_NUM / GROW_DEN. */
export const GROW_NUM = 3;
export const GROW_DEN = 4;
/** At the memory cap, a segment accepts inserts up to this load, then answers Full. */
export const FULL_NUM = 15;
export const FULL_DEN = 16;
export const HEAP_ALIGN = 64;

export function arenaHeapStart(segmentBits: number): number {
  return alignUp(ARENA_DIRECTORY + (1 << segmentBits) * ARENA_SEGMENT_BYTES, HEAP_ALIGN);
}

/** Bytes of a segment table of `capacity` entries (entries, then ctrl bytes). */
export function segmentTableBytes(capacity: number): number {
  return alignUp(capacity * ENTRY_BYTES + capacity, HEAP_ALIGN);
}
