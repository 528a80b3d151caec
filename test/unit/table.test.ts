/**
 * The shared table without server or client: the TLSF heap against a model
 * (every invariant walked after random alloc/free), the table's semantics
 * against a Map for byte and u32 keys through growth and deletion, the
 * seqlock reader agreeing with the writer, worker threads putting and
 * reading while segments grow, seqlock readers hammering keys that writer
 * threads rewrite (every value carries its own checksum), the memory cap,
 * and readers meeting garbage.
 */
import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import { Worker } from 'node:worker_threads';
import { Allocator, NO_MEMORY } from '../../src/store/alloc';
import { Table } from '../../src/store/table';
import { ReadResult, TableReader } from '../../src/store/table-reader';
import { hashBytes, hashU32Key, KeyEncoder, U32_KEY_BYTES, writeU32Key } from '../../src/store/keys';
import { monoNowMs } from '../../src/store/clock';
import { D_DIRECTORY, D_HEAP_END, D_HEAP_START, SEG_CAPACITY, SEG_INDEX, SEG_VERSION, Status, ValueTag } from '../../src/layout/layout';
import { runWorker, terminateAll } from '../fixtures/unit/harness';
import { rng } from '../fixtures/unit/util';

const MiB = 1 << 20;
const T = { timeout: 120_000 };

function newTable(bytes: number, opts: { segmentBits?: number; initialBuckets?: number; coarse?: boolean } = {}): { sab: SharedArrayBuffer; t: Table; r: TableReader } {
  const sab = new SharedArrayBuffer(bytes);
  Table.format(sab, { initialBuckets: opts.initialBuckets ?? 1, dataBytes: bytes, segmentBits: opts.segmentBits, coarse: opts.coarse, seed: 0x5eed });
  return { sab, t: new Table(sab), r: new TableReader(sab) };
}

/** Set a string key to a string value through the writer. */
function put(t: Table, enc: KeyEncoder, key: string | number | Uint8Array, value: string): Status {
  enc.encode(key);
  const v = Buffer.from(value);
  return t.set(enc.bytes, 0, enc.length, v, 0, v.length, ValueTag.String);
}

function del(t: Table, enc: KeyEncoder, key: string | number | Uint8Array): Status {
  enc.encode(key);
  return t.delete(enc.bytes, 0, enc.length);
}

function read(r: TableReader, enc: KeyEncoder, key: string | number | Uint8Array): string | undefined {
  enc.encode(key);
  const res = r.read(enc.bytes, enc.length, enc.hash);
  assert.ok(res === ReadResult.Found || res === ReadResult.Absent, `read result ${res}`);
  return res === ReadResult.Found ? r.str : undefined;
}

test('alloc: random alloc/free keeps every TLSF invariant; freed memory coalesces back into one block', T, () => {
  const bytes = 8 * MiB;
  const { sab } = newTable(bytes);
  const u32 = new Uint32Array(sab);
  const a = new Allocator(u32);
  const base = a.verify();
  const next = rng(7);
  const live = new Map<number, number>();
  const u8 = new Uint8Array(sab);
  for (let i = 0; i < 20_000; i++) {
    if (live.size > 0 && next() % 3 === 0) {
      const keys = [...live.keys()];
      const off = keys[next() % keys.length];
      // The block still holds what we wrote: nothing else was placed over it.
      const tagByte = live.get(off)!;
      assert.equal(u8[off], tagByte & 0xff, `block ${off} was overwritten`);
      a.free(off);
      live.delete(off);
    } else {
      const size = next() % 7 === 0 ? 1 + (next() % 200_000) : 1 + (next() % 300);
      const off = a.alloc(size);
      if (off === NO_MEMORY) continue;
      assert.ok(off % 8 === 0, 'aligned');
      assert.ok(a.usable(off) >= size, 'at least the size asked');
      // Class rounding (1/16) + 8-byte alignment + a remainder too small to split off.
      assert.ok(a.usable(off) <= size * (1 + 1 / 16) + 8 + 16, `internal waste bounded: ${a.usable(off)} for ${size}`);
      u8[off] = i & 0xff;
      live.set(off, i & 0xff);
    }
    if (i % 2000 === 0) a.verify();
  }
  a.verify();
  for (const off of live.keys()) a.free(off);
  const end = a.verify();
  assert.equal(end.usedBytes, base.usedBytes, 'all memory returned');
  assert.equal(end.freeBlocks, base.freeBlocks, 'free neighbours coalesced');
});

