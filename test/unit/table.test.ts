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
import { PrivateState } from '../../src/store/private-state';
import { Status } from '../../src/layout/board';
import { C_DIRECTORY, SEG_INDEX, SEG_VERSION } from '../../src/layout/chunk-directory';
import { ValueTag } from '../../src/layout/keys-values';
import { runWorker, terminateAll } from '../fixtures/unit/harness';
import { rng } from '../fixtures/unit/util';
import { memTable, verifyHeaps } from '../support/table';

const MiB = 1 << 20;
const T = { timeout: 120_000 };

function newTable(bytes: number, opts: { segmentBits?: number; initialBuckets?: number; coarse?: boolean } = {}): { t: Table; r: TableReader } {
  return memTable(bytes, { initialBuckets: opts.initialBuckets ?? 1, segmentBits: opts.segmentBits, coarse: opts.coarse });
}

/** A bare heap of `bytes` (alloc.ts), its private state of its own. */
function newHeap(bytes: number): { a: Allocator; u8: Uint8Array } {
  const sab = new SharedArrayBuffer(bytes);
  const priv = PrivateState.create(1, 1, 1 << 20);
  const a = new Allocator(new Uint32Array(sab), priv.i32, priv.heapBase(0), 4096, bytes);
  a.format();
  return { a, u8: new Uint8Array(sab) };
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
  const { a, u8 } = newHeap(8 * MiB);
  const base = a.verify();
  const next = rng(7);
  const live = new Map<number, number>();
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
  const { a } = newHeap(1 * MiB);
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
    verifyHeaps(t);
  });
}

test('table: u32 operations (put, get, add with wrap-around, absent counts as 0, WrongType on other values)', T, () => {
  const { t, r } = newTable(8 * MiB);
  assert.equal(t.getU32(5), -Status.NotFound);
  assert.equal(t.putU32(5, 4294967295), Status.Ok);
  assert.equal(t.getU32(5), 4294967295);
  assert.equal(t.addU32(5, 2), 1);
  assert.equal(t.addU32(6, 7), 7);
  const enc = new KeyEncoder(4096, t.seed);
  enc.encode(6);
  assert.equal(r.read(enc.bytes, enc.length, enc.hash), ReadResult.Found);
  assert.equal(r.tag, ValueTag.U32);
  assert.equal(r.num, 7);
  put(t, enc, 8, 'text');
  assert.equal(t.addU32(8, 1), -Status.WrongType);
  assert.equal(t.getU32(8), -Status.WrongType);
});

test("table: delete removes a fetch placeholder or failure mark (Lease, Failed) and answers NotFound: it held no value", T, () => {
  const { t, r } = newTable(8 * MiB);
  const enc = new KeyEncoder(4096, t.seed);
  for (const tag of [ValueTag.Lease, ValueTag.Failed]) {
    enc.encode('k');
    const b = Buffer.from('0123456789abcdef');
    assert.equal(t.set(enc.bytes, 0, enc.length, b, 0, b.length, tag), Status.Ok);
    assert.equal(r.read(enc.bytes, enc.length, enc.hash), ReadResult.Found, 'the entry is there');
    assert.equal(r.tag, tag);
    assert.equal(del(t, enc, 'k'), Status.NotFound);
    enc.encode('k');
    assert.equal(r.read(enc.bytes, enc.length, enc.hash), ReadResult.Absent, 'and it is gone');
  }
  assert.equal(put(t, enc, 'k', 'v'), Status.Ok);
  assert.equal(del(t, enc, 'k'), Status.Ok, 'a value answers Ok');
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
  put(t, enc, 9, 'abcd'); // a 4-byte string: a heap entry
  assert.equal(t.putU32(9, 42), Status.Ok);
  assert.equal(t.getU32(9), 42);
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
  assert.equal(r.expires, 0, 'a u32 put leaves no deadline');
  assert.equal(r.num, 8);
  put(t, enc, 11, 'a longer string');
  assert.equal(t.putU32(11, 3), Status.Ok);
  assert.equal(t.getU32(11), 3);
});

test('table reader: strings read back exactly, ASCII or not (Latin-1 range, multi-byte, NUL, long)', T, () => {
  const { t, r } = newTable(8 * MiB);
  const enc = new KeyEncoder(4096, t.seed);
  const values = ['', 'plain ascii', '\u0000\u007f', '\u00e9', '\u00ff\u0080', 'caf\u00e9 \u4e16\u754c \ud83c\udf89', 'a'.repeat(5000), '\u00e9'.repeat(3000), 'x'.repeat(4999) + '\u00e9'];
  values.forEach((v, i) => assert.equal(put(t, enc, `s${i}`, v), Status.Ok));
  values.forEach((v, i) => assert.equal(read(r, enc, `s${i}`), v, `value ${i}`));
});

