/**
 * The segmented hash table in its arena: semantics against a Map model,
 * growth from a single bucket, worker threads sharing one arena while it
 * grows (fine-grained and coarse locking), the memory cap, argument checks,
 * and resistance to keys chosen to collide (measured as probe distances read
 * out of the arena, never as time).
 */
import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import { Worker } from 'node:worker_threads';
import {
  ARENA_DIRECTORY,
  ARENA_ENTRIES,
  ARENA_SEED,
  ARENA_SEGMENT_BITS,
  ARENA_SEGMENT_BYTES,
  arenaHeapStart,
  ENTRY_BYTES,
  SEG_CAPACITY,
  SEG_COUNT,
  SEG_TABLE,
  segmentTableBytes,
  Status,
} from '../src/layout/layout';
import { ABSENT, DEFAULT_SEGMENT_BITS, HashTable, MAX_ARENA_BYTES, mixKey } from '../src/store/hashtable';
import { runBody, runWorker, serveBody, terminateAll } from './fixtures/unit/harness';
import { keyOf, rng, valueOf } from './fixtures/unit/util';

/** A bound on hangs only: spinning threads slow down 50x when the machine is oversubscribed. */
const T = { timeout: 600_000 };
const MiB = 1 << 20;

function table(opts: Parameters<typeof HashTable.createArena>[0]): { sab: SharedArrayBuffer; t: HashTable } {
  const sab = HashTable.createArena(opts);
  return { sab, t: new HashTable(sab) };
}

interface SegInfo {
  count: number;
  capacity: number;
  table: number;
}

function segments(sab: SharedArrayBuffer): SegInfo[] {
  const u32 = new Uint32Array(sab);
  const n = 2 ** u32[ARENA_SEGMENT_BITS >> 2];
  const out: SegInfo[] = [];
  for (let s = 0; s < n; s++) {
    const d = (ARENA_DIRECTORY + s * ARENA_SEGMENT_BYTES) >> 2;
    out.push({ count: u32[d + (SEG_COUNT >> 2)], capacity: u32[d + (SEG_CAPACITY >> 2)], table: u32[d + (SEG_TABLE >> 2)] });
  }
  return out;
}

/**
 * Probe statistics read straight from the arena (quiescent table): for every
 * stored key, how far linear probing had to walk from its home bucket. A
 * get of that key costs distance + 1 probes; a miss costs at most the
 * longest run of full buckets.
 */
function probeStats(sab: SharedArrayBuffer): { keys: number; maxDist: number; meanDist: number; maxRun: number } {
  const u32 = new Uint32Array(sab);
  const u8 = new Uint8Array(sab);
  const seed = u32[ARENA_SEED >> 2];
  let keys = 0;
  let sum = 0;
  let maxDist = 0;
  let maxRun = 0;
  for (const seg of segments(sab)) {
    const ctrl = seg.table + seg.capacity * ENTRY_BYTES;
    const mask = seg.capacity - 1;
    let run = 0;
    for (let k = 0; k < 2 * seg.capacity; k++) {
      const i = k & mask;
      if (u8[ctrl + i] === 0) {
        run = 0;
        continue;
      }
      run++;
      maxRun = Math.max(maxRun, Math.min(run, seg.capacity));
      if (k >= seg.capacity) continue;
      const key = u32[seg.table / 4 + 2 * i];
      const dist = (i - (mixKey(key, seed) & mask)) & mask;
      keys++;
      sum += dist;
      maxDist = Math.max(maxDist, dist);
    }
  }
  return { keys, maxDist, meanDist: sum / keys, maxRun };
}

const bodies: Record<string, () => void | Promise<void>> = {};
const tests: [string, string][] = [];
/** Register a test whose body runs in a worker (see runBody). */
function htTest(title: string, key: string, body: () => void | Promise<void>): void {
  bodies[key] = body;
  tests.push([title, key]);
}

