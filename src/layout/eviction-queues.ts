/**
 * S3-FIFO's private memory, per chunk: the queue words in the server's
 * private state, the FIFO rings of queue items and the ghost, with their
 * growth and compaction constants and their bounds. Server-private (no
 * file holds them), apart from server-private.ts because they are one
 * policy's: store/s3fifo.ts, item-ring.ts, ghost.ts and s3fifo-tidy.ts.
 */
import { alignUp, CACHE_LINE, Fields, PAGE } from './fields';
import { IX_BYTES } from './heap';

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
export const queueRingRecord = new Fields('PRIVATE, one FIFO ring of queue items (store/item-ring.ts): Int32 words');
export const QRING_TAIL = queueRingRecord.field('tail', 4, 'position of the oldest item');
export const QRING_HEAD = queueRingRecord.field('head', 4, 'position of the next push');
export const QRING_WRITE = queueRingRecord.field('write', 4, 'compaction: next kept item goes here');
export const QRING_READ = queueRingRecord.field('read', 4, 'compaction: next item to judge');
export const QRING_MARK = queueRingRecord.field('mark', 4, 'compaction: the head when the pass began');
export const QRING_CAP = queueRingRecord.field('cap', 4, 'items the buffer holds');
export const QRING_ACTIVE = queueRingRecord.field('active', 4, '1 while a compaction pass runs');
export const QRING_POPS = queueRingRecord.field('pops', 4, 'items popped (wraps): compaction tickets');
export const QRING_EPOCH = queueRingRecord.field('epoch', 4, 'bumped when positions move under a pass');
export const QRING_WORDS = queueRingRecord.size() / 4;

export const privateQueueRecord = new Fields('PRIVATE, per chunk (Int32 words): its eviction queues (store/s3fifo.ts)');
export const PQ_LOCK = privateQueueRecord.field('lock', 8, '[owner, waiters] (sync/lock.ts)', 4);
export const PQ_GHOST_BUCKETS = privateQueueRecord.field('ghostBuckets', 4, 'a power of two, GHOST_WAYS fingerprints each');
export const PQ_SMALL = privateQueueRecord.field('small', QRING_WORDS * 4, 'the small FIFO (QRING_* words)', 4);
export const PQ_MAIN = privateQueueRecord.field('main', QRING_WORDS * 4, 'the main FIFO (QRING_* words)', 4);
/** A chunk's queue words fill whole cache lines: threads evicting in two chunks do not false-share. */
export const PRIV_QUEUE_WORDS = privateQueueRecord.size(CACHE_LINE) / 4;

export const queueItemRecord = new Fields("QUEUE ITEM (in a ring's growable buffer): one key of the chunk, from insertion to removal");
export const ITEM_A = queueItemRecord.field('a', 4, "the key's hash; a u32 key when b = 0");
export const ITEM_B = queueItemRecord.field('b', 4, "the entry's stamp (ENTRY_STAMP, never 0); 0: a u32 key");
export const QUEUE_ITEM_BYTES = queueItemRecord.size();
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
