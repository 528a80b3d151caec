/**
 * The start of every data-file chunk: its header line, then the directory
 * of its segments, one entry per segment, which is what a reader needs to
 * find a segment's index and the seqlock it reads under (store/seqlock.ts).
 * The heap after the directory is heap.ts; where chunks sit in the file is
 * data-meta.ts.
 */
import { alignUp, CACHE_LINE, Fields, PAGE } from './fields';

/*
 * CHUNK (its header line, then the directory of its segments, then its heap)
 *   offset    bytes  field
 *        0        4  C_MAGIC                   CHUNK_MAGIC ^ chunk index
 *        4        4  C_HEAP_START              page-aligned
 *        8        4  C_HEAP_END                = chunk bytes
 *       64        0  C_DIRECTORY               SEGMENT_BYTES per segment of the chunk
 */
export const chunkHeaderRecord = new Fields('CHUNK (its header line, then the directory of its segments, then its heap)');
export const C_MAGIC = chunkHeaderRecord.field('C_MAGIC', 4, 'CHUNK_MAGIC ^ chunk index');
export const C_HEAP_START = chunkHeaderRecord.field('C_HEAP_START', 4, 'page-aligned');
export const C_HEAP_END = chunkHeaderRecord.field('C_HEAP_END', 4, '= chunk bytes');
export const C_DIRECTORY = chunkHeaderRecord.line().field('C_DIRECTORY', 0, 'SEGMENT_BYTES per segment of the chunk', CACHE_LINE);
export const CHUNK_MAGIC = 0x4b4e4843; // "CHNK"

/**
 * A segment's directory entry, in its chunk: what readers need. The
 * server's authoritative copies of these words are private
 * (server-private.ts); the file holds a mirror that the server writes and,
 * when another process forged it, puts back.
 *
 * SEGMENT DIRECTORY ENTRY (one cache line: writers of different segments do not false-share)
 *   offset    bytes  field
 *        0        4  SEG_VERSION               seqlock: odd while a writer is inside
 *        4        4  SEG_COUNT                 keys in the segment
 *        8        4  SEG_INDEX                 offset | log2(capacity)
 *       12        4  SEG_INDEX_BLOCK           its heap block; one 8-byte store with the word above
 *       64        0  SEGMENT_BYTES             the end: one cache line
 */
export const segmentRecord = new Fields('SEGMENT DIRECTORY ENTRY (one cache line: writers of different segments do not false-share)');
/** The seqlock: odd while a server thread changes anything a reader of this segment can reach. */
export const SEG_VERSION = segmentRecord.field('SEG_VERSION', 4, 'seqlock: odd while a writer is inside');
export const SEG_COUNT = segmentRecord.field('SEG_COUNT', 4, 'keys in the segment');
/**
 * The index: its offset (CACHE_LINE-aligned) with log2 of its capacity in
 * the low 6 bits (what readers read), and the heap block that holds it
 * (what recovery needs to know which block is the index's). The two words
 * are one 8-byte field, stored by one 8-byte atomic store: a crash leaves
 * both old or both new.
 */
export const SEG_INDEX = segmentRecord.field('SEG_INDEX', 4, 'offset | log2(capacity)', 8);
export const SEG_INDEX_BLOCK = segmentRecord.field('SEG_INDEX_BLOCK', 4, 'its heap block; one 8-byte store with the word above');
export const SEGMENT_BYTES = segmentRecord.field('SEGMENT_BYTES', 0, 'the end: one cache line', CACHE_LINE);
export const INDEX_LOG2_MASK = CACHE_LINE - 1;

/** Directory bytes of a chunk holding `segments` segments. */
export function chunkHeapStart(segmentsPerChunk: number): number {
  return alignUp(C_DIRECTORY + segmentsPerChunk * SEGMENT_BYTES, PAGE);
}

export const DEFAULT_SEGMENT_BITS = 8;
export const MAX_SEGMENT_BITS = 12;
