/**
 * Snapshots: the table written to a file on disk, for what a data file in
 * /dev/shm does not survive (a reboot, a move to another machine), and
 * loaded by a server that finds no data file to adopt.
 *
 * FORMAT: layout/snapshot.ts (a header, blocks of records, a trailer). A
 * file that ends before its trailer, or whose checksums or lengths do not
 * match, is refused whole (SnapshotError, one line).
 *
 * WRITING is atomic: a temporary file in the same directory, fsync, rename,
 * fsync of the directory. Service goes on meanwhile: the writer takes one
 * segment's lock at a time, copies that segment's live entries out, lets
 * it go and writes them while the other segments serve. CONSISTENCY: each
 * segment is a snapshot of one instant; the file as a whole is not one
 * instant (a write to a segment already copied is not in it), like Redis's
 * BGSAVE is one instant and memcached's warm restart is none. A snapshot
 * taken at a clean stop, once the workers stopped, is the whole table.
 * Every entry is one value, old or new, never torn (it is copied under its
 * segment's lock). Expired entries and fetch's leases are not written.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { crc32 } from 'node:zlib';
import { Segments } from './segments';
import { expired, monoNowMs } from './clock';
import { writeU32Key, U32_KEY_BYTES } from './keys';
import { SnapshotError } from '../errors';
import { INDEX_LOG2_MASK } from '../layout/chunk-directory';
import {
  ENTRY_EXPIRES,
  ENTRY_HEADER_BYTES,
  ENTRY_INLINE,
  ENTRY_KEY_LEN,
  ENTRY_TAG,
  ENTRY_VALUE_LEN,
  IX_BYTES,
  IX_ENTRY,
  IX_KEY,
  IX_VALUE,
} from '../layout/heap';
import { isFetchMark, ValueTag } from '../layout/keys-values';
import {
  SB_BYTES,
  SB_CRC,
  SB_RECORDS,
  SH_MAGIC,
  SH_VERSION,
  SH_WRITTEN_AT,
  SNAPSHOT_BLOCK_HEADER_BYTES,
  SNAPSHOT_HEADER_BYTES,
  SNAPSHOT_MAGIC,
  SNAPSHOT_RECORD_HEADER_BYTES,
  SNAPSHOT_VERSION,
  SR_EXPIRES,
  SR_KEY_LEN,
  SR_TAG,
  SR_VALUE_LEN,
} from '../layout/snapshot';

/** A block is written once it holds this much (or its segment is done). */
const BLOCK_TARGET_BYTES = 1 << 20;

export interface SnapshotStats {
  records: number;
  bytes: number;
  ms: number;
}

/** One record: key material, tag, value bytes, and its deadline on the wall clock (0 = never). */
export interface SnapshotRecord {
  key: Buffer;
  tag: ValueTag;
  value: Buffer;
  expiresWall: number;
}

/**
 * Write every live entry of the table to `file` (atomically: see above).
 * Yields to the event loop between segments, so the heartbeat goes on.
 */
