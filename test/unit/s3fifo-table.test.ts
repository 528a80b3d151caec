// S3-FIFO in the real table (src/store/s3fifo.ts, s3fifo-tidy.ts), in
// memory, one thread: a hot set read between scans of one-hit keys stays
// (CLOCK loses part of it); a key evicted from the small queue and written
// again soon enters the main queue through the ghost; System keys are never
// evicted (both policies); items of deleted and expired keys are skipped
// when popped, and an update keeps its key's item and queue; below the cap,
// deleting and inserting forever keeps the queues bounded (compaction, one
// item per u32 key); what no queue holds, the CLOCK fallback evicts; a warm
// restart rebuilds the queues in stamp order.
import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import { S3Fifo } from '../../src/store/s3fifo';
import { ClockEvictor } from '../../src/store/evictor';
import { hashBytes, hashU32Key } from '../../src/store/keys';
import { adoptTable } from '../../src/store/recovery';
import { readDataHeader } from '../../src/layout/data-file';
import type { TableParts } from '../../src/store/segments';
import { PrivateState } from '../../src/store/private-state';
import { Table } from '../../src/store/table';
import { ReadResult, TableReader } from '../../src/store/table-reader';
import { monoNowMs } from '../../src/store/clock';
import { evictionPolicy, evictionWord, type EvictionPolicy } from '../../src/store/table-format';
import { Status } from '../../src/layout/board';
import { Eviction, Stat } from '../../src/layout/data-meta';
import { TIDY_ITEMS_PER_KEY, TIDY_SLACK_ITEMS } from '../../src/layout/eviction-queues';
import { ENTRY_INLINE, ENTRY_STAMP, IX_ENTRY } from '../../src/layout/heap';
import { KeyKind, ValueTag } from '../../src/layout/keys-values';
import { memTable, MemTable, verifyHeaps, verifyQueues } from '../support/table';

const MiB = 1 << 20;
const T = { timeout: 60_000 };

function table(bytes: number, eviction: EvictionPolicy = 's3fifo', segmentBits = 2): MemTable {
  return memTable(bytes, { eviction, segmentBits, initialBuckets: 1024 });
}

function s3(m: MemTable): S3Fifo {
  assert.ok(m.t.evictor instanceof S3Fifo);
  return m.t.evictor;
}

function put(m: MemTable, key: string | number, value: string, expires = 0): Status {
  m.enc.encode(key);
  const v = Buffer.from(value);
  return m.t.set(m.enc.bytes, 0, m.enc.length, v, 0, v.length, ValueTag.String, expires);
}

/** A direct read, as a client's: marks the key visited when found. */
function has(m: MemTable, key: string | number): boolean {
  m.enc.encode(key);
  return m.r.read(m.enc.bytes, m.enc.length, m.enc.hash) === ReadResult.Found;
}

function del(m: MemTable, key: string | number): Status {
  m.enc.encode(key);
  return m.t.delete(m.enc.bytes, 0, m.enc.length);
}

/** Whether the key is stored, without reading it (no visit). */
function stored(m: MemTable, key: string | number): boolean {
  m.enc.encode(key);
  return m.t.segs.find(m.t.segs.segmentOf(m.enc.hash), m.enc.hash, m.enc.bytes, 0, m.enc.length) >= 0;
}

/** The table's header read again from its meta area (after an adoption changed it). */
function reread(m: MemTable): TableParts['header'] {
  return readDataHeader('(memory)', m.parts.header.meta, m.parts.header.bytes);
}

/** The queue item of a stored key: [a, b] (its hash and stamp, or the u32 key and 0). */
function itemOf(m: MemTable, key: string | number): [number, number] {
  m.enc.encode(key);
  if (typeof key === 'number') return [key, 0];
  const seg = m.t.segs.segmentOf(m.enc.hash);
  const slot = m.t.segs.find(seg, m.enc.hash, m.enc.bytes, 0, m.enc.length);
  assert.ok(slot >= 0, `${key} is stored`);
  const ch = m.t.segs.chunkOf(seg);
  const e = ch.u32[(slot + IX_ENTRY) >>> 2];
  return [m.enc.hash, ch.u32[(e + ENTRY_STAMP) >>> 2]];
}

const VALUE = 'v'.repeat(200);

/**
 * Hot keys read twice a round (a miss writes the key, the second read finds
 * it: the visit S3-FIFO's small queue looks for), each round then a scan
 * of one-hit keys that writes about twice what the table holds. The hot
 * keys' misses after the first rounds.
 */
