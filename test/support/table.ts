/**
 * Tables in private memory for the unit and concurrency tests (no server,
 * no file): a writer, a direct reader over the same chunks, and a key
 * encoder with the table's seed.
 */
import { Table } from '../../src/store/table';
import { TableReader } from '../../src/store/table-reader';
import { KeyEncoder } from '../../src/store/keys';
import { memoryTable, TableOptions, TableTransfer } from '../../src/store/table-format';
import type { TableParts } from '../../src/store/segments';

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