export async function writeSnapshot(segs: Segments, file: string): Promise<SnapshotStats> {
  const start = Date.now();
  const tmp = path.join(path.dirname(file), `.${path.basename(file)}.tmp-${process.pid}`);
  const fh = await fs.promises.open(tmp, 'w', 0o600);
  let records = 0;
  let bytes = 0;
  const crcs: number[] = [];
  try {
    const head = Buffer.alloc(SNAPSHOT_HEADER_BYTES);
    head.writeUInt32LE(SNAPSHOT_MAGIC, SH_MAGIC);
    head.writeUInt32LE(SNAPSHOT_VERSION, SH_VERSION);
    head.writeDoubleLE(Date.now(), SH_WRITTEN_AT);
    await fh.write(head);
    bytes += head.length;
    let parts: Buffer[] = [];
    let partBytes = 0;
    let partRecords = 0;
    const flush = async (): Promise<void> => {
      if (partRecords === 0) return;
      const payload = Buffer.concat(parts, partBytes);
      const bh = Buffer.alloc(SNAPSHOT_BLOCK_HEADER_BYTES);
      const crc = crc32(payload);
      bh.writeUInt32LE(payload.length, SB_BYTES);
      bh.writeUInt32LE(partRecords, SB_RECORDS);
      bh.writeUInt32LE(crc, SB_CRC);
      await fh.writev([bh, payload]);
      crcs.push(crc);
      bytes += bh.length + payload.length;
      records += partRecords;
      parts = [];
      partBytes = 0;
      partRecords = 0;
    };
    for (let seg = 0; seg < segs.segments; seg++) {
      const copied = copySegment(segs, seg);
      for (const r of copied) {
        parts.push(r);
        partBytes += r.length;
        partRecords++;
      }
      if (partBytes >= BLOCK_TARGET_BYTES) await flush();
      else if ((seg & 15) === 15) await new Promise((r) => setImmediate(r));
    }
    await flush();
    const trailer = Buffer.alloc(SNAPSHOT_BLOCK_HEADER_BYTES);
    trailer.writeUInt32LE(0, SB_BYTES);
    trailer.writeUInt32LE(records, SB_RECORDS);
    trailer.writeUInt32LE(crc32(Buffer.from(Uint32Array.from(crcs).buffer)), SB_CRC);
    await fh.write(trailer);
    bytes += trailer.length;
    await fh.sync();
  } catch (e) {
    await fh.close().catch(() => undefined);
    await fs.promises.rm(tmp, { force: true });
    throw e;
  }
  await fh.close();
  await fs.promises.rename(tmp, file);
  // The rename is durable once the directory is.
  const dir = await fs.promises.open(path.dirname(file), 'r');
  await dir.sync().catch(() => undefined);
  await dir.close();
  return { records, bytes, ms: Date.now() - start };
}

/** The live entries of one segment as records, copied under its lock. */
function copySegment(segs: Segments, seg: number): Buffer[] {
  const out: Buffer[] = [];
  const lock = segs.locks[seg];
  lock.lock();
  try {
    const ch = segs.chunkOf(seg);
    const index = segs.indexWord(seg) & ~INDEX_LOG2_MASK;
    const cap = segs.capacityOf(seg);
    const now = monoNowMs();
    const wallShift = Date.now() - now;
    for (let i = 0; i < cap; i++) {
      const s = index + i * IX_BYTES;
      const e = ch.u32[(s + IX_ENTRY) >>> 2];
      if (e === 0) continue;
      if (e === ENTRY_INLINE) {
        const r = Buffer.alloc(SNAPSHOT_RECORD_HEADER_BYTES + U32_KEY_BYTES + 4);
        header(r, U32_KEY_BYTES, ValueTag.U32, 4, 0);
        writeU32Key(r, SNAPSHOT_RECORD_HEADER_BYTES, ch.u32[(s + IX_KEY) >>> 2]);
        r.writeUInt32LE(ch.u32[(s + IX_VALUE) >>> 2], SNAPSHOT_RECORD_HEADER_BYTES + U32_KEY_BYTES);
        out.push(r);
        continue;
      }
      if (!ch.entryOk(e)) continue; // forged: the repair's business, not the snapshot's
      const keyLen = ch.u32[(e + ENTRY_KEY_LEN) >>> 2] & 0xffff;
      const valueLen = ch.u32[(e + ENTRY_VALUE_LEN) >>> 2];
      const tag = ch.u8[e + ENTRY_TAG];
      const at = ch.dv.getFloat64(e + ENTRY_EXPIRES, true);
      if (!ch.fits(e + ENTRY_HEADER_BYTES, keyLen + valueLen) || isFetchMark(tag) || expired(at, now)) continue;
      const r = Buffer.alloc(SNAPSHOT_RECORD_HEADER_BYTES + keyLen + valueLen);
      header(r, keyLen, tag, valueLen, at === 0 ? 0 : at + wallShift);
      ch.buf.copy(r, SNAPSHOT_RECORD_HEADER_BYTES, e + ENTRY_HEADER_BYTES, e + ENTRY_HEADER_BYTES + keyLen + valueLen);
      out.push(r);
    }
  } finally {
    lock.unlock();
  }
  return out;
}

