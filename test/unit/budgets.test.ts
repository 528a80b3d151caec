/**
 * Budgets (issue 26): every value kind written and read back at the highest
 * offsets of every chunk, for budgets from 64 MiB to 64 GiB, through the
 * writer (Table.set), the client's direct read (TableReader + the codec's
 * decode) and the server's read (Table.withValue, as execute.ts copies a
 * value into a window's staging block); and the addon mapping a file at
 * offsets past 2^31, 2^32 and 2^36, a writer and a read-only reader.
 *
 * HIGH OFFSETS, cheaply: before the values, each chunk's heap gives one
 * block to a filler as large as it will, leaving a few MiB at its end, so
 * every entry and index block lands in the last MiB of its chunk. The
 * filler is never written: tables of 64 GiB cost a few MiB of memory (the
 * chunks are anonymous shared memory, touched only where written).
 *
 * A budget above MAX_CHUNK_BYTES is split in chunks
 * (src/layout/data-meta.ts): offsets within a chunk stay below 2^31, where
 * every typed-array and Buffer method of every supported Node is exact
 * (Node 20 and 22's Buffer#write writes nothing into a Buffer longer than
 * 2^31 bytes: the cause of strings that read back as '' above ~2.1 GiB).
 * This test is the proof for each budget.
 */
import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { Table } from '../../src/store/table';
import { ReadResult, TableReader } from '../../src/store/table-reader';
import { KeyEncoder, Key } from '../../src/store/keys';
import { memoryTable } from '../../src/store/table-format';
import { NO_MEMORY } from '../../src/store/alloc';
import { ValueCodec, writeValue, RawValue } from '../../src/codec/value';
import { RecordCodec } from '../../src/codec/records';
import { MemoryStructures } from '../../src/codec/memory-structures';
import { mapFile, MAP_CREATE, MAP_READONLY } from '../../src/native/shim';
import { Status } from '../../src/layout/board';
import { MAX_CHUNK_BYTES } from '../../src/layout/data-meta';
import { ValueTag } from '../../src/layout/keys-values';
import { verifyHeaps } from '../support/table';

const MiB = 2 ** 20;
const GiB = 2 ** 30;
/** What the filler leaves at the end of each chunk's heap: room for the test's entries and index growth. */
const LEFT = 4 * MiB;

const BUDGETS: Array<[string, number]> = [
  ['64 MiB', 64 * MiB],
  ['1 GiB', GiB],
  ['2047 MiB (one chunk, just under 2 GiB)', 2047 * MiB],
  ['2049 MiB (just over 2 GiB)', 2049 * MiB],
  ['2200 MiB (the reported one)', 2200 * MiB],
  ['4095 MiB (the old maximum)', 4095 * MiB],
  ['4 GiB', 4 * GiB],
  ['4097 MiB', 4097 * MiB],
  ['8 GiB', 8 * GiB],
  ['64 GiB', 64 * GiB],
];

/** Every value kind a client stores, and keys of every kind. */
function kinds(i: number): Array<[Key, unknown]> {
  const bytes = Buffer.alloc(1 + ((i * 97) % 3000));
  for (let j = 0; j < bytes.length; j++) bytes[j] = (i * 31 + j * 7) & 0xff;
  return [
    [`ascii ${i}`, `short ${i}`],
    [`long ${i}`, `${i}:`.padEnd(6000 + i, 'x')],
    [`utf8 ${i}`, `héllo wörld ✓ ${i} 🚀`],
    [`long utf8 ${i}`, 'ü'.repeat(2500 + i) + '🚀'],
    [`empty ${i}`, ''],
    [`bytes ${i}`, bytes],
    [`f64 ${i}`, i + 0.25],
    [`neg ${i}`, -1e300 / (i + 1)],
    [`int ${i}`, 2 ** 53 - i],
    [`u32 ${i}`, (i * 2654435761) >>> 0],
    [1_000_000 + i, (i * 40503) >>> 0], // u32 key and value: inline in its slot
    [2_000_000 + i, `a string under a u32 key ${i}`],
    [Buffer.from([0, 1, 2, 255, i & 0xff]), { i, nested: { list: [1, 'two', null, true], when: new Date(1_700_000_000_000 + i) } }],
    [`obj ${i}`, { i, map: new Map([['k', i]]), set: new Set([i, 'x']), big: BigInt(i) * 10n ** 20n }],
    [`bool ${i}`, i % 2 === 0],
    [`null ${i}`, null],
  ];
}

/** Give every chunk's heap one filler block leaving about LEFT bytes at its end; its offset per chunk. */
function fill(t: Table): number[] {
  const at: number[] = [];
  for (const a of t.segs.allocs) {
    let want = a.heapEnd - a.heapStart - LEFT;
    let got = NO_MEMORY;
    // Large sizes round up to their size class: step down until one fits.
    while (want > 0 && (got = a.alloc(want)) === NO_MEMORY) want -= Math.max(4096, want >>> 6);
    assert.notEqual(got, NO_MEMORY, 'the filler got a block');
    at.push(got + want);
  }
  return at;
}

