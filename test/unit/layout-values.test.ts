/**
 * Every number src/layout/layout.ts exports, pinned to the value it had when
 * the offsets became running sums (commit 341dec6): a region or data file
 * written by that build must stay readable, so a change to any of these is a
 * format change (bump REGION_VERSION / DATA_VERSION and update this list
 * with it), never an accident of reordering a field. The same holds for the
 * snapshot file (SNAPSHOT_VERSION), pinned where store/snapshot.ts put it.
 *
 * The list is complete: a new exported constant fails the test until it is
 * pinned here too. The server-private words and sizes (PS_*, PH_*, PRIV_*,
 * and the eviction queues' PQ_*, QRING_*, ITEM_*, QUEUE_*, GHOST_*, TIDY_*:
 * no file holds them, so no older build reads them) may be added to freely.
 */
import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import * as L from '../../src/layout/layout';
import { WindowState } from '../../src/layout/board';
import { ClientStat } from '../../src/layout/client-stats-area';
import { SnapshotResult, Stat } from '../../src/layout/data-meta';
import { KeyKind } from '../../src/layout/keys-values';
import { ServerState } from '../../src/layout/region-header';

const PINNED: Record<string, number> = {
  CACHE_LINE: 64, PAGE: 4096, REGION_MAGIC: 0x564b4853, REGION_VERSION: 4,
  // region header
  HDR_MAGIC: 0, HDR_VERSION: 4, HDR_HEADER_BYTES: 8, HDR_REGION_BYTES: 12, HDR_RING_OFFSET: 16, HDR_RING_CAPACITY: 20,
  HDR_OWNER_OFFSET: 24, HDR_BOARD_OFFSET: 28, HDR_WINDOW_COUNT: 32, HDR_WINDOW_BYTES: 36, HDR_SERVER_PID: 64,
  HDR_SERVER_STATE: 68, HDR_HEARTBEAT: 72, HDR_SERVER_THREADS: 76, HDR_SERVER_EPOCH: 80, HDR_RING_TAIL: 192,
  HDR_RING_HEAD: 256, HDR_NOT_EMPTY: 320, HDR_NOT_FULL: 384, HDR_BUSY: 512, MAX_SERVER_THREADS: 256,
  HDR_DATA_PAGES: 1536, HDR_DATA_PATH: 1540, DATA_PATH_MAX_BYTES: 1024, HEADER_BYTES: 4096,
  HEARTBEAT_MS: 100, HEARTBEAT_TIMEOUT_MS: 1500,
  // server control words, owner words, ring slot word
  CONTROL_STOP: 0, CONTROL_SPINNER: 1, CONTROL_BENCH_SEQ: 2, CONTROL_BENCH_SLEEPERS: 3, CONTROL_WORDS: 4,
  OWNER_FREE: 0, OWNER_QUARANTINED: -1, OWNER_ABANDONED: -2, RING_AUDIT_MS: 1000,
  RING_SLOT_BYTES: 4, RING_SLOT_WINDOW_BITS: 19, RING_SLOT_WINDOW_MASK: 524287, RING_SLOT_FULL: 524288, RING_SLOT_LAP_SHIFT: 20,
  RING_SLOT_LAP_MASK: 4095, MAX_RING_CAPACITY: 1048576, MAX_WINDOWS: 524288,
  // window
  WIN_STATE: 0, WIN_OP: 4, WIN_KEY: 8, WIN_VALUE: 12, WIN_STATUS: 16, WIN_RESULT: 20, WIN_KEY_LEN: 24,
  WIN_VALUE_LEN: 28, WIN_TAG: 32, WIN_FLAGS: 36, WIN_STAGING_OFFSET: 40, WIN_STAGING_BYTES: 44, WIN_EXPIRES: 48,
  WINDOW_BYTES: 64, REQ_EXPIRES: 1, REQ_DELETE: 2, DEFAULT_RING_CAPACITY: 1024, DEFAULT_WINDOW_COUNT: 8192,
  // client stats area
  CS_SEQ: 0, CS_RETIRED: 64, CS_LINES: 192, CLIENT_STATS_LINES: 1024, CLIENT_STATS_LINE_BYTES: 128, CS_OWNER: 0,
  CS_STATE: 4, CS_COUNTERS: 8, CS_IN_USE: 0, CS_RELEASED: 1, CLIENT_STAT_COUNT: 8, CLIENT_STATS_BYTES: 131264,
  // data file meta
  DATA_MAGIC: 0x54564b53, DATA_VERSION: 4, D_MAGIC: 0, D_VERSION: 4, D_BYTES: 8, D_CHUNK_BYTES: 16, D_CHUNKS: 20,
  D_SEGMENT_BITS: 24, D_SEED: 28, D_MAX_KEY_BYTES: 32, D_MAX_VALUE_BYTES: 36, D_CREATED_AT: 40, D_BOOT_ID: 48,
  D_DEFAULT_TTL_MS: 64, D_EVICTION: 68, D_STARTED_AT: 72, D_CLOCK_WALL: 128, D_CLOCK_MONO: 136, D_SNAPSHOTS: 144,
  D_SNAPSHOT_RESULT: 148, D_SERVED_END: 152, D_REGION_PATH: 192, REGION_PATH_MAX_BYTES: 1024, D_STATS: 1280,
  STATS_LINE_BYTES: 128, STATS_LINES: 257, STATS_MAIN_LINE: 256, STAT_COUNT: 10, META_BYTES: 36864,
  MAX_CHUNK_BYTES: 2146435072,
  // chunk, segment directory, index slot, entry
  C_MAGIC: 0, C_HEAP_START: 4, C_HEAP_END: 8, C_DIRECTORY: 64, CHUNK_MAGIC: 0x4b4e4843,
  SEG_VERSION: 0, SEG_COUNT: 4, SEG_INDEX: 8, SEG_INDEX_BLOCK: 12, SEGMENT_BYTES: 64, INDEX_LOG2_MASK: 63,
  DEFAULT_SEGMENT_BITS: 8, MAX_SEGMENT_BITS: 12, MAX_INDEX_LOG2: 26, GROW_NUM: 3, GROW_DEN: 4, FULL_NUM: 15, FULL_DEN: 16,
  IX_HASH: 0, IX_ENTRY: 4, IX_KEY: 8, IX_VALUE: 12, IX_BYTES: 16, IX_WORDS: 4, ENTRY_INLINE: 1,
  ENTRY_VALUE_LEN: 0, ENTRY_KEY_LEN: 4, ENTRY_TAG: 6, ENTRY_FLAGS: 7, ENTRY_EXPIRES: 8, ENTRY_STAMP: 16,
  ENTRY_HEADER_BYTES: 20,
  // TLSF blocks
  TLSF_ALIGN: 8, TLSF_SL_BITS: 4, TLSF_SL_COUNT: 16, TLSF_SMALL_BYTES: 128, TLSF_FL_COUNT: 25, BLOCK_HEADER_BYTES: 8,
  BLOCK_PREV_PHYS: 0, BLOCK_SIZE: 4, BLOCK_FREE: 1, BLOCK_PREV_FREE: 2, BLOCK_FLAG_MASK: 7, BLOCK_NEXT_FREE: 8,
  BLOCK_PREV_FREE_LINK: 12, BLOCK_MIN_PAYLOAD: 8,
  // keys, values, limits
  KEY_KIND_BYTES: 1, MAX_VALUE_TAG: 15, DEFAULT_MAX_KEY_BYTES: 4096, DEFAULT_MAX_VALUE_BYTES: 1048576,
  MAX_KEY_BYTES_LIMIT: 65534, MAX_VALUE_BYTES_LIMIT: 536870912, MAX_DATA_BYTES: 549755813888, MIN_DATA_BYTES: 1048576,
  // exchange file
  XCHG_MAGIC: 0x47484358, X_MAGIC: 0, X_VERSION: 4, X_HINT_BYTES: 8, X_ARENA_BYTES: 12, X_HINTS: 4096,
  HINT_GRANULE: 16, MIN_ARENA_BYTES: 67108864, MAX_ARENA_BYTES: 1073741824, STAGING_DEFAULT_BYTES: 256,
  // names given later to bytes that were already there (the word after an
  // EventCount's seq, the UTF-8 after a path's u16 length) and to sizes typed
  // inline before: pinned to where those bytes were
  HDR_NOT_EMPTY_SLEEPERS: 324, HDR_NOT_FULL_SLEEPERS: 388, HDR_DATA_PATH_UTF8: 1542, D_REGION_PATH_UTF8: 194,
  OWNER_BYTES: 4, BOOT_ID_BYTES: 16,
  // server-private state
  PS_LOCK: 0, PS_VERSION: 8, PS_COUNT: 12, PS_INDEX: 16, PS_INDEX_BLOCK: 20, PRIV_SEG_WORDS: 6,
  PH_LOCK: 0, PH_SEQ: 8, PH_FL_BITMAP: 12, PH_SL_BITMAPS: 16, PH_FREE_HEADS: 116, PH_USED_BYTES: 1716,
  PRIV_HEAP_WORDS: 430,
  // the data file's eviction word: Eviction's largest value
  MAX_EVICTION: 2,
  // the snapshot file (version 1, as store/snapshot.ts wrote it before its constants moved to src/layout/)
  SNAPSHOT_MAGIC: 0x53564b53, SNAPSHOT_VERSION: 1, SH_MAGIC: 0, SH_VERSION: 4, SH_WRITTEN_AT: 8, SNAPSHOT_HEADER_BYTES: 16,
  SB_BYTES: 0, SB_RECORDS: 4, SB_CRC: 8, SNAPSHOT_BLOCK_HEADER_BYTES: 12,
  SR_KEY_LEN: 0, SR_TAG: 2, SR_VALUE_LEN: 4, SR_EXPIRES: 8, SNAPSHOT_RECORD_HEADER_BYTES: 16,
};

