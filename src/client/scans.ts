/**
 * Scans of the whole machine's table, read directly one segment at a time
 * (table-scan.ts: each segment a consistent snapshot under its seqlock;
 * the whole scan is not atomic, like Redis's SCAN).
 *
 * keys() yields to the event loop: snapshot attempts of one segment on the
 * next turns of the event loop; after SCAN_QUICK_ATTEMPTS of them, attempts
 * 1 ms apart until SCAN_PATIENCE_MS have passed (a writer preempted inside
 * its odd period may wait ms for a core, see table-scan.ts), then it gives
 * up with ScanContendedError. A segment that is stable yet makes no sense
 * three times is a TableCorruptError.
 */
import { checkWellFormed, decodeKey, Key } from '../store/keys';
import { KeyScan, scanSegment, scanStringKeys } from '../store/table-scan';
import { BUSY, Visit } from '../store/seqlock';
import { ScanContendedError, TableCorruptError } from '../errors';
import type { ClientCore } from './client-core';

const SCAN_QUICK_ATTEMPTS = 100;
const SCAN_PATIENCE_MS = 5000;

/** Every user key (Client.keys()). */
export async function* scanKeys(core: ClientCore): AsyncGenerator<Key> {
  const seqlock = core.conn.reader.seqlock;
  const scan = new KeyScan();
  for (let seg = 0; seg < seqlock.segments; seg++) {
    let giveUpAt = 0;
    let torn = 0;
    for (let attempt = 0; ; attempt++) {
      core.usable();
      core.conn.checkLive();
      const r = seqlock.attempt(seg, scan);
      if (r === Visit.Found) break;
      if (r !== BUSY && ++torn >= 3) throw new TableCorruptError(`keys(): segment ${seg} is stable and makes no sense`);
      if (attempt < SCAN_QUICK_ATTEMPTS) await new Promise((r) => setImmediate(r));
      else {
        if (giveUpAt === 0) giveUpAt = Date.now() + SCAN_PATIENCE_MS;
        else if (Date.now() > giveUpAt) throw new ScanContendedError(seg);
        await new Promise((r) => setTimeout(r, 1));
      }
    }
    for (const material of scan.found.slice()) yield decodeKey(material);
    if ((seg & 15) === 15) await new Promise((r) => setImmediate(r));
  }
}

/** String keys that start with `prefix` (Client.keysWithPrefix()). */
export function scanPrefix(core: ClientCore, prefix: string): string[] {
  core.usable();
  if (typeof prefix !== 'string') throw new TypeError(`a key prefix must be a string, got ${typeof prefix}`);
  checkWellFormed(prefix, 'a key prefix');
  core.conn.checkLive();
  return scanStringKeys(core.conn.reader.seqlock, prefix);
}

/**
 * Every key's material (reserved keys included), segment by segment,
 * blocking: each segment a consistent snapshot (table-scan.ts), waiting
 * out writers for at most its patience (namespaces' keys and size).
 */
export function scanMaterials(core: ClientCore): Buffer[] {
  core.usable();
  core.conn.checkLive();
  const seqlock = core.conn.reader.seqlock;
  const scan = new KeyScan(new Uint8Array(0), true);
  const out: Buffer[] = [];
  for (let seg = 0; seg < seqlock.segments; seg++) for (const m of scanSegment(seqlock, seg, scan)) out.push(m);
  return out;
}