test('alloc: NO_MEMORY at the cap, never throws; an allocation that fits the freed space succeeds', T, () => {
  const { sab } = newTable(1 * MiB);
  const a = new Allocator(new Uint32Array(sab));
  const got: number[] = [];
  for (;;) {
    const off = a.alloc(10_000);
    if (off === NO_MEMORY) break;
    got.push(off);
  }
  assert.ok(got.length > 50 && got.length < 110, `${got.length} blocks of 10 KB in 1 MiB`);
  assert.equal(a.alloc(2 ** 31), NO_MEMORY);
  assert.equal(a.alloc(-1), NO_MEMORY);
  for (const off of got.slice(0, 3)) a.free(off);
  assert.notEqual(a.alloc(25_000), NO_MEMORY, 'three freed neighbours coalesced into one block');
  a.verify();
});

for (const segmentBits of [0, 2, 8]) {
  test(`table: byte and u32 keys match a Map model through growth from 1 slot and deletion (${2 ** segmentBits} segments)`, T, () => {
    const { t, r } = newTable(64 * MiB, { segmentBits });
    const enc = new KeyEncoder(4096, t.seed);
    const model = new Map<string, string>();
    const next = rng(segmentBits + 1);
    const keyOf = (i: number): string | number | Uint8Array => (i % 3 === 0 ? i : i % 3 === 1 ? `k${i}` : Buffer.from(`k${i}`));
    const id = (k: string | number | Uint8Array): string => (typeof k === 'number' ? `n${k}` : typeof k === 'string' ? `s${k}` : `b${Buffer.from(k).toString()}`);
    for (let i = 0; i < 60_000; i++) {
      const k = keyOf(next() % 20_000);
      const roll = next() % 10;
      if (roll < 6) {
        const v = 'v'.repeat(next() % (roll === 0 ? 3000 : 40)) + i;
        assert.equal(put(t, enc, k, v), Status.Ok);
        model.set(id(k), v);
      } else if (roll < 8) {
        assert.equal(del(t, enc, k), model.delete(id(k)) ? Status.Ok : Status.NotFound);
      } else {
        assert.equal(read(r, enc, k), model.get(id(k)));
      }
    }
    assert.equal(t.size(), model.size);
    for (let i = 0; i < 20_000; i++) assert.equal(read(r, enc, keyOf(i)), model.get(id(keyOf(i))), `key ${i}`);
    // 1, '1' and the bytes of '1' are three keys.
    put(t, enc, 1, 'number');
    put(t, enc, '1', 'string');
    put(t, enc, Buffer.from('1'), 'bytes');
    assert.deepEqual([read(r, enc, 1), read(r, enc, '1'), read(r, enc, Buffer.from('1'))], ['number', 'string', 'bytes']);
    t.alloc.verify();
  });
}

test('table: u32 operations (put, get, add with wrap-around, absent counts as 0, WrongType on other values)', T, () => {
  const { t, r } = newTable(8 * MiB);
  assert.equal(t.getU32(5), Status.NotFound);
  assert.equal(t.putU32(5, 4294967295), Status.Ok);
  assert.equal(t.getU32(5), Status.Ok);
  assert.equal(t.lastValue, 4294967295);
  assert.equal(t.addU32(5, 2), Status.Ok);
  assert.equal(t.lastValue, 1);
  assert.equal(t.addU32(6, 7), Status.Ok);
  assert.equal(t.lastValue, 7);
  const enc = new KeyEncoder(4096, t.seed);
  enc.encode(6);
  assert.equal(r.read(enc.bytes, enc.length, enc.hash), ReadResult.Found);
  assert.equal(r.tag, ValueTag.U32);
  assert.equal(r.num, 7);
  put(t, enc, 8, 'text');
  assert.equal(t.addU32(8, 1), Status.WrongType);
  assert.equal(t.getU32(8), Status.WrongType);
});

test('keys: hashU32Key gives the hash of the u32 material that writeU32Key writes', () => {
  const material = new Uint8Array(U32_KEY_BYTES);
  const rand = rng(0x4a5b);
  const keys = [0, 1, 255, 256, 0x7fffffff, 0x80000000, 0xffffffff];
  for (let i = 0; i < 20000; i++) keys.push(rand());
  for (const key of keys) {
    const seed = rand();
    writeU32Key(material, 0, key);
    assert.equal(hashU32Key(key, seed), hashBytes(material, 0, U32_KEY_BYTES, seed), `key ${key} seed ${seed}`);
  }
});

