/**
 * Adopting a table (store/recovery.ts, store/repair.ts) from every state a
 * crash can leave, each made by hand in memory: a version left odd, a key
 * in two slots (a delete's shift cut short), blocks allocated but never
 * linked, a heap whose free blocks' headers are half written, forged block
 * sizes, inline slots whose hash is not their key's, and a file from
 * another boot (deadlines on another monotonic clock). After each, every
 * key reads back exactly, the counts are right, and the rebuilt heap walks
 * clean (alloc.ts verify()).
 */
import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import { adoptTable } from '../../src/store/recovery';
import { PrivateState } from '../../src/store/private-state';
import { Table } from '../../src/store/table';
import { TableReader, ReadResult } from '../../src/store/table-reader';
import { monoNowMs } from '../../src/store/clock';
import { Status } from '../../src/layout/board';
import { C_DIRECTORY, SEG_VERSION, SEGMENT_BYTES } from '../../src/layout/chunk-directory';
import { D_BOOT_ID, D_CLOCK_MONO, D_CLOCK_WALL, Eviction } from '../../src/layout/data-meta';
import { BLOCK_FREE, BLOCK_HEADER_BYTES, BLOCK_SIZE, ENTRY_INLINE, IX_BYTES, IX_ENTRY, IX_HASH } from '../../src/layout/heap';
import { ValueTag } from '../../src/layout/keys-values';
import { memTable, MemTable, verifyHeaps } from '../support/table';

const MiB = 1 << 20;

/** A table of 300 string keys and 300 u32 keys (segment bits 2: four segments). */
function filled(): MemTable {
  const m = memTable(4 * MiB, { segmentBits: 2, initialBuckets: 64 });
  for (let i = 0; i < 300; i++) {
    m.enc.encode(`key-${i}`);
    const v = Buffer.from(`value-${i}-${'v'.repeat(i % 50)}`);
    assert.equal(m.t.set(m.enc.bytes, 0, m.enc.length, v, 0, v.length, ValueTag.String), Status.Ok);
    assert.equal(m.t.putU32(1_000_000 + i, i * 7), Status.Ok);
  }
  return m;
}

/** Adopt the table as a new server would (its private state gone with the old one); a writer and a reader over it. */
function adopt(m: MemTable): { t: Table; r: TableReader; report: ReturnType<typeof adoptTable> } {
  const priv = PrivateState.forGeometry(m.parts.header);
  const parts = { header: m.parts.header, chunks: m.parts.chunks, priv };
  const report = adoptTable(parts, { defaultTtlMs: 0, eviction: Eviction.S3Fifo });
  return { t: new Table(parts), r: new TableReader(parts.header, parts.chunks), report };
}

function checkAll(r: TableReader, m: MemTable, except: Set<string> = new Set()): void {
  for (let i = 0; i < 300; i++) {
    m.enc.encode(`key-${i}`);
    const res = r.read(m.enc.bytes, m.enc.length, m.enc.hash);
    if (except.has(`key-${i}`)) continue;
    assert.equal(res, ReadResult.Found, `key-${i}`);
    assert.equal(r.str, `value-${i}-${'v'.repeat(i % 50)}`);
    m.enc.encode(1_000_000 + i);
    assert.equal(r.read(m.enc.bytes, m.enc.length, m.enc.hash), ReadResult.Found);
    assert.equal(r.num, i * 7);
  }
}

/** Every occupied slot of segment `seg`: [offset, hash, entry]. */
function slotsOf(m: MemTable, seg: number): Array<[number, number, number]> {
  const ch = m.parts.chunks[0];
  const word = ch.indexWord(seg);
  const index = word - (word & 63);
  const out: Array<[number, number, number]> = [];
  for (let i = 0; i < 1 << (word & 63); i++) {
    const s = index + i * IX_BYTES;
    const e = ch.u32[(s + IX_ENTRY) >>> 2];
    if (e !== 0) out.push([s, ch.u32[(s + IX_HASH) >>> 2], e]);
  }
  return out;
}

test('repair: a clean table is adopted whole; what adoption counts matches, and the heap walks clean', () => {
  const m = filled();
  const used = verifyHeaps(m.t);
  const { t, r, report } = adopt(m);
  assert.deepEqual([report.keys, report.dropped, report.duplicates, report.lostIndexes, report.rebooted], [600, 0, 0, 0, false]);
  assert.equal(report.usedBytes, used);
  assert.equal(t.size(), 600);
  assert.equal(verifyHeaps(t), used);
  checkAll(r, m);
  // It serves on: a write after adoption, and a delete.
  m.enc.encode('after');
  const v = Buffer.from('adopted');
  assert.equal(t.set(m.enc.bytes, 0, m.enc.length, v, 0, v.length, ValueTag.String), Status.Ok);
  m.enc.encode('key-3');
  assert.equal(t.delete(m.enc.bytes, 0, m.enc.length), Status.Ok);
  checkAll(r, m, new Set(['key-3']));
  verifyHeaps(t);
});

test('repair: a version left odd (a writer died inside) is made even and past it: readers read again', () => {
  const m = filled();
  const ch = m.parts.chunks[0];
  const at = (C_DIRECTORY + 1 * SEGMENT_BYTES + SEG_VERSION) >>> 2;
  const v = Atomics.load(ch.i32, at);
  Atomics.store(ch.i32, at, v + 1);
  m.enc.encode('key-0');
  const { r } = adopt(m);
  const now = Atomics.load(ch.i32, at);
  assert.equal(now & 1, 0);
  assert.ok(now > v, `the version moved past the one readers saw (${v} -> ${now})`);
  checkAll(r, m);
});