function hotMisses(eviction: EvictionPolicy): { misses: number; reads: number } {
  const m = table(2 * MiB, eviction);
  let scan = 0;
  let misses = 0;
  let reads = 0;
  for (let round = 0; round < 30; round++) {
    for (let h = 0; h < 400; h++) {
      if (!has(m, `hot-${h}`)) {
        if (round >= 5) misses++;
        assert.equal(put(m, `hot-${h}`, VALUE), Status.Ok);
      }
      assert.ok(has(m, `hot-${h}`));
      if (round >= 5) reads++;
    }
    for (let i = 0; i < 16_000; i++) assert.equal(put(m, `scan-${scan++}`, VALUE), Status.Ok);
  }
  assert.ok(m.t.stats[Stat.Evictions] > 400_000);
  verifyHeaps(m.t);
  if (eviction === 's3fifo') verifyQueues(s3(m));
  return { misses, reads };
}

test('each policy name and its header word map both ways; an unknown name is a RangeError', () => {
  for (const p of ['s3fifo', 'clock', 'none'] as EvictionPolicy[]) assert.equal(evictionPolicy(evictionWord(p)), p);
  assert.equal(evictionWord(undefined), Eviction.S3Fifo);
  assert.throws(() => evictionWord('lru' as EvictionPolicy), /eviction must be 's3fifo', 'clock' or 'none', got lru/);
});

test('a hot set read between scans of one-hit keys stays under S3-FIFO, and not under CLOCK', T, () => {
  const s = hotMisses('s3fifo');
  const c = hotMisses('clock');
  // S3-FIFO: scan keys pass through the small queue only; the hot keys, promoted once, sit in the main queue.
  // CLOCK: the hand sweeps the whole table about twice a round, and a hot key's visits spare it once.
  assert.equal(s.misses, 0, `S3-FIFO: ${s.misses} hot misses of ${s.reads}`);
  assert.ok(c.misses > c.reads / 20, `CLOCK: ${c.misses} hot misses of ${c.reads}`);
});

test('a key evicted from the small queue and written again soon enters the main queue (the ghost)', T, () => {
  const m = table(MiB);
  const q = s3(m).queues[0];
  let n = 0;
  while (m.t.stats[Stat.Evictions] === 0) put(m, `fill-${n++}`, VALUE);
  assert.equal(put(m, 'comeback', VALUE), Status.Ok);
  const hash = itemOf(m, 'comeback')[0];
  assert.ok(q.small.items().some(([a]) => a === hash), 'a new key enters the small queue');
  // Unread (stored() is no read: a read would be a visit), it is evicted from the small queue as newer keys come: into the ghost.
  while (stored(m, 'comeback')) assert.equal(put(m, `fill-${n++}`, VALUE), Status.Ok);
  assert.ok(!q.small.items().some(([a]) => a === hash));
  const hits = s3(m).counts.ghostHits;
  assert.equal(put(m, 'comeback', VALUE), Status.Ok);
  assert.equal(s3(m).counts.ghostHits, hits + 1);
  const item = itemOf(m, 'comeback');
  assert.deepEqual(q.main.items().at(-1), item, 'at the head of the main queue');
  assert.ok(!q.small.items().some(([a]) => a === hash));
  verifyQueues(s3(m));
});

for (const eviction of ['s3fifo', 'clock'] as const) {
  test(`System keys are never evicted (${eviction})`, T, () => {
    const m = table(MiB, eviction);
    const sys = (i: number): Buffer => Buffer.from([KeyKind.System, ...Buffer.from(`record-${i}`)]);
    for (let i = 0; i < 50; i++) {
      const k = sys(i);
      assert.equal(m.t.set(k, 0, k.length, Buffer.from(VALUE), 0, VALUE.length, ValueTag.String), Status.Ok);
    }
    for (let i = 0; i < 40_000; i++) assert.equal(put(m, `churn-${i}`, VALUE), Status.Ok);
    assert.ok(m.t.stats[Stat.Evictions] > 30_000);
    for (let i = 0; i < 50; i++) {
      const k = sys(i);
      assert.equal(m.r.read(k, k.length, hashBytes(k, 0, k.length, m.t.seed)), ReadResult.Found, `system key ${i}`);
    }
    if (eviction === 's3fifo') {
      // Not queued at all.
      const hashes = new Set(Array.from({ length: 50 }, (_, i) => hashBytes(sys(i), 0, sys(i).length, m.t.seed)));
      const q = s3(m).queues[0];
      assert.ok(![...q.small.items(), ...q.main.items()].some(([a]) => hashes.has(a)));
      verifyQueues(s3(m));
    }
    verifyHeaps(m.t);
  });
}

