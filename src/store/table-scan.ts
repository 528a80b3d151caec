/**
 * Scans of the table's keys (keys(), keysWithPrefix(), Keyv's namespaced
 * clear() and iterator()): a visitor of the one seqlock reader
 * (seqlock.ts) that copies the material of every live key of a segment,
 * or of those that start with a prefix. Each segment's list is a
 * consistent snapshot; segments are snapshotted one after another, so the
 * scan as a whole is not atomic: a key written or deleted while it runs may
 * or may not be listed, like Redis's SCAN. Expired entries, fetch's leases
 * and failure marks, and the library's pinned keys (KeyKind.System) are
 * never listed; the client's reserved keys (KeyKind.Reserved) only when
 * asked.
 */
import { expired, monoNowMs } from './clock';
import { Chunk } from './chunk';
import { ReadResult, Seqlock, SegmentVisitor, Visit } from './seqlock';
import { TableCorruptError, ScanContendedError } from '../errors';
import { writeU32Key, U32_KEY_BYTES } from './keys';
import { ENTRY_EXPIRES, ENTRY_HEADER_BYTES, ENTRY_INLINE, ENTRY_KEY_LEN, ENTRY_TAG, IX_ENTRY, IX_KEY, IX_WORDS } from '../layout/heap';
import { isFetchMark, KeyKind } from '../layout/keys-values';

/** How long a scan waits out writers of one segment before ScanContendedError. */
export const SCAN_PATIENCE_MS = 5000;

export class KeyScan implements SegmentVisitor {
  /** The material of the keys found by the last successful visit (copies). */
  readonly found: Buffer[] = [];
  /** Keys must start with this material (empty: every key). */
  private readonly want: Uint8Array;
  clock: () => number = monoNowMs;

  /**
   * @param prefixMaterial keys must start with it (empty: every key)
   * @param reserved list the client's reserved keys too (KeyKind.Reserved:
   *   namespaced entries, tag tokens): a namespace scans them; keys() does not
   */
  constructor(prefixMaterial: Uint8Array = new Uint8Array(0), private readonly reserved = false) {
    this.want = prefixMaterial;
  }

  visit(ch: Chunk, index: number, mask: number): Visit {
    const u32 = ch.u32;
    const u8 = ch.u8;
    const want = this.want;
    const wantLen = want.length;
    const now = this.clock();
    this.found.length = 0;
    for (let i = 0; i <= mask; i++) {
      const s = (index >>> 2) + IX_WORDS * i;
      const e = u32[s + (IX_ENTRY >>> 2)];
      if (e === 0) continue;
      if (e === ENTRY_INLINE) {
        if (wantLen > 0 && want[0] !== KeyKind.U32) continue;
        const k = Buffer.allocUnsafeSlow(U32_KEY_BYTES);
        writeU32Key(k, 0, u32[s + (IX_KEY >>> 2)]);
        if (matches(k, 0, want)) this.found.push(k);
        continue;
      }
      if (!ch.entryOk(e)) return Visit.Torn;
      const keyLen = u32[(e + ENTRY_KEY_LEN) >>> 2] & 0xffff;
      const k = e + ENTRY_HEADER_BYTES;
      if (keyLen === 0 || !ch.fits(k, keyLen)) return Visit.Torn;
      const kind = u8[k];
      if (keyLen < wantLen || kind === KeyKind.System || (kind === KeyKind.Reserved && !this.reserved) || !matches(u8, k, want)) continue;
      const tag = u8[e + ENTRY_TAG];
      if (isFetchMark(tag) || expired(ch.dv.getFloat64(e + ENTRY_EXPIRES, true), now)) continue;
      // A copy (never a view): the bytes may change once the snapshot is over.
      this.found.push(Buffer.from(u8.subarray(k, k + keyLen)));
    }
    return Visit.Found;
  }
}

function matches(u8: Uint8Array, at: number, want: Uint8Array): boolean {
  for (let j = 0; j < want.length; j++) if (u8[at + j] !== want[j]) return false;
  return true;
}

/** The live keys of segment `seg`, waiting out writers for up to `patienceMs`; throws when it cannot. */
export function scanSegment(seqlock: Seqlock, seg: number, scan: KeyScan, patienceMs = SCAN_PATIENCE_MS): Buffer[] {
  const r = seqlock.readPatiently(seg, scan, patienceMs);
  if (r === ReadResult.Found) return scan.found.slice();
  if (r === ReadResult.Corrupt) throw new TableCorruptError(`scan: segment ${seg} is stable and makes no sense`);
  throw new ScanContendedError(seg);
}

/**
 * String keys of the table that start with `prefix` (all string keys for
 * ''), in table order: one patient snapshot per segment.
 */
export function scanStringKeys(seqlock: Seqlock, prefix: string, patienceMs = SCAN_PATIENCE_MS): string[] {
  const scan = new KeyScan(Buffer.concat([Buffer.from([KeyKind.String]), Buffer.from(prefix, 'utf8')]));
  const out: string[] = [];
  for (let seg = 0; seg < seqlock.segments; seg++) for (const k of scanSegment(seqlock, seg, scan, patienceMs)) out.push(k.toString('utf8', 1));
  return out;
}