htTest('hashtable: ABSENT for missing keys; full u32 range of keys and values; updates', 'basics', () => {
  const { t } = table({ initialBuckets: 16, maxBytes: MiB, seed: 7 });
  assert.equal(ABSENT, -1);
  assert.equal(t.get(0), ABSENT);
  assert.equal(t.get(4294967295), ABSENT);
  assert.equal(t.size(), 0);
  assert.equal(t.put(0, 0), Status.Ok);
  assert.equal(t.get(0), 0, 'value 0 is a value, not absence');
  assert.equal(t.put(4294967295, 4294967295), Status.Ok);
  assert.equal(t.get(4294967295), 4294967295);
  assert.equal(t.put(1, 2147483648), Status.Ok);
  assert.equal(t.get(1), 2147483648);
  assert.equal(t.put(2147483648, 1), Status.Ok);
  assert.equal(t.get(2147483648), 1);
  assert.equal(t.get(2147483647), ABSENT);
  assert.equal(t.size(), 4);
  // Update in place: new value, same count.
  assert.equal(t.put(0, 4294967295), Status.Ok);
  assert.equal(t.put(4294967295, 0), Status.Ok);
  assert.equal(t.get(0), 4294967295);
  assert.equal(t.get(4294967295), 0);
  assert.equal(t.size(), 4);
  // A second view of the same arena sees the same table.
  const { sab, t: t2 } = table({ initialBuckets: 1, maxBytes: MiB, segmentBits: 0, seed: 3 });
  t2.put(5, 6);
  assert.equal(new HashTable(sab).get(5), 6);
});

for (const [name, segmentBits] of [
  ['one segment', 0],
  ['4 segments', 2],
  ['default segments', undefined],
] as const) {
  htTest(`hashtable: grows from 1 bucket to 200k keys (${name}) matching a Map model`, `grow-${segmentBits}`, () => {
    const { sab, t } = table({ initialBuckets: 1, maxBytes: 64 * MiB, segmentBits, seed: 0xc0ffee });
    const segs = 2 ** (segmentBits ?? DEFAULT_SEGMENT_BITS);
    assert.equal(t.buckets(), segs, 'one bucket per segment to start with');
    const model = new Map<number, number>();
    const next = rng(42 + segs);
    for (let i = 0; i < 200_000; i++) {
      const k = keyOf(i, 0x5a5a5a5a);
      const v = next();
      assert.equal(t.put(k, v), Status.Ok);
      model.set(k, v);
      // Some updates of earlier keys, mid-growth.
      if (i % 7 === 0) {
        const old = keyOf(next() % (i + 1), 0x5a5a5a5a);
        const nv = next();
        assert.equal(t.put(old, nv), Status.Ok);
        model.set(old, nv);
      }
    }
    assert.equal(t.size(), model.size);
    assert.equal(Atomics.load(new Uint32Array(sab), ARENA_ENTRIES >> 2), model.size);
    for (const [k, v] of model) if (t.get(k) !== v) assert.fail(`get(${k}) = ${t.get(k)}, expected ${v}`);
    for (let i = 200_000; i < 220_000; i++) if (t.get(keyOf(i, 0x5a5a5a5a)) !== ABSENT) assert.fail(`key #${i} was never put`);
    // Every segment respects its load bound and has a power-of-two capacity.
    for (const s of segments(sab)) {
      assert.equal(s.capacity & (s.capacity - 1), 0);
      assert.ok(s.count * 4 <= s.capacity * 3, `segment over 3/4 load: ${s.count}/${s.capacity}`);
    }
    assert.ok(t.buckets() >= (model.size * 4) / 3);
  });
}

function missKey(n: number, stride: number, xor: number): number {
  return keyOf(n * stride + 1, xor);
}

for (const [name, opts] of [
  ['one segment, fine locks', { segmentBits: 0 }],
  ['default segments, fine locks', {}],
  ['coarse lock', { coarse: true }],
] as const) {
  htTest(`hashtable: 4 worker threads put disjoint keys while the table grows (${name})`, `concurrent-${name}`, async () => {
    const { sab, t } = table({ initialBuckets: 1, maxBytes: 64 * MiB, seed: 0x1234567, ...opts });
    const workers: Worker[] = [];
    try {
      const W = 4;
      const n = 40_000;
      const xor = 0x0f0f0f0f;
      const miss = missKey(n, W, xor);
      const progress = new SharedArrayBuffer(4 * (W + 1));
      const common = { sab, n, stride: W, xor, seed: 1000, missKey: miss, progress };
      const rs = await Promise.all(
        Array.from({ length: W }, (_, id) =>
          runWorker<{ errors: number; firstErrors: string[]; count: number; crossReads: number }>('ht-put', { ...common, id }, workers),
        ),
      );
      for (const r of rs) {
        assert.equal(r.errors, 0, r.firstErrors.join('; '));
        assert.equal(r.count, n);
        assert.ok(r.crossReads > n / 4, `workers read keys the others had put (${r.crossReads})`);
      }
      assert.equal(t.size(), W * n);
      const v = await runWorker<{ errors: number; firstErrors: string[]; absent: number }>('ht-verify', common, workers);
      assert.equal(v.errors, 0, v.firstErrors.join('; '));
      assert.equal(v.absent, ABSENT);
      // No lock left held or waited on.
      const i32 = new Int32Array(sab);
      for (let s = 0; s < segments(sab).length; s++) {
        const d = (ARENA_DIRECTORY + s * ARENA_SEGMENT_BYTES) >> 2;
        assert.equal(Atomics.load(i32, d), 0, `segment ${s} lock still held`);
        assert.equal(Atomics.load(i32, d + 1), 0, `segment ${s} lock has waiters`);
      }
    } finally {
      await terminateAll(workers);
    }
  });
}

