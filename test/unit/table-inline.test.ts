// u32 data held in the index slot (src/layout/heap.ts, "Index slot"): a u32
// key with a u32 value and no deadline lives in its slot, any other value
// of a u32 key in a heap entry, and every operation moves a key between
// the two. These tests drive every move against a model, read back through
// the writer and the direct reader, check that the slot costs no heap
// block, that clear, scan and eviction see inline keys, and race readers
// against writers that keep moving keys between slot and heap.
import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import { Worker } from 'node:worker_threads';
import { ReadResult, TableReader } from '../../src/store/table-reader';
import { decodeKey, KeyEncoder } from '../../src/store/keys';
import { monoNowMs } from '../../src/store/clock';
import { KeyScan } from '../../src/store/table-scan';
import { Visit } from '../../src/store/seqlock';
import { Status } from '../../src/layout/board';
import { C_DIRECTORY, SEG_INDEX, SEGMENT_BYTES } from '../../src/layout/chunk-directory';
import { MIN_DATA_BYTES, Stat } from '../../src/layout/data-meta';
import { CACHE_LINE } from '../../src/layout/fields';
import { IX_BYTES } from '../../src/layout/heap';
import { ValueTag } from '../../src/layout/keys-values';
import { runWorker, terminateAll } from '../fixtures/unit/harness';
import { rng } from '../fixtures/unit/util';
import { memTable, MemTable, verifyHeaps } from '../support/table';
import type { EvictionPolicy } from '../../src/store/table-format';

const MiB = 1 << 20;
const T = { timeout: 120_000 };

function newTable(bytes: number, opts: { segmentBits?: number; initialBuckets?: number; eviction?: EvictionPolicy } = {}): MemTable {
  return memTable(bytes, { initialBuckets: opts.initialBuckets ?? 1, segmentBits: opts.segmentBits ?? 2, seed: 0x1a7e, eviction: opts.eviction });
}

/** What a key holds in the model: a u32, an f64, or a string; with a deadline or not. */
interface Held {
  tag: ValueTag.U32 | ValueTag.F64 | ValueTag.String;
  v: number | string;
  expires: number;
}

function bytesOf(h: Held): Buffer {
  if (h.tag === ValueTag.String) return Buffer.from(h.v as string);
  const b = Buffer.alloc(h.tag === ValueTag.U32 ? 4 : 8);
  if (h.tag === ValueTag.U32) b.writeUInt32LE(h.v as number);
  else b.writeDoubleLE(h.v as number);
  return b;
}

function readBack(r: TableReader, enc: KeyEncoder, k: number): Held | undefined {
  enc.encode(k);
  const res = r.read(enc.bytes, enc.length, enc.hash);
  assert.ok(res === ReadResult.Found || res === ReadResult.Absent, `key ${k}: read result ${res}`);
  if (res === ReadResult.Absent) return undefined;
  assert.ok(r.tag === ValueTag.U32 || r.tag === ValueTag.F64 || r.tag === ValueTag.String, `key ${k}: tag ${r.tag}`);
  return { tag: r.tag, v: r.tag === ValueTag.String ? r.str : r.num, expires: r.expires };
}