test('table: at the memory cap writes answer Full, never throw, and stored keys stay and can be updated', T, () => {
  const { t, r } = memTable(4 * MiB, { segmentBits: 2, eviction: 'none' });
  const enc = new KeyEncoder(4096, t.seed);
  let stored = 0;
  let full = 0;
  for (let i = 0; i < 60_000; i++) {
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
  for (let i = 0; i < 60_000; i++) if (read(r, enc, `key-${i}`) !== undefined) found++;
  assert.equal(found, stored);
  // An update is a new entry (copy on write) and needs a block: deleting a key makes room for it.
  const first = [...Array(60_000).keys()].find((i) => read(r, enc, `key-${i}`) !== undefined)!;
  const second = [...Array(60_000).keys()].find((i) => i > first && read(r, enc, `key-${i}`) !== undefined)!;
  assert.equal(del(t, enc, `key-${second}`), Status.Ok);
  assert.equal(put(t, enc, `key-${first}`, 'y'.repeat(100)), Status.Ok, 'an update at the cap');
  assert.equal(read(r, enc, `key-${first}`), 'y'.repeat(100));
  verifyHeaps(t);
});

for (const [name, opts] of [
  ['one segment', { segmentBits: 0 }],
  ['default segments', {}],
  ['coarse lock', { coarse: true }],
] as const) {
  test(`table: 4 worker threads put disjoint u32 keys while segments grow (${name})`, T, async () => {
    const m = memTable(64 * MiB, { seed: 0x1234567, ...opts });
    const table = m.transfer;
    const workers: Worker[] = [];
    try {
      const W = 4;
      const n = 20_000;
      const xor = 0x0f0f0f0f;
      const progress = new SharedArrayBuffer(4 * (W + 1));
      const common = { table, coarse: 'coarse' in opts, n, stride: W, xor, seed: 1000, missKey: 0xfffffff0, progress };
      const rs = await Promise.all(
        Array.from({ length: W }, (_, id) => runWorker<{ errors: number; firstErrors: string[]; count: number; crossReads: number }>('ht-put', { ...common, id }, workers)),
      );
      for (const r of rs) {
        assert.equal(r.errors, 0, r.firstErrors.join('; '));
        assert.equal(r.count, n);
      }
      assert.equal(m.t.size(), W * n);
      const v = await runWorker<{ errors: number; firstErrors: string[]; absent: number }>('ht-verify', common, workers);
      assert.equal(v.errors, 0, v.firstErrors.join('; '));
      verifyHeaps(m.t);
    } finally {
      await terminateAll(workers);
    }
  });
}

test('table: seqlock readers never return a torn value while writer threads rewrite the same keys (checksummed values)', T, async () => {
  const m = memTable(32 * MiB, { segmentBits: 1, seed: 99 });
  const workers: Worker[] = [];
  try {
    const stop = new SharedArrayBuffer(16); // [stop, writers ready, writes of each] (worker.ts seq-write)
    const common = { table: m.transfer, keys: 64, stop };
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
    verifyHeaps(m.t);
  } finally {
    await terminateAll(workers);
  }
});

test('table reader: garbage in a segment gives Corrupt (never an exception, never an endless loop); a busy version gives Contended', T, () => {
  const { t, r, parts } = memTable(4 * MiB, { segmentBits: 0 });
  const enc = new KeyEncoder(4096, t.seed);
  put(t, enc, 'a', 'b');
  const ch = parts.chunks[0];
  const u32 = ch.u32;
  const word = (C_DIRECTORY + SEG_INDEX) >>> 2;
  const saved = u32[word];
  const log2 = saved & 63;
  const index = saved - log2;
  enc.encode('a');
  // Index words that name no index inside the heap: capacity 0, 1, 2, 2^30; misaligned; past the heap; before it.
  for (const w of [index, index + 1, index + 30, index + 7 * 64 + log2 + 64, ch.heapEnd + log2, 64 + log2, index + 32 + log2]) {
    u32[word] = w;
    const res = r.read(enc.bytes, enc.length, enc.hash);
    assert.ok(res === ReadResult.Corrupt || res === ReadResult.Absent, `index word ${w}: ${res}`);
  }
  u32[word] = saved;
  // Random words over the whole index: every read ends, with a result.
  const next = rng(3);
  for (let round = 0; round < 200; round++) {
    for (let i = 0; i < (1 << log2) * 4; i++) u32[(index >>> 2) + i] = next() % 5 === 0 ? next() : next() % 1024;
    const res = r.read(enc.bytes, enc.length, enc.hash);
    assert.ok([ReadResult.Found, ReadResult.Absent, ReadResult.Corrupt].includes(res));
  }
  // A version stuck odd (a writer that never finishes): bounded, Contended.
  Atomics.store(ch.i32, (C_DIRECTORY + SEG_VERSION) >>> 2, 1);
  assert.equal(r.read(enc.bytes, enc.length, enc.hash), ReadResult.Contended);
});