test('items of deleted and expired keys are skipped when popped; an update keeps its key in its queue', T, () => {
  const m = table(MiB);
  const s = s3(m);
  const q = s.queues[0];
  let n = 0;
  while (m.t.stats[Stat.Evictions] === 0) put(m, `k-${n++}`, VALUE);
  // Keys read now are promoted to main when their turn comes in the small queue.
  const live = Array.from({ length: n }, (_, i) => `k-${i}`).filter((k) => has(m, k));
  const promoted = live.slice(-100);
  const inMain = (): Set<string> => new Set(q.main.items().map(([a, b]) => `${a}:${b}`));
  for (let main = inMain(); !promoted.every((k) => main.has(itemOf(m, k).join(':'))); main = inMain()) {
    for (let i = 0; i < 100; i++) assert.equal(put(m, `k-${n++}`, VALUE), Status.Ok);
    for (const k of promoted) assert.ok(has(m, k), `${k} was evicted`);
  }
  // Updates: a new entry (copy on write, a longer value), the same item, still in main.
  for (const k of promoted) {
    const before = itemOf(m, k);
    assert.equal(put(m, k, VALUE + 'x'.repeat(64)), Status.Ok);
    assert.deepEqual(itemOf(m, k), before, `${k} keeps its stamp`);
  }
  const mainItems = new Set(q.main.items().map(([a, b]) => `${a}:${b}`));
  for (const k of promoted) assert.ok(mainItems.has(itemOf(m, k).join(':')), `${k} still in main`);
  // Deleted and expired keys in the small queue: stale when popped, not evictions.
  const inSmall = q.small.items().slice(0, 200);
  const smallKeys = Array.from({ length: n }, (_, i) => `k-${i}`).filter((k) => has(m, k) && inSmall.some(([a]) => a === itemOf(m, k)[0]));
  assert.ok(smallKeys.length > 50, `${smallKeys.length} keys at the small queue's tail`);
  const gone = smallKeys.slice(0, 40);
  for (const k of gone.slice(0, 20)) assert.equal(del(m, k), Status.Ok);
  for (const k of gone.slice(20)) assert.equal(put(m, k, VALUE, monoNowMs() - 1), Status.Ok, 'an update that expired');
  m.parts.chunks[0].hints.fill(0);
  const stale = s.counts.stale;
  const evictions = m.t.stats[Stat.Evictions];
  const expirations = m.t.stats[Stat.Expirations];
  // Evict the small queue's 200 oldest items' worth.
  s.evict(0, 1);
  while (q.small.items().some(([a]) => inSmall.slice(0, 150).some(([x]) => x === a))) s.evict(0, 1);
  assert.equal(s.counts.stale - stale, 20, 'the deleted keys');
  assert.equal(m.t.stats[Stat.Expirations] - expirations, 20, 'the expired keys, reclaimed');
  assert.ok(m.t.stats[Stat.Evictions] - evictions >= 100);
  for (const k of promoted) assert.ok(has(m, k), `${k} (in main) stays`);
  verifyQueues(s);
  verifyHeaps(m.t);
});

test('below the cap, inserting and deleting forever keeps the queues bounded: compaction, one item per u32 key', T, () => {
  const m = table(64 * MiB);
  const s = s3(m);
  let peak = 0;
  for (let round = 0; round < 100; round++) {
    for (let i = 0; i < 2000; i++) assert.equal(put(m, `r${round}-${i}`, 'x'), Status.Ok);
    // u32 keys deleted and written again: each insert queues an item, the old one stays valid.
    for (let k = 0; k < 500; k++) {
      if (round > 0) assert.equal(del(m, k), Status.Ok);
      assert.equal(m.t.putU32(k, round), Status.Ok);
    }
    for (let i = 0; i < 2000; i++) if (i % 10 !== 0) assert.equal(del(m, `r${round}-${i}`), Status.Ok);
    while (m.t.tidy(10_000) > 0);
    const items = s.queued(0);
    peak = Math.max(peak, items);
    assert.ok(items <= TIDY_ITEMS_PER_KEY * m.t.size() + TIDY_SLACK_ITEMS + 2 * 2500, `round ${round}: ${items} items for ${m.t.size()} keys`);
  }
  assert.equal(m.t.stats[Stat.Evictions], 0, 'never at the cap');
  const v = verifyQueues(s);
  assert.ok(v.perU32Key <= 2, `at most one item per u32 key in each queue (${v.perU32Key})`);
  assert.ok(s.bytes() < 2 * MiB, `queues hold ${s.bytes()} bytes for ${m.t.size()} keys (peak ${peak} items)`);
});

