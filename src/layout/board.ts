/**
 * The words a request crosses in the region: the ring's slot word (a
 * window index, a full bit and a lap), the owner table's words (who holds
 * each window) and the board's windows, with the vocabulary a window
 * carries (Op, Status, REQ_* flags, WindowState). Only the words: the
 * protocols are transport/ring.ts, transport/owners.ts and
 * transport/window.ts; where these areas sit in the file is region-file.ts.
 *
 * Every request and its response live in the client's own window; the ring
 * carries only window indices. That keeps a ring slot to one word, so
 * claiming a slot and publishing into it are one CAS and a client killed at
 * any instant can never leave a half-written slot behind (see ring.ts).
 * Keys and values of any length travel in the window's staging block, in
 * the exchange file's staging arena (WIN_STAGING_OFFSET, exchange.ts),
 * while the ring and its protocol stay one word per request.
 */
import { CACHE_LINE, Fields } from './fields';

// ---- Ring slot word --------------------------------------------------------
export const RING_SLOT_BYTES = 4;
export const RING_SLOT_WINDOW_BITS = 19;
export const RING_SLOT_WINDOW_MASK = (1 << RING_SLOT_WINDOW_BITS) - 1;
export const RING_SLOT_FULL = 1 << RING_SLOT_WINDOW_BITS;
export const RING_SLOT_LAP_SHIFT = RING_SLOT_WINDOW_BITS + 1;
export const RING_SLOT_LAP_MASK = (1 << (32 - RING_SLOT_LAP_SHIFT)) - 1;
/** Capacity bounds: a power of two, and lap * capacity must divide 2^32. */
export const MAX_RING_CAPACITY = 1 << RING_SLOT_LAP_SHIFT;
export const MAX_WINDOWS = 1 << RING_SLOT_WINDOW_BITS;

/**
 * The server stops with "the request ring is corrupt" when the ring's head
 * and tail held still while two checks at least this far apart found the
 * same violation of the ring's invariants (server/ring-audit.ts).
 */
export const RING_AUDIT_MS = 1000;

// ---- Owner words (one Int32 per window; protocol in transport/owners.ts) ----
/** A free window. */
export const OWNER_FREE = 0;
/** Held by the server's reaper: in a reclamation batch, or claimed while it frees the window's staging block. */
export const OWNER_QUARANTINED = -1;
/** Handed to the reaper by a live client: a request in it may still be held by a server thread. */
export const OWNER_ABANDONED = -2;
/** An owner word: one Int32 per window. */
export const OWNER_BYTES = 4;

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
export const windowRecord = new Fields('WINDOW (WINDOW_BYTES each on the board; all words Int32 unless noted)');
export const WIN_STATE = windowRecord.field('WIN_STATE', 4, 'WindowState (+ the Sleeping bit)');
export const WIN_OP = windowRecord.field('WIN_OP', 4, 'Op');
export const WIN_KEY = windowRecord.field('WIN_KEY', 4, 'u32 key of a u32 op; CompareSet: the expected tag');
export const WIN_VALUE = windowRecord.field('WIN_VALUE', 4, 'u32 value / delta / bytes wanted (Reserve) / expected bytes (CompareSet)');
export const WIN_STATUS = windowRecord.field('WIN_STATUS', 4, 'Status of the response');
export const WIN_RESULT = windowRecord.field('WIN_RESULT', 4, 'u32 result of a u32 op');
export const WIN_KEY_LEN = windowRecord.field('WIN_KEY_LEN', 4, 'key bytes in the staging block');
export const WIN_VALUE_LEN = windowRecord.field('WIN_VALUE_LEN', 4, 'value bytes after the key (request and response of a byte op)');
export const WIN_TAG = windowRecord.field('WIN_TAG', 4, 'ValueTag of the value (request and response)');
export const WIN_FLAGS = windowRecord.field('WIN_FLAGS', 4, 'REQ_* request flags');
/** The window's staging block in the exchange file's staging arena: written by the server only (its own copy is authoritative). */
export const WIN_STAGING_OFFSET = windowRecord.field('WIN_STAGING_OFFSET', 4, "the staging block's offset in the staging arena (server writes)");
export const WIN_STAGING_BYTES = windowRecord.field('WIN_STAGING_BYTES', 4, 'and its bytes (server writes)');
export const WIN_EXPIRES = windowRecord.field('WIN_EXPIRES', 8, 'f64 deadline of a Set or Expire (ms, CLOCK_MONOTONIC; 0 = never), with REQ_EXPIRES');
export const WINDOW_BYTES = windowRecord.field('WINDOW_BYTES', 0, 'the end: a window is one cache line', CACHE_LINE);

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
  /** u32 key -> u32 value (the u32 replay's get; result in WIN_RESULT). */
  GetU32 = 1,
  /** Store a u32 value under a u32 key. */
  PutU32 = 2,
  /** u32 value += delta (mod 2^32), absent counts as 0; result = the new value. */
  AddU32 = 3,
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
