/**
 * What lives in a data-file chunk's heap, after its directory: TLSF blocks
 * (store/alloc.ts), and what their payloads hold: a segment's index (an
 * array of INDEX SLOTs) or one entry (a key and its value). A reader that
 * follows a slot to an entry relies on these records alone, so they are
 * drawn here next to the constants it reads.
 */
import { alignUp, CACHE_LINE, Fields } from './fields';

// ---- TLSF blocks -----------------------------------------------------------
// TLSF (Masmano et al., 2004): good-fit in O(1), immediate coalescing. The
// block headers are in the heap (a data-file chunk); the bitmaps and
// free-list heads are the server's private state (server-private.ts),
// rebuilt from the live blocks when a heap is adopted.
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
export const blockRecord = new Fields("TLSF BLOCK (in a chunk's heap: a header, then the payload at BLOCK_HEADER_BYTES)");
export const BLOCK_PREV_PHYS = blockRecord.field('BLOCK_PREV_PHYS', 4, 'the previous block in memory (read only when BLOCK_PREV_FREE)');
export const BLOCK_SIZE = blockRecord.field('BLOCK_SIZE', 4, 'payload bytes | BLOCK_FREE | BLOCK_PREV_FREE');
export const BLOCK_HEADER_BYTES = blockRecord.field('BLOCK_HEADER_BYTES', 0, 'the payload (an entry, an index, free)');
/** Free-list links, inside the payload of a free block. */
export const BLOCK_NEXT_FREE = blockRecord.field('BLOCK_NEXT_FREE', 4, 'a free block: the next in its free list');
export const BLOCK_PREV_FREE_LINK = blockRecord.field('BLOCK_PREV_FREE_LINK', 4, 'and the previous');
/** The smallest payload: room for the free-list links. */
export const BLOCK_MIN_PAYLOAD = blockRecord.size() - BLOCK_HEADER_BYTES;

// ---- Segment indexes -------------------------------------------------------
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
export const indexSlotRecord = new Fields('INDEX SLOT (four per cache line; the index is line-aligned)');
export const IX_HASH = indexSlotRecord.field('IX_HASH', 4, "the key's hash (its segment: the top bits)");
export const IX_ENTRY = indexSlotRecord.field('IX_ENTRY', 4, '0 empty, ENTRY_INLINE, else the entry offset');
/** The u32 key of an inline slot. */
export const IX_KEY = indexSlotRecord.field('IX_KEY', 4, 'inline: the u32 key');
/** The u32 value of an inline slot. */
export const IX_VALUE = indexSlotRecord.field('IX_VALUE', 4, 'inline: the u32 value');
export const IX_BYTES = indexSlotRecord.field('IX_BYTES', 0, 'the end');
export const IX_WORDS = IX_BYTES / 4;
/** IX_ENTRY of an inline slot: odd, so no block offset (TLSF_ALIGN) can equal it. */
export const ENTRY_INLINE = 1;

/** Bytes of a heap block that holds an index of `capacity` slots, aligned up to CACHE_LINE inside it. */
export function indexBlockBytes(capacity: number): number {
  return capacity * IX_BYTES + CACHE_LINE - TLSF_ALIGN;
}

/** Where the index goes in a block allocated at `block`. */
export function indexInBlock(block: number): number {
  return alignUp(block, CACHE_LINE);
}

// ---- Entries ---------------------------------------------------------------
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
export const entryRecord = new Fields('ENTRY (8-aligned, a heap block payload; never written once reachable)');
export const ENTRY_VALUE_LEN = entryRecord.field('ENTRY_VALUE_LEN', 4);
export const ENTRY_KEY_LEN = entryRecord.field('ENTRY_KEY_LEN', 2, 'key material bytes (<= 65535)');
export const ENTRY_TAG = entryRecord.field('ENTRY_TAG', 1, 'ValueTag');
export const ENTRY_FLAGS = entryRecord.field('ENTRY_FLAGS', 1);
export const ENTRY_EXPIRES = entryRecord.field('ENTRY_EXPIRES', 8, 'f64 ms on CLOCK_MONOTONIC; 0 = never');
export const ENTRY_STAMP = entryRecord.field('ENTRY_STAMP', 4, "the chunk's write sequence when the key was inserted");
export const ENTRY_HEADER_BYTES = entryRecord.field('ENTRY_HEADER_BYTES', 0, 'key material, then the value bytes');

/** Bytes of an entry with these key and value lengths (before block rounding). */
export function entryBytes(keyLen: number, valueLen: number): number {
  return ENTRY_HEADER_BYTES + keyLen + valueLen;
}
