/**
 * The single source of truth for every shared-memory layout in the project,
 * and for the snapshot file's, is src/layout/: each constant is defined
 * once, in the file below that holds its record, and no other module
 * hard-codes an offset or a size. This file is the map, the list of
 * records and their drawings. Code imports each constant from its record
 * file, not through the re-exports here: CommonJS re-exports are getters,
 * and a hot path would pay a call at every constant (gets and sets ran at
 * ~0.5x; test/unit/layout.test.ts keeps imports direct,
 * test/unit/exports-fast.test.ts keeps every exports object fast).
 *
 * One file per file format or record, each with its drawings next to its
 * constants:
 *   fields.ts             running sums (Fields), CACHE_LINE, PAGE
 *   region-header.ts      the region's identity and header page; ServerState, heartbeat
 *   board.ts              the ring's slot word, owner words, the board's windows; Op, Status
 *   client-stats-area.ts  the client counter lines at the region's end
 *   region-file.ts        the region file as a whole: RegionLayout, computeLayout
 *   data-meta.ts          the data file's shape and meta area; Stat, Eviction, chunk sizes
 *   chunk-directory.ts    a chunk's header and segment directory
 *   heap.ts               a chunk's heap: TLSF blocks, index slots, entries
 *   keys-values.ts        KeyKind, ValueTag and the key and value limits
 *   exchange.ts           the exchange file: hint maps and the staging arena
 *   server-private.ts     the server's control words and private state (no file)
 *   eviction-queues.ts    S3-FIFO's private queues (no file)
 *   snapshot.ts           the snapshot file: header, block header, record
 * Beside them, region.ts and data-file.ts apply these layouts to files on
 * disk (create, map, check); they import from the files above.
 *
 * Every record is laid out as running sums (fields.ts): a field's offset is
 * the sum of the sizes before it, so no offset is typed by hand. Each
 * record's drawing sits in the comment above it, in the form
 * `offset  bytes  constant  note`; test/unit/layout.test.ts checks every
 * drawing in src/layout/ against the constants (`node
 * dist/tools/draw-layouts.js` redraws them after a change), and
 * test/unit/layout-values.test.ts pins every value: a file an older build
 * wrote must stay readable, so a moved field is a version bump, never an
 * accident.
 *
 * All offsets are in bytes unless named *_I32 (an index into an Int32Array
 * over the same buffer). Every line that another process writes often sits
 * on its own 64-byte cache line, so that producers, consumers and the
 * heartbeat do not false-share.
 */
import { CACHE_LINE as LINE, PAGE as PAGE_BYTES, type Fields } from './fields';
import { regionHeaderRecord } from './region-header';
import { windowRecord } from './board';
import { clientStatsAreaRecord, clientStatsLineRecord } from './client-stats-area';
import { regionFileRecord } from './region-file';
import { dataMetaRecord } from './data-meta';
import { chunkHeaderRecord, segmentRecord } from './chunk-directory';
import { blockRecord, entryRecord, indexSlotRecord } from './heap';
import { exchangeHeaderRecord } from './exchange';
import { privateHeapRecord, privateSegmentRecord } from './server-private';
import { privateQueueRecord, queueItemRecord, queueRingRecord } from './eviction-queues';
import { snapshotBlockRecord, snapshotEntryRecord, snapshotHeaderRecord } from './snapshot';

// Data properties, not `export { .. } from`: tsc declares a re-exported name
// as data, then redefines it as a getter, which turns this module's exports
// into a V8 dictionary, and every layout constant in a hot path into a hash
// lookup (test/unit/exports-fast.test.ts says why that matters).
export const CACHE_LINE = LINE;
export const PAGE = PAGE_BYTES;
export * from './region-header';
export * from './board';
export * from './client-stats-area';
export * from './region-file';
export * from './data-meta';
export * from './chunk-directory';
export * from './heap';
export * from './keys-values';
export * from './exchange';
export * from './server-private';
export * from './eviction-queues';
export * from './snapshot';

/**
 * Every record of the shared files, in file order, then the snapshot
 * file's: what their drawings show (test/unit/layout.test.ts holds each drawing to its record).
 */
export function layoutRecords(): Fields[] {
  return [
    regionFileRecord(),
    regionHeaderRecord,
    windowRecord,
    clientStatsAreaRecord,
    clientStatsLineRecord,
    dataMetaRecord,
    chunkHeaderRecord,
    segmentRecord,
    indexSlotRecord,
    entryRecord,
    blockRecord,
    exchangeHeaderRecord,
    snapshotHeaderRecord,
    snapshotBlockRecord,
    snapshotEntryRecord,
  ];
}

/** Every drawing, the private state's too: `node -p "require('./dist/src/layout/layout').drawLayouts()"`. */
export function drawLayouts(): string {
  return [...layoutRecords(), privateSegmentRecord, privateHeapRecord, privateQueueRecord, queueRingRecord, queueItemRecord].map((f) => f.draw()).join('\n\n');
}