test('inline u32s: every operation moves keys between slot and heap and agrees with a model (writer and direct reader)', T, () => {
  const { t, r, enc } = newTable(64 * MiB);
  const model = new Map<number, Held>();
  const next = rng(0x51);
  const later = monoNowMs() + 3_600_000;
  const KEYS = 3000;
  const set = (k: number, h: Held): Status => {
    enc.encode(k);
    const b = bytesOf(h);
    return t.set(enc.bytes, 0, enc.length, b, 0, b.length, h.tag, h.expires);
  };
  for (let i = 0; i < 80_000; i++) {
    const k = next() % KEYS;
    const cur = model.get(k);
    const roll = next() % 12;
    if (roll === 0) {
      const v = next();
      assert.equal(t.putU32(k, v), Status.Ok);
      model.set(k, { tag: ValueTag.U32, v, expires: 0 });
    } else if (roll === 1) {
      const h: Held = { tag: ValueTag.U32, v: next(), expires: next() % 2 === 0 ? later : 0 };
      assert.equal(set(k, h), Status.Ok);
      model.set(k, h);
    } else if (roll === 2) {
      const h: Held = { tag: ValueTag.String, v: 's'.repeat(next() % 40) + i, expires: 0 };
      assert.equal(set(k, h), Status.Ok);
      model.set(k, h);
    } else if (roll === 3) {
      const d = next() % 1000;
      const st = t.addU32(k, d);
      if (cur && cur.tag !== ValueTag.U32) assert.equal(st, -Status.WrongType);
      else {
        const v = (((cur?.v as number) ?? 0) + d) >>> 0;
        assert.equal(st, v);
        model.set(k, { tag: ValueTag.U32, v, expires: cur?.expires ?? 0 });
      }
    } else if (roll === 4) {
      enc.encode(k);
      const delta = 2 ** 31 + (next() % 10);
      const st = t.addNumber(enc.bytes, 0, enc.length, delta);
      if (cur && cur.tag === ValueTag.String) assert.equal(st.status, Status.WrongType);
      else {
        assert.equal(st.status, Status.Ok);
        const v = ((cur?.v as number) ?? 0) + delta;
        assert.equal(st.value, v);
        model.set(k, { tag: v <= 0xffffffff ? ValueTag.U32 : ValueTag.F64, v, expires: cur?.expires ?? 0 });
      }
    } else if (roll === 5) {
      enc.encode(k);
      const expires = next() % 2 === 0 ? later : 0;
      assert.equal(t.expire(enc.bytes, 0, enc.length, expires), cur ? Status.Ok : Status.NotFound);
      if (cur) cur.expires = expires;
    } else if (roll === 6) {
      // Compare-and-set from what the model says is there to a fresh u32 (or delete).
      enc.encode(k);
      const exp = cur ? bytesOf(cur) : Buffer.alloc(0);
      const nv = next();
      const src = Buffer.concat([enc.bytes.subarray(0, enc.length), exp, bytesOf({ tag: ValueTag.U32, v: nv, expires: 0 })]);
      const del = next() % 4 === 0;
      const st = t.compareSet(src, 0, enc.length, cur ? cur.tag : 0, enc.length, exp.length, enc.length + exp.length, 4, ValueTag.U32, 0, del);
      assert.equal(st, Status.Ok, `key ${k}: compareSet against the model's value`);
      if (del) model.delete(k);
      else model.set(k, { tag: ValueTag.U32, v: nv, expires: 0 });
      // And a stale expectation is refused.
      const wrong = Buffer.concat([enc.bytes.subarray(0, enc.length), bytesOf({ tag: ValueTag.U32, v: (nv + 1) >>> 0, expires: 0 })]);
      assert.equal(t.compareSet(wrong, 0, enc.length, ValueTag.U32, enc.length, 4, enc.length + 4, 0, ValueTag.Null, 0, true), Status.Mismatch);
    } else if (roll === 7) {
      enc.encode(k);
      assert.equal(t.delete(enc.bytes, 0, enc.length), model.delete(k) ? Status.Ok : Status.NotFound);
    } else {
      assert.deepEqual(readBack(r, enc, k), cur, `key ${k} at step ${i}`);
      const st = t.getU32(k);
      if (!cur) assert.equal(st, -Status.NotFound);
      else if (cur.tag !== ValueTag.U32) assert.equal(st, -Status.WrongType);
      else assert.equal(st, cur.v);
    }
  }
  assert.equal(t.size(), model.size);
  for (let k = 0; k < KEYS; k++) assert.deepEqual(readBack(r, enc, k), model.get(k), `key ${k}`);
  // The server's read path copies an inline value like any other.
  const some = [...model.entries()].find(([, h]) => h.tag === ValueTag.U32 && h.expires === 0);
  assert.ok(some, 'the model holds a plain u32');
  enc.encode(some[0]);
  assert.equal(
    t.withValue(enc.bytes, 0, enc.length, (from, tag, at, len) => {
      assert.equal(tag, ValueTag.U32);
      assert.equal(Buffer.from(from.subarray(at, at + len)).readUInt32LE(0), some[1].v);
      return Status.Ok;
    }),
    Status.Ok,
  );
  verifyHeaps(t);
});

