/**
 * The server's private words: no file holds them and no client can write
 * them. Its control words (stop, the idle workers' spinner and bench), and
 * the private state per segment (the lock and the authoritative copies of
 * the directory words) and per heap (the TLSF allocator's lock, bitmaps
 * and free lists). Drawn too (drawLayouts), though no older build reads
 * them: they may change freely between versions.
 */
import { Fields } from './fields';
import { TLSF_FL_COUNT, TLSF_SL_COUNT } from './heap';

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

// ---- The server's private state (no file: no client can write it) ----------
/*
 * Words only server threads share, in a SharedArrayBuffer of the server
 * process: the locks (a client that could hold one could stop the server),
 * the authoritative copy of every word the server mirrors into the data
 * file, and the allocators' free lists. Per segment PRIV_SEG_WORDS words;
 * per chunk PRIV_HEAP_WORDS words.
 */
export const privateSegmentRecord = new Fields('PRIVATE, per segment (Int32 words)');
export const PS_LOCK = privateSegmentRecord.field('lock', 8, '[owner, waiters] (sync/lock.ts)', 4);
export const PS_VERSION = privateSegmentRecord.field('version', 4, 'authoritative seqlock version');
export const PS_COUNT = privateSegmentRecord.field('count', 4);
export const PS_INDEX = privateSegmentRecord.field('index', 4, 'offset | log2(capacity)');
export const PS_INDEX_BLOCK = privateSegmentRecord.field('indexBlock', 4);
export const PRIV_SEG_WORDS = privateSegmentRecord.size(8) / 4;

export const privateHeapRecord = new Fields('PRIVATE, per heap (Int32 words): its allocator');
export const PH_LOCK = privateHeapRecord.field('lock', 8, '[owner, waiters]', 4);
export const PH_SEQ = privateHeapRecord.field('seq', 4, 'write sequence (entry stamps)');
export const PH_FL_BITMAP = privateHeapRecord.field('flBitmap', 4);
export const PH_SL_BITMAPS = privateHeapRecord.field('slBitmaps', 4 * TLSF_FL_COUNT, '', 4);
export const PH_FREE_HEADS = privateHeapRecord.field('freeHeads', 4 * TLSF_FL_COUNT * TLSF_SL_COUNT, 'block offsets', 4);
export const PH_USED_BYTES = privateHeapRecord.field('usedBytes', 4, 'allocated, headers included');
export const PRIV_HEAP_WORDS = privateHeapRecord.size(8) / 4;