test('table: putU32 over another 4-byte value or an expiring u32 stores a plain u32 without a deadline', T, () => {
  const { t, r } = newTable(8 * MiB);
  const enc = new KeyEncoder(4096, t.seed);
  put(t, enc, 9, 'abcd'); // a 4-byte string: rewritten in place
  assert.equal(t.putU32(9, 42), Status.Ok);
  assert.equal(t.getU32(9), Status.Ok);
  assert.equal(t.lastValue, 42);
  enc.encode(9);
  assert.equal(r.read(enc.bytes, enc.length, enc.hash), ReadResult.Found);
  assert.equal(r.tag, ValueTag.U32);
  assert.equal(r.num, 42);
  enc.encode(10);
  const four = Buffer.alloc(4);
  four.writeUInt32LE(7);
  assert.equal(t.set(enc.bytes, 0, enc.length, four, 0, 4, ValueTag.U32, monoNowMs() + 60_000), Status.Ok);
  assert.equal(r.read(enc.bytes, enc.length, enc.hash), ReadResult.Found);
  assert.ok(r.expires > 0);
  assert.equal(t.putU32(10, 8), Status.Ok);
  assert.equal(r.read(enc.bytes, enc.length, enc.hash), ReadResult.Found);
  assert.equal(r.expires, 0, 'a seed put leaves no deadline');
  assert.equal(r.num, 8);
  put(t, enc, 11, 'a longer string'); // no room in place: a new entry
  assert.equal(t.putU32(11, 3), Status.Ok);
  assert.equal(t.getU32(11), Status.Ok);
  assert.equal(t.lastValue, 3);
});

test('table reader: strings read back exactly, ASCII or not (Latin-1 range, multi-byte, NUL, long)', T, () => {
  const { t, r } = newTable(8 * MiB);
  const enc = new KeyEncoder(4096, t.seed);
  const values = ['', 'plain ascii', '\u0000\u007f', '\u00e9', '\u00ff\u0080', 'caf\u00e9 \u4e16\u754c \ud83c\udf89', 'a'.repeat(5000), '\u00e9'.repeat(3000), 'x'.repeat(4999) + '\u00e9'];
  values.forEach((v, i) => assert.equal(put(t, enc, `s${i}`, v), Status.Ok));
  values.forEach((v, i) => assert.equal(read(r, enc, `s${i}`), v, `value ${i}`));
});

test('table: at the memory cap writes answer Full, never throw, and stored keys stay and can be updated', T, () => {
  const { t, r } = newTable(1 * MiB, { segmentBits: 2 });
  const enc = new KeyEncoder(4096, t.seed);
  let stored = 0;
  let full = 0;
  for (let i = 0; i < 20_000; i++) {
    const s = put(t, enc, `key-${i}`, 'x'.repeat(100));
    if (s === Status.Ok) stored++;
    else {
      assert.equal(s, Status.Full);
      full++;
    }
  }
  assert.ok(stored > 1000 && full > 0, `stored ${stored}, refused ${full}`);
  assert.equal(t.size(), stored);
  let found = 0;
  for (let i = 0; i < 20_000; i++) if (read(r, enc, `key-${i}`) !== undefined) found++;
  assert.equal(found, stored);
  const first = [...Array(20_000).keys()].find((i) => read(r, enc, `key-${i}`) !== undefined)!;
  assert.equal(put(t, enc, `key-${first}`, 'y'.repeat(100)), Status.Ok, 'an update that fits in place at the cap');
  assert.equal(read(r, enc, `key-${first}`), 'y'.repeat(100));
  t.alloc.verify();
});

for (const [name, opts] of [
  ['one segment', { segmentBits: 0 }],
  ['default segments', {}],
  ['coarse lock', { coarse: true }],
] as const) {
  test(`table: 4 worker threads put disjoint u32 keys while segments grow (${name})`, T, async () => {
    const bytes = 64 * MiB;
    const sab = new SharedArrayBuffer(bytes);
    Table.format(sab, { initialBuckets: 1, dataBytes: bytes, seed: 0x1234567, ...opts });
    const workers: Worker[] = [];
    try {
      const W = 4;
      const n = 20_000;
      const xor = 0x0f0f0f0f;
      const progress = new SharedArrayBuffer(4 * (W + 1));
      const common = { sab, n, stride: W, xor, seed: 1000, missKey: 0xfffffff0, progress };
      const rs = await Promise.all(
        Array.from({ length: W }, (_, id) => runWorker<{ errors: number; firstErrors: string[]; count: number; crossReads: number }>('ht-put', { ...common, id }, workers)),
      );
      for (const r of rs) {
        assert.equal(r.errors, 0, r.firstErrors.join('; '));
        assert.equal(r.count, n);
      }
      assert.equal(new Table(sab).size(), W * n);
      const v = await runWorker<{ errors: number; firstErrors: string[]; absent: number }>('ht-verify', common, workers);
      assert.equal(v.errors, 0, v.firstErrors.join('; '));
      new Table(sab).alloc.verify();
    } finally {
      await terminateAll(workers);
    }
  });
}