test('inline u32s cost no heap block; a string moves a key to the heap and a plain u32 moves it back; indexes are line-aligned', T, () => {
  const { t, r, enc, parts } = newTable(32 * MiB, { initialBuckets: 1 << 16 });
  const base = verifyHeaps(t);
  for (let k = 0; k < 10_000; k++) assert.equal(t.putU32(k, k * 3), Status.Ok);
  assert.equal(verifyHeaps(t), base, '10,000 plain u32s took no heap block');
  const s = Buffer.from('now a string');
  enc.encode(77);
  assert.equal(t.set(enc.bytes, 0, enc.length, s, 0, s.length, ValueTag.String), Status.Ok);
  assert.ok(verifyHeaps(t) > base, 'a string value is a heap entry');
  assert.deepEqual(readBack(r, enc, 77), { tag: ValueTag.String, v: 'now a string', expires: 0 });
  assert.equal(t.putU32(77, 5), Status.Ok);
  assert.equal(verifyHeaps(t), base, 'the plain u32 went back to its slot and the entry was freed');
  // A deadline needs an entry.
  enc.encode(78);
  assert.equal(t.expire(enc.bytes, 0, enc.length, monoNowMs() + 60_000), Status.Ok);
  assert.ok(verifyHeaps(t) > base);
  assert.equal(readBack(r, enc, 78)?.v, 78 * 3);
  assert.ok((readBack(r, enc, 78)?.expires ?? 0) > 0);
  assert.equal(t.putU32(78, 1), Status.Ok);
  assert.equal(verifyHeaps(t), base);
  // Every segment's index starts on a cache line (its word's low bits are log2 of its capacity): a slot never straddles two.
  const u32 = parts.chunks[0].u32;
  for (let seg = 0; seg < 4; seg++) assert.equal((u32[(C_DIRECTORY + seg * SEGMENT_BYTES + SEG_INDEX) >>> 2] & ~(CACHE_LINE - 1)) % CACHE_LINE, 0, `segment ${seg}`);
  assert.equal(CACHE_LINE % IX_BYTES, 0);
});

test('inline u32s: a deadline that passed reads as absent and the sweeper reclaims it; clear and scan count inline keys', T, () => {
  const { t, r, enc } = newTable(16 * MiB);
  for (let k = 0; k < 500; k++) assert.equal(t.putU32(k, k), Status.Ok);
  enc.encode(3);
  assert.equal(t.expire(enc.bytes, 0, enc.length, monoNowMs() - 1), Status.Ok);
  assert.equal(readBack(r, enc, 3), undefined);
  assert.equal(t.getU32(3), -Status.NotFound);
  assert.equal(t.sweep(1 << 20), 0, 'getU32 already reclaimed it');
  enc.encode(4);
  assert.equal(t.expire(enc.bytes, 0, enc.length, monoNowMs() - 1), Status.Ok);
  assert.equal(t.sweep(1 << 20), 1, 'the sweeper reclaims the expired key, and no inline key');
  assert.equal(t.size(), 498);
  const listed = new Set<number>();
  const scan = new KeyScan();
  for (let seg = 0; seg < r.segments; seg++) {
    assert.equal(r.seqlock.attempt(seg, scan), Visit.Found, `segment ${seg} snapshot`);
    for (const k of scan.found) listed.add(decodeKey(k) as number);
  }
  assert.equal(listed.size, 498);
  for (let k = 0; k < 500; k++) assert.equal(listed.has(k), k !== 3 && k !== 4, `key ${k}`);
  assert.equal(t.clear(), 498);
  assert.equal(t.size(), 0);
  assert.equal(readBack(r, enc, 10), undefined);
  verifyHeaps(t);
});

