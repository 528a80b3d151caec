/**
 * The region file's identity and its first page, the header: magic and
 * version, the geometry line the server writes once, the server's liveness
 * line, the ring's positions and EventCounts, the server threads' busy
 * words and the data file's path.
 *
 * Apart from the rest of the region (region-file.ts) because it is the one
 * part whose offsets do not depend on the geometry: a client reads the
 * geometry here before it can place anything else. region.ts creates,
 * validates and opens it; the protocols on its words are in
 * transport/ring.ts (positions), sync/waiter.ts (EventCounts) and
 * transport/owners.ts (busy words).
 */
import { CACHE_LINE, Fields, PAGE } from './fields';

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
export const regionHeaderRecord = new Fields('REGION HEADER (the first page of the region file; all words Int32 unless noted)');
export const HDR_MAGIC = regionHeaderRecord.field('HDR_MAGIC', 4, 'REGION_MAGIC');
export const HDR_VERSION = regionHeaderRecord.field('HDR_VERSION', 4, 'REGION_VERSION');
export const HDR_HEADER_BYTES = regionHeaderRecord.field('HDR_HEADER_BYTES', 4, 'HEADER_BYTES');
export const HDR_REGION_BYTES = regionHeaderRecord.field('HDR_REGION_BYTES', 4, 'the whole file');
export const HDR_RING_OFFSET = regionHeaderRecord.field('HDR_RING_OFFSET', 4);
export const HDR_RING_CAPACITY = regionHeaderRecord.field('HDR_RING_CAPACITY', 4);
export const HDR_OWNER_OFFSET = regionHeaderRecord.field('HDR_OWNER_OFFSET', 4);
export const HDR_BOARD_OFFSET = regionHeaderRecord.field('HDR_BOARD_OFFSET', 4);
export const HDR_WINDOW_COUNT = regionHeaderRecord.field('HDR_WINDOW_COUNT', 4);
export const HDR_WINDOW_BYTES = regionHeaderRecord.field('HDR_WINDOW_BYTES', 4);

export const HDR_SERVER_PID = regionHeaderRecord.line().field('HDR_SERVER_PID', 4);
export const HDR_SERVER_STATE = regionHeaderRecord.field('HDR_SERVER_STATE', 4, 'ServerState');
export const HDR_HEARTBEAT = regionHeaderRecord.field('HDR_HEARTBEAT', 4, 'bumped every HEARTBEAT_MS');
export const HDR_SERVER_THREADS = regionHeaderRecord.field('HDR_SERVER_THREADS', 4);
/**
 * A random nonzero u32 the server writes when it creates the region: a
 * client tells a new server (a restart at the same path) from the one it
 * attached to by it and by the file's inode, not by pids (which are reused).
 */
export const HDR_SERVER_EPOCH = regionHeaderRecord.field('HDR_SERVER_EPOCH', 4, 'random nonzero, per server start');

regionHeaderRecord.line().spare(CACHE_LINE, 'unused (the board lock of layouts <= 3)');
export const HDR_RING_TAIL = regionHeaderRecord.line().field('HDR_RING_TAIL', 4, "producers' position");
export const HDR_RING_HEAD = regionHeaderRecord.line().field('HDR_RING_HEAD', 4, "consumers' position");
/** The ring's EventCounts (sync/waiter.ts): [seq, sleepers flag], each pair on its own line. */
export const HDR_NOT_EMPTY = regionHeaderRecord.line().field('HDR_NOT_EMPTY', 4, 'ring not-empty EventCount: seq');
export const HDR_NOT_EMPTY_SLEEPERS = regionHeaderRecord.field('HDR_NOT_EMPTY_SLEEPERS', 4, 'and its sleepers flag');
export const HDR_NOT_FULL = regionHeaderRecord.line().field('HDR_NOT_FULL', 4, 'ring not-full EventCount: seq');
export const HDR_NOT_FULL_SLEEPERS = regionHeaderRecord.field('HDR_NOT_FULL_SLEEPERS', 4, 'and its sleepers flag');
regionHeaderRecord.line().spare(CACHE_LINE, 'unused');
export const HDR_BUSY = regionHeaderRecord.line().field('HDR_BUSY', 4 * MAX_SERVER_THREADS, 'one busy word per server thread: odd while it may hold a request (reaper.ts)', 4);
/** Size of the data file holding the table, in pages (u32: files past 4 GiB). */
export const HDR_DATA_PAGES = regionHeaderRecord.line().field('HDR_DATA_PAGES', 4, "the data file's size in pages (u32: files past 4 GiB)");
/** Path of the data file: u16 byte length, then UTF-8 bytes. */
export const HDR_DATA_PATH = regionHeaderRecord.field('HDR_DATA_PATH', 2, "u16 byte length of the data file's path");
export const HDR_DATA_PATH_UTF8 = regionHeaderRecord.field('HDR_DATA_PATH_UTF8', DATA_PATH_MAX_BYTES, 'the path (the exchange file is the same path ending in .xchg)', 1);

export const HEADER_BYTES = regionHeaderRecord.field('HEADER_BYTES', 0, 'the end: the ring starts on the next page', PAGE);

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
