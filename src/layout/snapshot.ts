/**
 * The snapshot file: the table written to disk for what a data file in
 * /dev/shm does not survive (a reboot, a move to another machine).
 * store/snapshot.ts writes and reads it; nothing maps it, and no reader
 * shares it with a writer (it is renamed into place whole).
 */
import { Fields } from './fields';

// ---- Snapshot file: a header, blocks of records, a trailer ------------------
/*
 * All numbers little-endian. The file is a header, then blocks, each a
 * block header and a payload of records (a block holds whole records), then
 * a trailer: a block header whose SB_BYTES is 0, whose SB_RECORDS is the
 * records of every block and whose SB_CRC is the crc32 of every block's
 * crc32 in order (as u32 words). A file that ends before its trailer, or
 * whose checksums or lengths do not match, is refused whole.
 *
 * SNAPSHOT HEADER (the file's first bytes)
 *   offset    bytes  field
 *        0        4  SH_MAGIC                  SNAPSHOT_MAGIC
 *        4        4  SH_VERSION                SNAPSHOT_VERSION
 *        8        8  SH_WRITTEN_AT             f64 ms since the epoch
 *       16        0  SNAPSHOT_HEADER_BYTES     the first block
 */
export const SNAPSHOT_MAGIC = 0x53564b53; // "SKVS"
/** A snapshot of another version is refused (nothing converts one). */
export const SNAPSHOT_VERSION = 1;
export const snapshotHeaderRecord = new Fields("SNAPSHOT HEADER (the file's first bytes)");
export const SH_MAGIC = snapshotHeaderRecord.field('SH_MAGIC', 4, 'SNAPSHOT_MAGIC');
export const SH_VERSION = snapshotHeaderRecord.field('SH_VERSION', 4, 'SNAPSHOT_VERSION');
export const SH_WRITTEN_AT = snapshotHeaderRecord.field('SH_WRITTEN_AT', 8, 'f64 ms since the epoch');
export const SNAPSHOT_HEADER_BYTES = snapshotHeaderRecord.field('SNAPSHOT_HEADER_BYTES', 0, 'the first block');

/*
 * SNAPSHOT BLOCK HEADER (before each block's payload, and the trailer)
 *   offset    bytes  field
 *        0        4  SB_BYTES                  payload bytes (> 0); 0: the trailer
 *        4        4  SB_RECORDS                records in the payload; the trailer: in the file
 *        8        4  SB_CRC                    crc32 of the payload; the trailer: of the blocks' crcs
 *       12        0  SNAPSHOT_BLOCK_HEADER_BYTES the payload: records
 */
export const snapshotBlockRecord = new Fields("SNAPSHOT BLOCK HEADER (before each block's payload, and the trailer)");
export const SB_BYTES = snapshotBlockRecord.field('SB_BYTES', 4, 'payload bytes (> 0); 0: the trailer');
export const SB_RECORDS = snapshotBlockRecord.field('SB_RECORDS', 4, 'records in the payload; the trailer: in the file');
export const SB_CRC = snapshotBlockRecord.field('SB_CRC', 4, "crc32 of the payload; the trailer: of the blocks' crcs");
export const SNAPSHOT_BLOCK_HEADER_BYTES = snapshotBlockRecord.field('SNAPSHOT_BLOCK_HEADER_BYTES', 0, 'the payload: records');

/*
 * A record is one live entry: its key material (as the table holds it,
 * KeyKind byte first) and its value, tagged. The deadline is on the wall
 * clock, not the monotonic one the table keeps (that one is per boot).
 *
 * SNAPSHOT RECORD (in a block's payload, one after another)
 *   offset    bytes  field
 *        0        2  SR_KEY_LEN                key material bytes (> 0)
 *        2        1  SR_TAG                    ValueTag
 *        3        1  -                         0
 *        4        4  SR_VALUE_LEN
 *        8        8  SR_EXPIRES                f64 ms since the epoch; 0 = never
 *       16        0  SNAPSHOT_RECORD_HEADER_BYTES key material, then the value bytes
 */
export const snapshotEntryRecord = new Fields("SNAPSHOT RECORD (in a block's payload, one after another)");
export const SR_KEY_LEN = snapshotEntryRecord.field('SR_KEY_LEN', 2, 'key material bytes (> 0)');
export const SR_TAG = snapshotEntryRecord.field('SR_TAG', 1, 'ValueTag');
snapshotEntryRecord.spare(1, '0');
export const SR_VALUE_LEN = snapshotEntryRecord.field('SR_VALUE_LEN', 4);
export const SR_EXPIRES = snapshotEntryRecord.field('SR_EXPIRES', 8, 'f64 ms since the epoch; 0 = never');
export const SNAPSHOT_RECORD_HEADER_BYTES = snapshotEntryRecord.field('SNAPSHOT_RECORD_HEADER_BYTES', 0, 'key material, then the value bytes');