/** The default codec, its shared structures in memory (what the table's list does for clients: client/structures.ts). */
function codec(maxValueBytes: number): ValueCodec {
  return new ValueCodec('msgpack', new RecordCodec(new MemoryStructures().host(), maxValueBytes), maxValueBytes);
}

/** The value under `key` as the server's read copies it out (execute.ts, staging-io.ts). */
function serverRead(t: Table, enc: KeyEncoder, key: Key, values: ValueCodec): unknown {
  enc.encode(key);
  let out: unknown;
  const s = t.withValue(enc.bytes, 0, enc.length, (from, tag, at, len) => {
    const copy = Buffer.alloc(len);
    copy.set(from.subarray(at, at + len));
    const raw: RawValue = { tag, num: 0, str: '', bytes: null, bytesLen: len };
    if (tag === ValueTag.U32) raw.num = copy.readUInt32LE(0);
    else if (tag === ValueTag.F64) raw.num = copy.readDoubleLE(0);
    else if (tag === ValueTag.String) raw.str = copy.toString('utf8');
    else raw.bytes = copy;
    out = values.decode(raw);
    return Status.Ok;
  });
  assert.equal(s, Status.Ok);
  return out;
}

for (const [name, budget] of BUDGETS) {
  test(`budget ${name}: every value kind at the end of every chunk, written, read directly and read by the server`, { timeout: 120_000 }, () => {
    // Indexes big enough never to grow here: a grown index frees its first
    // block, low in the heap, where later entries would go.
    const parts = memoryTable({ dataBytes: budget, initialBuckets: 1 << 16, seed: 0x5eed, maxValueBytes: 64 * 1024 });
    const t = new Table(parts);
    const r = new TableReader(parts.header, parts.chunks);
    const enc = new KeyEncoder(t.maxKeyBytes, parts.header.seed);
    assert.ok(parts.chunks.length === 1 || parts.header.chunkBytes <= MAX_CHUNK_BYTES, 'chunks stay below 2^31');
    const fillerEnd = fill(t);
    const kindCount = kinds(0).length;
    const buf = Buffer.alloc(64 * 1024);
    const values = codec(t.maxValueBytes);
    const written: Array<[Key, unknown]> = [];
    // Enough keys that every chunk holds some (a key's chunk is its segment's).
    const n = Math.max(8, 4 * parts.chunks.length);
    for (let i = 0; i < n; i++) {
      for (const [key, value] of kinds(i)) {
        const p = values.prepare(value);
        const len = writeValue(p, buf, 0);
        enc.encode(key);
        assert.equal(t.set(enc.bytes, 0, enc.length, buf, 0, len, p.tag), Status.Ok, `set ${String(key)}`);
        written.push([key, value]);
      }
    }
    // Where the entries went: past the filler in every chunk that holds one.
    let high = 0;
    for (const [key] of written) {
      enc.encode(key);
      t.withValue(enc.bytes, 0, enc.length, (from, _tag, at) => {
        const c = parts.chunks.findIndex((ch) => ch.u8 === from);
        if (c >= 0 && at >= fillerEnd[c]) high++;
        return Status.Ok;
      });
    }
    const inline = n; // the u32 -> u32 keys live in their slots
    assert.equal(high, written.length - inline, `entries at the end of their chunk (${written.length - inline} in the heap)`);
    for (const [key, value] of written) {
      enc.encode(key);
      assert.equal(r.read(enc.bytes, enc.length, enc.hash), ReadResult.Found, `direct read of ${String(key)}`);
      assert.deepEqual(values.decode(r), value, `direct read of ${String(key)}`);
      assert.deepEqual(serverRead(t, enc, key, values), value, `server read of ${String(key)}`);
    }
    assert.equal(written.length, n * kindCount);
    verifyHeaps(t);
  });
}

test('the addon maps a file at offsets past 2^31, 2^32 and 2^36: a writer and a read-only reader see the same bytes', () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'shmkv-budget-'));
  try {
    const file = path.join(dir, 'sparse');
    const page = 4096;
    for (const off of [2 ** 31 - page, 2 ** 31, 2 ** 32, 2 ** 33 + 2 ** 31, 2 ** 36]) {
      const w = Buffer.from(mapFile(file, off, 2 * page, MAP_CREATE));
      const r = Buffer.from(mapFile(file, off, 2 * page, MAP_READONLY));
      const text = `at ${off}: héllo ✓`;
      assert.equal(w.write(text, page - 3, 'utf8'), Buffer.byteLength(text));
      assert.equal(r.toString('utf8', page - 3, page - 3 + Buffer.byteLength(text)), text);
      assert.equal(fs.statSync(file).size >= off + 2 * page, true);
    }
    assert.ok(fs.statSync(file).blocks * 512 < 64 * MiB, 'the file stays sparse');
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});