htTest('hashtable: at the memory cap puts answer Full, never throw, and earlier keys stay', 'cap', () => {
  for (const segmentBits of [0, 2]) {
    const heap = arenaHeapStart(segmentBits);
    const segs = 2 ** segmentBits;
    // Room for the initial tables and a few doublings, nothing like 100k keys.
    const maxBytes = heap + segs * segmentTableBytes(16) + 40_000;
    const { sab, t } = table({ initialBuckets: 16 * segs, maxBytes, segmentBits, seed: 99 });
    const stored = new Map<number, number>();
    let full = 0;
    let firstFull = -1;
    for (let i = 0; i < 100_000; i++) {
      const k = keyOf(i, 77);
      const st = t.put(k, valueOf(k));
      if (st === Status.Ok) stored.set(k, valueOf(k));
      else {
        assert.equal(st, Status.Full, `put #${i} returned ${st}`);
        if (firstFull < 0) firstFull = i;
        full++;
        assert.equal(t.get(k), ABSENT, 'a refused key is not stored');
      }
    }
    assert.ok(firstFull > 0, 'some keys fit before the cap');
    assert.ok(full > 90_000, `most puts were refused (${full})`);
    assert.equal(t.size(), stored.size);
    for (const [k, v] of stored) assert.equal(t.get(k), v);
    // At the cap, existing keys can still be updated...
    const [k0] = stored.keys();
    assert.equal(t.put(k0, 12345), Status.Ok);
    assert.equal(t.get(k0), 12345);
    // ...and new ones are still refused, without throwing.
    assert.equal(t.put(keyOf(200_000, 77), 1), Status.Full);
    // Never an over-full segment: every probe sequence ends at an empty bucket.
    for (const s of segments(sab)) assert.ok(s.count < s.capacity, `segment completely full: ${s.count}/${s.capacity}`);
  }
});

htTest('hashtable: createArena validates its options with RangeError', 'validate', () => {
  const need = arenaHeapStart(DEFAULT_SEGMENT_BITS) + 2 ** DEFAULT_SEGMENT_BITS * segmentTableBytes(1);
  assert.throws(() => HashTable.createArena({ initialBuckets: 1, maxBytes: need - 1 }), RangeError);
  assert.throws(() => HashTable.createArena({ initialBuckets: 1, maxBytes: 1000 }), RangeError);
  assert.throws(() => HashTable.createArena({ initialBuckets: 1, maxBytes: 0 }), RangeError);
  assert.throws(() => HashTable.createArena({ initialBuckets: 1 << 20, maxBytes: MiB }), RangeError);
  assert.throws(() => HashTable.createArena({ initialBuckets: 0, maxBytes: MiB }), RangeError);
  assert.throws(() => HashTable.createArena({ initialBuckets: 1.5, maxBytes: MiB }), RangeError);
  assert.throws(() => HashTable.createArena({ initialBuckets: 1, maxBytes: NaN }), RangeError);
  assert.throws(() => HashTable.createArena({ initialBuckets: 1, maxBytes: MAX_ARENA_BYTES + 64 }), RangeError);
  // Exactly enough is enough.
  const sab = HashTable.createArena({ initialBuckets: 1, maxBytes: need });
  assert.equal(sab.byteLength, need);
  // Seeds: as given, else random per arena.
  assert.equal(new Uint32Array(HashTable.createArena({ initialBuckets: 1, maxBytes: need, seed: 0xabcdef01 }))[ARENA_SEED >> 2], 0xabcdef01);
  const s1 = new Uint32Array(HashTable.createArena({ initialBuckets: 1, maxBytes: need }))[ARENA_SEED >> 2];
  const s2 = new Uint32Array(HashTable.createArena({ initialBuckets: 1, maxBytes: need }))[ARENA_SEED >> 2];
  assert.notEqual(s1, s2, 'two arenas without a seed got the same one');
});