test('keys no queue holds are evicted by the CLOCK fallback: writes at the cap still succeed', T, () => {
  const m = table(MiB);
  const s = s3(m);
  let n = 0;
  while (m.t.stats[Stat.Evictions] === 0) put(m, `k-${n++}`, VALUE);
  // As if every push had failed: the queues hold nothing.
  s.queues[0].small.reset();
  s.queues[0].main.reset();
  for (let i = 0; i < 5000; i++) assert.equal(put(m, `more-${i}`, VALUE), Status.Ok);
  assert.ok(s.counts.fallbackBytes > 0);
  verifyHeaps(m.t);
});

test('a warm restart rebuilds the queues: u32 keys first, then by stamp (insertion), the newest tenth in the small queue; stamps go on after', T, () => {
  const m = table(8 * MiB, 'clock');
  for (let i = 0; i < 1000; i++) {
    assert.equal(put(m, `s-${i}`, 'value'), Status.Ok);
    if (i % 4 === 0) assert.equal(m.t.putU32(i, i), Status.Ok);
  }
  for (let i = 0; i < 1000; i += 3) assert.equal(put(m, `s-${i}`, 'updated, longer value'), Status.Ok);
  for (let i = 0; i < 1000; i += 7) assert.equal(del(m, `s-${i}`), Status.Ok);
  const liveStrings = Array.from({ length: 1000 }, (_, i) => `s-${i}`).filter((_, i) => i % 7 !== 0);
  const stamps = new Map(liveStrings.map((k) => [k, itemOf(m, k)[1]]));
  // The new server: its private state is new, the table is adopted with S3-FIFO.
  const priv = PrivateState.forGeometry(m.parts.header);
  adoptTable({ header: m.parts.header, chunks: m.parts.chunks, priv }, { defaultTtlMs: 0, eviction: Eviction.S3Fifo });
  // As the server does (cache-files.ts): the header read again, naming the policy adoption wrote.
  const parts = { header: reread(m), chunks: m.parts.chunks, priv };
  const t = new Table(parts);
  const a: MemTable = { ...m, t, r: new TableReader(parts.header, parts.chunks), parts };
  const q = s3(a).queues[0];
  const all = [...q.main.items(), ...q.small.items()];
  assert.equal(all.length, 250 + liveStrings.length);
  assert.equal(q.small.count(), Math.floor(all.length / 10));
  const u32s = all.slice(0, 250);
  assert.ok(u32s.every(([, b]) => b === 0));
  assert.deepEqual(u32s.map(([k]) => k).sort((x, y) => x - y), Array.from({ length: 250 }, (_, i) => 4 * i));
  const order = all.slice(250).map(([, b]) => b);
  assert.deepEqual(order, [...stamps.values()].sort((x, y) => x - y), 'by stamp, oldest first');
  assert.equal(put(a, 'new', 'value'), Status.Ok);
  assert.ok(itemOf(a, 'new')[1] > Math.max(...stamps.values()), 'a new key is stamped after every adopted one');
  verifyQueues(s3(a));
  // And back: adopted with CLOCK, the table evicts by CLOCK.
  const again = { header: m.parts.header, chunks: m.parts.chunks, priv: PrivateState.forGeometry(m.parts.header) };
  adoptTable(again, { defaultTtlMs: 0, eviction: Eviction.Clock });
  assert.ok(new Table({ ...again, header: reread(m) }).evictor instanceof ClockEvictor);
});

test('u32 keys are queued by key, inline or not; their item follows them across kinds', T, () => {
  const m = table(MiB);
  const q = s3(m).queues[0];
  assert.equal(m.t.putU32(7, 1), Status.Ok);
  assert.deepEqual(q.small.items(), [[7, 0]]);
  assert.equal(put(m, 7, 'a string value: a heap entry now'), Status.Ok);
  assert.equal(m.t.putU32(7, 2), Status.Ok);
  assert.deepEqual(q.small.items(), [[7, 0]], 'updates queue nothing');
  const seg = m.t.segs.segmentOf(hashU32Key(7, m.t.seed));
  assert.ok(s3(m).locate(seg, 7, 0, hashU32Key(7, m.t.seed)) >= 0);
  assert.equal(m.t.segs.chunkOf(seg).u32[(s3(m).locate(seg, 7, 0, hashU32Key(7, m.t.seed)) + IX_ENTRY) >>> 2], ENTRY_INLINE);
});