test('inline u32s: at the cap the index cannot grow: puts answer Full without eviction; with it, evict() and the full segment itself make room, CLOCK second chances', T, () => {
  const bytes = MIN_DATA_BYTES;
  // Without eviction: Full once the index is at its full load.
  {
    const { t } = newTable(bytes, { segmentBits: 0, initialBuckets: 64, eviction: 'none' });
    let n = 0;
    while (t.putU32(n, n) === Status.Ok) n++;
    assert.ok(n > 64, `the index grew before the cap (${n} keys)`);
    assert.equal(t.putU32(n, n), Status.Full);
    assert.equal(t.size(), n);
  }
  // With eviction: fill to the same point (the last puts evict within the segment).
  const { t, r, enc, parts } = newTable(bytes, { segmentBits: 0, initialBuckets: 64, eviction: 'clock' });
  let n = 0;
  while (t.stats[Stat.Evictions] === 0) assert.equal(t.putU32(n, n), Status.Ok, `put ${n++}`);
  // Which keys are stored, through the writer's get (which, unlike a direct read, marks nothing).
  const live = (): number[] => [...Array(n + 2).keys()].filter((k) => t.getU32(k) >= 0);
  // evict(): every key but one is read (marked visited); one slot's worth removes exactly that one.
  let keys = live();
  const spared = keys[Math.floor(keys.length / 2)];
  for (const k of keys) if (k !== spared) assert.equal(readBack(r, enc, k)?.v, k);
  assert.ok(t.evictor.evict(0, IX_BYTES) >= IX_BYTES);
  assert.deepEqual(live(), keys.filter((k) => k !== spared));
  // The full segment evicts for itself: a new key takes the freed slot; then
  // with every key read but one (and no mark left from before: as after a
  // full pass of the hand), the next new key evicts exactly that one.
  parts.chunks[0].hints.fill(0);
  const before = t.stats[Stat.Evictions];
  assert.equal(t.putU32(n, n), Status.Ok);
  keys = live();
  const victim = keys[3];
  for (const k of keys) if (k !== victim) readBack(r, enc, k);
  assert.equal(t.putU32(n + 1, n + 1), Status.Ok);
  assert.equal(t.stats[Stat.Evictions], before + 1);
  assert.ok(keys.includes(n), "the first new key went in");
  assert.deepEqual(live(), keys.filter((k) => k !== victim).concat([n + 1]));
  verifyHeaps(t);
});

test('inline u32s: seqlock readers never see a torn or foreign value while writers move keys between slot and heap', T, async () => {
  const m = memTable(32 * MiB, { segmentBits: 1, seed: 7 });
  const workers: Worker[] = [];
  try {
    const stop = new SharedArrayBuffer(16); // [stop, writers ready, writes of each] (worker.ts seq-write)
    const common = { table: m.transfer, keys: 64, stop, u32Keys: true };
    const writers = [0, 1].map((id) => runWorker<{ writes: number }>('seq-write', { ...common, id }, workers));
    const readers = [0, 1].map((id) =>
      runWorker<{ reads: number; found: number; absent: number; bad: string[]; contended: number }>('seq-read', { ...common, id, rounds: 200_000 }, workers),
    );
    const rs = await Promise.all(readers);
    Atomics.store(new Int32Array(stop), 0, 1);
    const ws = await Promise.all(writers);
    for (const res of rs) {
      assert.deepEqual(res.bad, [], 'torn or foreign values returned');
      assert.equal(res.absent, 0, `reads that found a key absent (${res.absent} of ${res.reads})`);
      assert.equal(res.found + res.contended, res.reads);
      assert.ok(res.found > 0);
    }
    for (const w of ws) assert.ok(w.writes >= 1000, `writers kept writing while readers read (${w.writes})`);
    verifyHeaps(m.t);
  } finally {
    await terminateAll(workers);
  }
});