test('repair: a key in two slots (a shift cut short) is kept once; blocks allocated but never linked go back to the heap', () => {
  const m = filled();
  const ch = m.parts.chunks[0];
  const seg = 2;
  const slots = slotsOf(m, seg);
  const [s, , e] = slots.find(([, , e]) => e !== ENTRY_INLINE)!;
  // The duplicate: the same four words in the next empty slot of the run (entry word last, as a shift writes it).
  const word = ch.indexWord(seg);
  const index = word - (word & 63);
  const mask = (1 << (word & 63)) - 1;
  let j = ((s - index) / IX_BYTES + 1) & mask;
  while (ch.u32[(index + j * IX_BYTES + IX_ENTRY) >>> 2] !== 0) j = (j + 1) & mask;
  ch.u8.copyWithin(index + j * IX_BYTES, s, s + IX_BYTES);
  assert.equal(ch.u32[(index + j * IX_BYTES + IX_ENTRY) >>> 2], e);
  // Leaked blocks: allocated (by this writer) and never linked.
  const before = verifyHeaps(m.t);
  for (let i = 0; i < 5; i++) assert.notEqual(m.t.segs.allocs[0].alloc(1000), 0);
  assert.ok(verifyHeaps(m.t) > before);
  const { t, r, report } = adopt(m);
  assert.equal(report.duplicates, 1);
  assert.equal(report.dropped, 0);
  assert.equal(report.keys, 600);
  assert.equal(verifyHeaps(t), before, 'the leaked blocks are free again');
  checkAll(r, m);
});

test('repair: forged block sizes (huge, tiny), free bits on live blocks and garbage in free blocks do not cost a key', () => {
  const m = filled();
  const ch = m.parts.chunks[0];
  const entries = slotsOf(m, 0).filter(([, , e]) => e !== ENTRY_INLINE).map(([, , e]) => e);
  assert.ok(entries.length >= 3);
  ch.u32[(entries[0] - BLOCK_HEADER_BYTES + BLOCK_SIZE) >>> 2] = 0x7ffffff0; // would swallow everything after it
  ch.u32[(entries[1] - BLOCK_HEADER_BYTES + BLOCK_SIZE) >>> 2] = 8; // would cut its own data
  ch.u32[(entries[2] - BLOCK_HEADER_BYTES + BLOCK_SIZE) >>> 2] |= BLOCK_FREE; // "free"
  // Free space: every word of the first free block garbage.
  const free = m.t.segs.allocs[0].alloc(4096);
  m.t.segs.allocs[0].free(free);
  for (let i = 0; i < 1024; i++) ch.u32[(free >>> 2) + i] = (i * 2654435761) >>> 0;
  const { t, r, report } = adopt(m);
  assert.deepEqual([report.keys, report.dropped, report.lostIndexes], [600, 0, 0]);
  checkAll(r, m);
  verifyHeaps(t);
});

test('repair: slots that fail their checks are dropped, the rest kept: an inline slot whose hash is not its key\'s, an entry whose key hashes elsewhere, a slot in the wrong segment', () => {
  const m = filled();
  const ch = m.parts.chunks[0];
  const slots = slotsOf(m, 3);
  const inline = slots.find(([, , e]) => e === ENTRY_INLINE)!;
  const heap = slots.filter(([, , e]) => e !== ENTRY_INLINE);
  ch.u32[(inline[0] + IX_HASH) >>> 2] ^= 1;
  ch.u32[(heap[0][0] + IX_HASH) >>> 2] ^= 0x10; // same segment (top bits), but not the key's hash
  ch.u32[(heap[1][0] + IX_HASH) >>> 2] ^= 0x80000000; // another segment's hash
  const { t, report } = adopt(m);
  assert.equal(report.dropped, 3);
  assert.equal(report.keys, 597);
  assert.equal(t.size(), 597);
  verifyHeaps(t);
});

test('repair: a file from another boot has its deadlines moved by the monotonic time left at its last beat', () => {
  const m = memTable(2 * MiB, { segmentBits: 0 });
  const now = monoNowMs();
  const dv = new DataView(m.parts.header.meta);
  const put = (key: string, expires: number): void => {
    m.enc.encode(key);
    const v = Buffer.from(key);
    assert.equal(m.t.set(m.enc.bytes, 0, m.enc.length, v, 0, v.length, ValueTag.String, expires), Status.Ok);
  };
  // The old boot's clock read T at its last beat, 10 s of wall time ago.
  const T = now + 1e9;
  dv.setFloat64(D_CLOCK_MONO, T, true);
  dv.setFloat64(D_CLOCK_WALL, Date.now() - 10_000, true);
  put('left-60s', T + 60_000);
  put('left-5s', T + 5_000);
  put('never', 0);
  Buffer.from(m.parts.header.meta).fill(0xab, D_BOOT_ID, D_BOOT_ID + 16);
  const { r, report } = adopt(m);
  assert.equal(report.rebooted, true);
  const left = (key: string): number | undefined => {
    m.enc.encode(key);
    const res = r.read(m.enc.bytes, m.enc.length, m.enc.hash);
    return res === ReadResult.Found ? (r.expires === 0 ? Infinity : r.expires - monoNowMs()) : undefined;
  };
  const l60 = left('left-60s')!;
  assert.ok(l60 > 49_000 && l60 <= 50_000, `60 s left 10 s ago: about 50 s now (${l60})`);
  assert.equal(left('left-5s'), undefined, 'it expired meanwhile');
  assert.equal(left('never'), Infinity);
});