test('table: seqlock readers never return a torn value while writer threads rewrite the same keys (checksummed values)', T, async () => {
  const bytes = 32 * MiB;
  const sab = new SharedArrayBuffer(bytes);
  Table.format(sab, { initialBuckets: 1, dataBytes: bytes, segmentBits: 1, seed: 99 });
  const workers: Worker[] = [];
  try {
    const stop = new SharedArrayBuffer(16); // [stop, writers ready, writes of each] (worker.ts seq-write)
    const common = { sab, keys: 64, stop };
    const writers = [0, 1].map((id) => runWorker<{ writes: number }>('seq-write', { ...common, id }, workers));
    const readers = [0, 1].map((id) =>
      runWorker<{ reads: number; found: number; absent: number; bad: string[]; contended: number }>('seq-read', { ...common, id, rounds: 200_000 }, workers),
    );
    const rs = await Promise.all(readers);
    Atomics.store(new Int32Array(stop), 0, 1);
    const ws = await Promise.all(writers);
    for (const r of rs) {
      assert.deepEqual(r.bad, [], 'torn or wrong values returned');
      // Every key exists before the readers start and is never deleted: a
      // read finds it, or gives up as Contended (then asks the server).
      assert.equal(r.absent, 0, `reads that found a key absent (${r.absent} of ${r.reads})`);
      assert.equal(r.found + r.contended, r.reads);
      assert.ok(r.found > 0, `no read found a value (${r.contended} of ${r.reads} contended)`);
    }
    for (const w of ws) assert.ok(w.writes >= 1000, `writers kept writing while readers read (${w.writes})`);
    new Table(sab).alloc.verify();
  } finally {
    await terminateAll(workers);
  }
});

test('table reader: garbage in a segment gives Corrupt (never an exception, never an endless loop); a busy version gives Contended', T, () => {
  const { sab, t, r } = newTable(4 * MiB, { segmentBits: 0 });
  const enc = new KeyEncoder(4096, t.seed);
  put(t, enc, 'a', 'b');
  const u32 = new Uint32Array(sab);
  const d = D_DIRECTORY >>> 2;
  const saved = [u32[d + (SEG_CAPACITY >>> 2)], u32[d + (SEG_INDEX >>> 2)]];
  enc.encode('a');
  for (const [cap, index] of [
    [3, saved[1]],
    [0, saved[1]],
    [2 ** 30, saved[1]],
    [saved[0], 7],
    [saved[0], u32[D_HEAP_END >>> 2]],
    [1024, u32[D_HEAP_START >>> 2]],
  ]) {
    u32[d + (SEG_CAPACITY >>> 2)] = cap;
    u32[d + (SEG_INDEX >>> 2)] = index;
    const res = r.read(enc.bytes, enc.length, enc.hash);
    assert.ok(res === ReadResult.Corrupt || res === ReadResult.Absent, `cap ${cap} index ${index}: ${res}`);
  }
  u32[d + (SEG_CAPACITY >>> 2)] = saved[0];
  u32[d + (SEG_INDEX >>> 2)] = saved[1];
  // Random words over the whole index: every read ends, with a result.
  const next = rng(3);
  const idx = saved[1] >>> 2;
  for (let round = 0; round < 200; round++) {
    for (let i = 0; i < saved[0] * 2; i++) u32[idx + i] = next() % 5 === 0 ? next() : next() % 1024;
    const res = r.read(enc.bytes, enc.length, enc.hash);
    assert.ok([ReadResult.Found, ReadResult.Absent, ReadResult.Corrupt].includes(res));
  }
  // A version stuck odd (a writer that never finishes): bounded, Contended.
  Atomics.store(new Int32Array(sab), (D_DIRECTORY + SEG_VERSION) >>> 2, 1);
  assert.equal(r.read(enc.bytes, enc.length, enc.hash), ReadResult.Contended);
});