function header(r: Buffer, keyLen: number, tag: number, valueLen: number, expiresWall: number): void {
  r.writeUInt16LE(keyLen, SR_KEY_LEN);
  r.writeUInt8(tag, SR_TAG);
  r.writeUInt32LE(valueLen, SR_VALUE_LEN);
  r.writeDoubleLE(expiresWall, SR_EXPIRES);
}

/**
 * Read a snapshot whole and check it, then hand every record to `use`
 * (nothing is handed over from a file that does not check out). Throws
 * SnapshotError naming the file and what is wrong.
 */
export function readSnapshot(file: string, use: (r: SnapshotRecord) => void): { records: number; writtenAt: number } {
  let buf: Buffer;
  try {
    const st = fs.statSync(file);
    if (!st.isFile()) throw new SnapshotError(`${file} is not a regular file`);
    buf = fs.readFileSync(file);
  } catch (e) {
    if (e instanceof SnapshotError) throw e;
    throw new SnapshotError(`cannot read ${file}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
  }
  const bad = (at: number, what: string): SnapshotError => new SnapshotError(`${file} is not a usable snapshot (${what} at byte ${at})`);
  if (buf.length < SNAPSHOT_HEADER_BYTES || buf.readUInt32LE(SH_MAGIC) !== SNAPSHOT_MAGIC) throw bad(SH_MAGIC, 'no snapshot magic');
  if (buf.readUInt32LE(SH_VERSION) !== SNAPSHOT_VERSION) throw bad(SH_VERSION, `version ${buf.readUInt32LE(SH_VERSION)}, this build reads ${SNAPSHOT_VERSION}`);
  const writtenAt = buf.readDoubleLE(SH_WRITTEN_AT);
  const crcs: number[] = [];
  const blocks: Array<[number, number]> = [];
  let at = SNAPSHOT_HEADER_BYTES;
  let records = 0;
  for (;;) {
    if (at + SNAPSHOT_BLOCK_HEADER_BYTES > buf.length) throw bad(at, 'it ends before its trailer (truncated)');
    const len = buf.readUInt32LE(at + SB_BYTES);
    const n = buf.readUInt32LE(at + SB_RECORDS);
    const crc = buf.readUInt32LE(at + SB_CRC);
    if (len === 0) {
      if (n !== records || crc !== crc32(Buffer.from(Uint32Array.from(crcs).buffer))) throw bad(at, 'its trailer does not match its blocks');
      if (at + SNAPSHOT_BLOCK_HEADER_BYTES !== buf.length) throw bad(at + SNAPSHOT_BLOCK_HEADER_BYTES, 'bytes after its trailer');
      break;
    }
    const from = at + SNAPSHOT_BLOCK_HEADER_BYTES;
    if (from + len > buf.length) throw bad(at, 'a block runs past its end (truncated)');
    if (crc32(buf.subarray(from, from + len)) !== crc) throw bad(at, 'a block fails its checksum');
    blocks.push([from, from + len]);
    crcs.push(crc);
    records += n;
    at = from + len;
  }
  const out: SnapshotRecord[] = [];
  for (const [from, to] of blocks) {
    for (let p = from; p < to; ) {
      if (p + SNAPSHOT_RECORD_HEADER_BYTES > to) throw bad(p, 'a record runs past its block');
      const keyLen = buf.readUInt16LE(p + SR_KEY_LEN);
      const tag = buf.readUInt8(p + SR_TAG);
      const valueLen = buf.readUInt32LE(p + SR_VALUE_LEN);
      const expiresWall = buf.readDoubleLE(p + SR_EXPIRES);
      const end = p + SNAPSHOT_RECORD_HEADER_BYTES + keyLen + valueLen;
      if (keyLen === 0 || end > to || !(expiresWall >= 0)) throw bad(p, 'a record does not make sense');
      out.push({ key: buf.subarray(p + SNAPSHOT_RECORD_HEADER_BYTES, p + SNAPSHOT_RECORD_HEADER_BYTES + keyLen), tag, value: buf.subarray(p + SNAPSHOT_RECORD_HEADER_BYTES + keyLen, end), expiresWall });
      p = end;
    }
  }
  if (out.length !== records) throw bad(at, 'its blocks hold another number of records than they say');
  for (const r of out) use(r);
  return { records, writtenAt };
}