htTest('hashtable: keys that are multiples of the table size spread like random keys', 'flood', () => {
  const B = 1 << 17;
  for (const seed of [1, 0x9747b28c, 0xdeadbeef]) {
    // Bucket occupancy of the mixed hash for 100k multiples of 1024 (and
    // for all 32768 multiples of 2^17) in 2^17 buckets.
    for (const [count, step] of [
      [100_000, 1024],
      [32_768, B],
    ]) {
      const occ = new Uint16Array(B);
      let max = 0;
      for (let i = 0; i < count; i++) max = Math.max(max, ++occ[mixKey(i * step, seed) & (B - 1)]);
      assert.ok(max < 10, `seed ${seed}, step ${step}: a bucket got ${max} keys`);
    }
  }
  // The table itself: probe distances for multiples of the table size vs
  // random keys, same table shape, same seed.
  const shapes = [
    { segmentBits: 0, initialBuckets: 1 << 18, keys: 16_384, step: 1 << 18 },
    { segmentBits: 0, initialBuckets: 1 << 18, keys: 100_000, step: 1024 },
    { segmentBits: DEFAULT_SEGMENT_BITS, initialBuckets: 1, keys: 100_000, step: 1024 },
  ];
  for (const shape of shapes) {
    const stats = (gen: (i: number) => number): ReturnType<typeof probeStats> => {
      const { sab, t } = table({ initialBuckets: shape.initialBuckets, maxBytes: 64 * MiB, segmentBits: shape.segmentBits, seed: 0x9747b28c });
      for (let i = 0; i < shape.keys; i++) assert.equal(t.put(gen(i), i), Status.Ok);
      return probeStats(sab);
    };
    const flood = stats((i) => (i * shape.step) >>> 0);
    const random = stats((i) => keyOf(i, 0x31415926));
    const what = `${JSON.stringify(shape)}: flood ${JSON.stringify(flood)} vs random ${JSON.stringify(random)}`;
    assert.equal(flood.keys, shape.keys);
    assert.ok(flood.meanDist <= random.meanDist * 1.5 + 0.1, what);
    assert.ok(flood.maxDist <= random.maxDist * 3 + 10, what);
    assert.ok(flood.maxRun <= random.maxRun * 3 + 10, what);
    assert.ok(flood.maxRun < 1000, what);
  }
  // With segments, the segment choice (high hash bits) spreads them too.
  const { sab, t } = table({ initialBuckets: 1, maxBytes: 64 * MiB, seed: 5 });
  for (let i = 0; i < 64_000; i++) t.put(i * 1024, i);
  const counts = segments(sab).map((s) => s.count);
  assert.ok(Math.max(...counts) < 1.3 * (64_000 / counts.length), `segment loads ${Math.min(...counts)}..${Math.max(...counts)}`);
});

if (!serveBody(bodies)) {
  for (const [title, key] of tests) test(title, T, () => runBody(__filename, key));

  // On the main thread: it may need t.skip (no spinning risk: every probe
  // ends at an empty bucket of a table that is nearly empty).
  test('hashtable: keys stored in a segment table placed above 2 GiB in the arena are found again', T, (t) => {
    // maxBytes may be up to MAX_ARENA_BYTES (~4 GiB; the server's -m allows
    // 4095 MiB). Lay out 16 segments of 2^24 buckets so that the last one's
    // table starts past 2^31 bytes. The pages are never touched except for
    // the few entries written, so this costs address space, not memory.
    const segmentBits = 4;
    const per = 2 ** 24;
    const maxBytes = arenaHeapStart(segmentBits) + 16 * segmentTableBytes(per);
    let sab: SharedArrayBuffer;
    try {
      sab = HashTable.createArena({ initialBuckets: 16 * per, maxBytes, segmentBits, seed: 1 });
    } catch (e) {
      t.skip(`cannot allocate a ${maxBytes}-byte SharedArrayBuffer here (${(e as Error).message}): not testable`);
      return;
    }
    const segs = segments(sab);
    assert.ok(segs[15].table >= 2 ** 31, 'the layout puts segment 15 above 2 GiB');
    const ht = new HashTable(sab);
    const bad: string[] = [];
    let n = 0;
    for (let k = 0; n < 200; k++) {
      if (mixKey(k, 1) >>> 28 !== 15) continue; // keys of segment 15 only
      n++;
      assert.equal(ht.put(k, k + 7), Status.Ok);
      const g = ht.get(k);
      if (g !== k + 7) bad.push(`${k}->${g}`);
    }
    assert.equal(bad.length, 0, `${bad.length}/200 keys in segment 15 lost, e.g. ${bad.slice(0, 3).join(', ')}`);
  });
}