/** Names the private state may add without a pin (no file holds those words). */
const FREE_TO_ADD = /^(PS_|PH_|PRIV_|PQ_|QRING_|ITEM_|QUEUE_|GHOST_|TIDY_)/;

function exported(): Map<string, number> {
  const m = new Map<string, number>();
  for (const [k, v] of Object.entries(L)) if (typeof v === 'number' && /^[A-Z][A-Z0-9_]*$/.test(k)) m.set(k, v);
  return m;
}

test('layout values: every pinned constant still has its value', () => {
  const now = exported();
  for (const [name, value] of Object.entries(PINNED)) assert.equal(now.get(name), value, `${name} changed (or is gone)`);
});

test('layout values: every exported constant is pinned', () => {
  const loose = [...exported().keys()].filter((k) => !(k in PINNED) && !FREE_TO_ADD.test(k));
  assert.deepEqual(loose, [], 'pin these in test/unit/layout-values.test.ts');
});

test('layout values: region geometry and chunk directories come out as before', () => {
  assert.deepEqual(L.computeLayout({ ringCapacity: 1024, windowCount: 8192, windowBytes: 64 }), {
    ringCapacity: 1024, windowCount: 8192, windowBytes: 64,
    ringOffset: 4096, ownerOffset: 8192, boardOffset: 40960, clientStatsOffset: 565248, regionBytes: 700416,
  });
  assert.deepEqual(L.computeLayout({ ringCapacity: 16, windowCount: 3, windowBytes: 64 }), {
    ringCapacity: 16, windowCount: 3, windowBytes: 64,
    ringOffset: 4096, ownerOffset: 4160, boardOffset: 4224, clientStatsOffset: 4416, regionBytes: 139264,
  });
  assert.deepEqual([1, 16, 256, 4096].map(L.chunkHeapStart), [4096, 4096, 20480, 266240]);
});

test('layout values: enums stored in shared memory keep their numbers', () => {
  assert.deepEqual([ServerState.Init, ServerState.Ready, ServerState.Stopping, ServerState.Stopped], [0, 1, 2, 3]);
  assert.deepEqual([WindowState.Idle, WindowState.Submitted, WindowState.Taken, WindowState.Done, WindowState.Sleeping], [0, 1, 2, 3, 4]);
  assert.deepEqual([ClientStat.Hits, ClientStat.HardTimeouts], [0, 7]);
  assert.deepEqual([Stat.Requests, Stat.Entries, Stat.UsedBytes, Stat.Repairs], [0, 7, 8, 9]);
  assert.deepEqual([SnapshotResult.Written, SnapshotResult.Failed, SnapshotResult.NoFile], [0, 1, 2]);
  assert.deepEqual([KeyKind.U32, KeyKind.String, KeyKind.Bytes, KeyKind.System, KeyKind.Reserved], [0, 1, 2, 3, 4]);
  assert.deepEqual([L.Op.GetU32, L.Op.Clear, L.Status.Ok, L.Status.Overflow, L.ValueTag.U32, L.ValueTag.Tagged], [1, 11, 0, 8, 1, 15]);
});
