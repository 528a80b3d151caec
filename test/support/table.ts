/**
 * Tables in private memory for the unit and concurrency tests (no server,
 * no file): a writer, a direct reader over the same chunks, and a key
 * encoder with the table's seed; checks of the heaps and of S3-FIFO's
 * queues.
 */
import { Table } from '../../src/store/table';
import { TableReader } from '../../src/store/table-reader';
import { KeyEncoder } from '../../src/store/keys';
import { memoryTable, TableOptions, TableTransfer } from '../../src/store/table-format';
import type { TableParts } from '../../src/store/segments';
import type { S3Fifo } from '../../src/store/s3fifo';
import { hashU32Key, readU32LE } from '../../src/store/keys';
import { ENTRY_HEADER_BYTES, ENTRY_INLINE, ENTRY_STAMP, IX_BYTES, IX_ENTRY, IX_HASH, IX_KEY } from '../../src/layout/heap';
import { KeyKind } from '../../src/layout/keys-values';

export interface MemTable {
  t: Table;
  r: TableReader;
  enc: KeyEncoder;
  parts: TableParts;
  /** What worker threads take (test/fixtures/unit/worker.ts: partsOf()). */
  transfer: TableTransfer;
}

export function memTable(bytes: number, opts: Partial<TableOptions> & { coarse?: boolean } = {}): MemTable {
  const { coarse, ...rest } = opts;
  const parts = memoryTable({ initialBuckets: 1, seed: 0x5eed, ...rest, dataBytes: bytes });
  const t = new Table(parts, undefined, coarse === true);
  return { t, r: new TableReader(parts.header, parts.chunks), enc: new KeyEncoder(4096, parts.header.seed), parts, transfer: parts.transfer };
}

/** Walk every chunk's heap (alloc.ts verify()); the bytes in use over all of them. */
export function verifyHeaps(t: Table): number {
  let used = 0;
  for (const a of t.segs.allocs) used += a.verify().usedBytes;
  return used;
}

/**
 * Check S3-FIFO's queues against the table, with nobody writing: each ring
 * keeps its invariant; every key but System keys has an item, a key held
 * in a heap entry exactly one, a u32 key at least one (s3fifo.ts,
 * INVARIANT). Returns the items, how many are stale (their key gone), the
 * keys queued, and the most items one u32 key has in one ring.
 */
export function verifyQueues(s3: S3Fifo): { items: number; stale: number; keys: number; perU32Key: number } {
  const segs = s3.segs;
  let items = 0;
  let stale = 0;
  let keys = 0;
  let perU32Key = 0;
  for (let c = 0; c < segs.chunks.length; c++) {
    const q = s3.queues[c];
    q.small.check();
    q.main.check();
    const held = new Map<string, number>();
    for (const ring of [q.small, q.main]) {
      const inRing = new Map<number, number>();
      for (const [a, b] of ring.items()) {
        const id = b === 0 ? `u${a}` : `${a}:${b}`;
        held.set(id, (held.get(id) ?? 0) + 1);
        if (b === 0) inRing.set(a, (inRing.get(a) ?? 0) + 1);
        items++;
        const hash = b === 0 ? hashU32Key(a, segs.seed) : a;
        const seg = segs.segmentOf(hash);
        if ((seg & (segs.chunks.length - 1)) !== c || s3.locate(seg, a, b, hash) < 0) stale++;
      }
      for (const n of inRing.values()) perU32Key = Math.max(perU32Key, n);
    }
    const ch = segs.chunks[c];
    for (let seg = c; seg < segs.segments; seg += segs.chunks.length) {
      const index = segs.indexOf(seg);
      for (let i = 0; i < segs.capacityOf(seg); i++) {
        const slot = index + i * IX_BYTES;
        const e = ch.u32[(slot + IX_ENTRY) >>> 2];
        if (e === 0) continue;
        let id: string;
        if (e === ENTRY_INLINE) id = `u${ch.u32[(slot + IX_KEY) >>> 2]}`;
        else if (ch.u8[e + ENTRY_HEADER_BYTES] === KeyKind.System) continue;
        else if (ch.u8[e + ENTRY_HEADER_BYTES] === KeyKind.U32) id = `u${readU32LE(ch.u8, e + ENTRY_HEADER_BYTES + 1)}`;
        else id = `${ch.u32[(slot + IX_HASH) >>> 2]}:${ch.u32[(e + ENTRY_STAMP) >>> 2]}`;
        keys++;
        const n = held.get(id) ?? 0;
        if (id.startsWith('u') ? n < 1 : n !== 1) throw new Error(`chunk ${c}: key ${id} (segment ${seg}) has ${n} queue items`);
      }
    }
  }
  return { items, stale, keys, perU32Key };
}
