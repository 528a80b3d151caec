/**
 * A read-only scan of the table's keys, for adapters that must enumerate a
 * prefix (Keyv's namespaced clear() and iterator()). It is the lookup of
 * table-reader.ts widened to a whole segment: under the same seqlock
 * (version before, version after; odd or changed: retry) it copies the
 * material of every string key in the segment that starts with the
 * prefix, so each segment's list is a consistent snapshot. Segments are
 * snapshotted one after another, so the scan as a whole is not atomic: a
 * key written or deleted while it runs may or may not be listed, like
 * Redis's SCAN. Callers read each key again (get) to see its value and
 * its expiry; the scan ignores values, expiry and leases.
 *
 * Kept out of table-reader.ts on purpose: lookups are the hot path and
 * stay as they are; a scan costs one pass over every index slot.
 */
import { futexWait, yieldCpu } from '../native/shim';
import {
  CACHE_LINE,
  D_DIRECTORY,
  D_HEAP_END,
  D_HEAP_START,
  D_SEGMENT_BITS,
  ENTRY_HEADER_BYTES,
  ENTRY_INLINE,
  ENTRY_KEY_LEN,
  INDEX_SLOT_BYTES,
  INDEX_SLOT_WORDS,
  KeyKind,
  MAX_INDEX_LOG2,
  SEG_CAPACITY,
  SEG_INDEX,
  SEG_VERSION,
  SEGMENT_BYTES,
  SLOT_ENTRY,
} from '../layout/layout';
import { TableCorruptError, ScanContendedError } from '../errors';
import { RESERVED_KEY_BYTE } from './keys';

/**
 * Waiting out writers, per segment: SPIN_ATTEMPTS snapshots back to back,
 * then up to YIELD_ATTEMPTS that yield the core first, then snapshots a
 * SLEEP_MS sleep apart until PATIENCE_MS have passed. Why sleep: a writer
 * preempted inside its odd period waits for a core, on a busy 2-core
 * machine for a scheduler slice or more (ms), while thousands of yields
 * take less than that and, under CFS, do not hand the core to a thread
 * queued on the other one. Bounded by time, not by a count of attempts.
 */
const SPIN_ATTEMPTS = 32;
const YIELD_ATTEMPTS = 256;
const SLEEP_MS = 1;
const PATIENCE_MS = 5000;
/** A stable segment that makes no sense this many times is corrupt. */
const MAX_TORN = 3;

/**
 * String keys of the table in `data` (a server's data file) that start
 * with `prefix` (all string keys for ''), in table order.
 */
export function scanStringKeys(data: SharedArrayBuffer, prefix: string, patienceMs = PATIENCE_MS): string[] {
  const u32 = new Uint32Array(data);
  const i32 = new Int32Array(data);
  const u8 = new Uint8Array(data);
  const segBits = u32[D_SEGMENT_BITS >>> 2];
  const heapStart = u32[D_HEAP_START >>> 2];
  const heapEnd = Math.min(u32[D_HEAP_END >>> 2], data.byteLength);
  // Material of a string key: the KeyKind byte, then UTF-8.
  const want = Buffer.concat([Buffer.from([KeyKind.String]), Buffer.from(prefix, 'utf8')]);
  const out: string[] = [];
  const found: Buffer[] = [];
  const nap = new Int32Array(new SharedArrayBuffer(4));
  for (let seg = 0; seg < 2 ** segBits; seg++) {
    const ver = (D_DIRECTORY + seg * SEGMENT_BYTES + SEG_VERSION) >>> 2;
    let torn = 0;
    let done = false;
    let giveUpAt = 0;
    for (let attempt = 0; !done; attempt++) {
      if (attempt >= YIELD_ATTEMPTS) {
        const now = Date.now();
        if (giveUpAt === 0) giveUpAt = now + patienceMs;
        else if (now > giveUpAt) break;
        futexWait(nap, 0, 0, SLEEP_MS);
      } else if (attempt >= SPIN_ATTEMPTS) yieldCpu();
      const v1 = Atomics.load(i32, ver);
      if (v1 & 1) continue;
      found.length = 0;
      const ok = scanSegment(u32, u8, seg, heapStart, heapEnd, want, found);
      if (Atomics.load(i32, ver) !== v1) continue;
      if (!ok) {
        if (++torn >= MAX_TORN) throw new TableCorruptError(`scan: segment ${seg} is stable and makes no sense`);
        continue;
      }
      // Decoded only now: the bytes were copied inside a validated window.
      for (const b of found) out.push(b.toString('utf8', 1));
      done = true;
    }
    if (!done) throw new ScanContendedError(seg);
  }
  return out;
}

/** Copy the matching keys of one segment into `found`; false when what it read is torn. */
function scanSegment(u32: Uint32Array, u8: Uint8Array, seg: number, heapStart: number, heapEnd: number, want: Buffer, found: Buffer[]): boolean {
  const d = (D_DIRECTORY + seg * SEGMENT_BYTES) >>> 2;
  const cap = u32[d + (SEG_CAPACITY >>> 2)];
  const index = u32[d + (SEG_INDEX >>> 2)];
  if (cap === 0 || (cap & (cap - 1)) !== 0 || cap > 2 ** MAX_INDEX_LOG2) return false;
  if (index < heapStart || index + cap * INDEX_SLOT_BYTES > heapEnd || index % CACHE_LINE !== 0) return false;
  const last = heapEnd - ENTRY_HEADER_BYTES;
  const wantLen = want.length;
  for (let i = 0; i < cap; i++) {
    const e = u32[(index >>> 2) + INDEX_SLOT_WORDS * i + (SLOT_ENTRY >>> 2)];
    // An inline slot holds a u32 key, never a string.
    if (e === 0 || e === ENTRY_INLINE) continue;
    if (e < heapStart || e > last || (e & 7) !== 0) return false;
    const keyLen = u32[(e + ENTRY_KEY_LEN) >>> 2];
    const k = e + ENTRY_HEADER_BYTES;
    if (keyLen === 0 || k + keyLen > heapEnd) return false;
    if (keyLen < wantLen) continue;
    // The client's reserved keys (keys.ts) are never a user's.
    if (keyLen > 1 && u8[k + 1] === RESERVED_KEY_BYTE) continue;
    let j = 0;
    while (j < wantLen && u8[k + j] === want[j]) j++;
    if (j !== wantLen) continue;
    // A copy (never a view): the bytes may change once the window closes.
    found.push(Buffer.from(u8.subarray(k, k + keyLen)));
  }
  return true;
}
