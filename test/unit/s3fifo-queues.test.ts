// The S3-FIFO queues' structures on their own (src/store/item-ring.ts,
// ghost.ts, s3fifo-tidy.ts circularOrder): a ring against a plain array
// through random pushes, pops, growths, wraps, rebases and compaction
// batches (some applied after a pop moved the ring under them), its
// tickets, its maximum; the ghost's per-bucket FIFO, its growth and its
// hits; the stamp order after a wrap.
import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import { ItemRing, Verdict } from '../../src/store/item-ring';
import { fingerprint, Ghost } from '../../src/store/ghost';
import { circularOrder } from '../../src/store/s3fifo-tidy';
import { GHOST_MIN_BUCKETS, GHOST_WAYS, QRING_MIN_ITEMS, QRING_WORDS, QUEUE_ITEM_BYTES } from '../../src/layout/eviction-queues';
import { rng } from '../../src/workload/generate';

function newRing(maxItems: number): { ring: ItemRing; buf: SharedArrayBuffer } {
  const buf = new SharedArrayBuffer(0, { maxByteLength: maxItems * QUEUE_ITEM_BYTES });
  return { ring: new ItemRing(new Int32Array(QRING_WORDS + 4), 2, buf), buf };
}

test('ring: FIFO order through growth and wrap-around; a push at the maximum fails and changes nothing', () => {
  const max = 3 * QRING_MIN_ITEMS;
  const { ring, buf } = newRing(max);
  let next = 0;
  let first = 0;
  // Keep ~400 items queued while 20,000 pass through: the positions wrap and rebase many times.
  for (let i = 0; i < 20_000; i++) {
    assert.ok(ring.push(next, next ^ 0xabcdef));
    next++;
    if (ring.count() > 400) {
      assert.ok(ring.pop());
      assert.equal(ring.a, first);
      assert.equal(ring.b, first ^ 0xabcdef);
      first++;
    }
    ring.check();
  }
  assert.equal(buf.byteLength, QRING_MIN_ITEMS * QUEUE_ITEM_BYTES, 'one growth was enough');
  // Fill it: it grows to its maximum, then refuses.
  while (ring.push(next, next)) next++;
  assert.equal(ring.count(), max);
  assert.equal(buf.byteLength, max * QUEUE_ITEM_BYTES);
  assert.equal(ring.push(1, 1), false);
  const items = ring.items();
  assert.equal(items.length, max);
  for (let k = 0; k < max; k++) assert.equal(items[k][0], first + k, `item ${k}`);
  ring.check();
});

test('ring and ghost: each thread has its own views of the shared buffers; one grown by another thread is seen whole', () => {
  // Two instances over the same words and buffer are what two server
  // threads hold: each keeps a fixed-length view, which another's growth
  // leaves short.
  const max = 8 * QRING_MIN_ITEMS;
  const buf = new SharedArrayBuffer(0, { maxByteLength: max * QUEUE_ITEM_BYTES });
  const words = new Int32Array(QRING_WORDS + 4);
  const a = new ItemRing(words, 2, buf);
  const b = new ItemRing(words, 2, buf);
  let next = 0;
  let first = 0;
  // a pushes past several growths, b pushes and pops: every item in order.
  for (let round = 0; round < 6; round++) {
    for (let k = 0; k < QRING_MIN_ITEMS + 7; k++, next++) assert.ok((round % 2 ? b : a).push(next, ~next >>> 0));
    for (let k = 0; k < QRING_MIN_ITEMS / 2; k++, first++) {
      const r = round % 2 ? a : b;
      assert.ok(r.pop());
      assert.equal(r.a, first, `round ${round}: item ${first}`);
      assert.equal(r.b, ~first >>> 0);
    }
    a.check();
  }
  assert.ok(buf.byteLength > 2 * QRING_MIN_ITEMS * QUEUE_ITEM_BYTES, 'it grew more than once');
  assert.deepEqual(b.items(), a.items());
  assert.equal(b.items().length, next - first);
  assert.equal(b.items()[0][0], first);
  const gbuf = new SharedArrayBuffer(0, { maxByteLength: 1024 * GHOST_WAYS * 2 });
  const gw = new Int32Array(4);
  const g1 = new Ghost(gw, 1, gbuf);
  const g2 = new Ghost(gw, 1, gbuf);
  g1.insert(77);
  assert.equal(g2.take(77), true, 'seen through the other view');
  const rand = rng(3);
  const keys = Array.from({ length: 300 }, () => (rand() * 2 ** 32) >>> 0);
  g1.fit(300);
  for (const k of keys) g2.insert(k);
  g1.fit(4000);
  assert.equal(g2.buckets(), 512, 'grown by the other instance');
  const found = keys.filter((k) => g2.take(k));
  assert.ok(found.length > 250, `${found.length} of 300 found through the view the growth left short`);
});

test('ring: growing a full ring that wraps keeps its order, at every tail position and capacity', () => {
  for (const fill of [100, 700, 3000, 9000]) {
    for (const popFraction of [0, 0.1, 0.3, 0.6, 0.95]) {
      const { ring, buf } = newRing(1 << 15);
      const model: number[] = [];
      let id = 0;
      const push = (): void => {
        assert.ok(ring.push(id, id));
        model.push(id++);
      };
      for (let i = 0; i < fill; i++) push();
      for (let i = Math.floor(model.length * popFraction); i > 0; i--) {
        assert.ok(ring.pop());
        assert.equal(ring.a, model.shift());
      }
      // Up to the capacity (the items wrap past the buffer's end), then one more: a growth.
      const cap = buf.byteLength / QUEUE_ITEM_BYTES;
      while (ring.count() < cap) push();
      push();
      assert.ok(buf.byteLength > cap * QUEUE_ITEM_BYTES);
      ring.check();
      assert.deepEqual(
        ring.items().map(([a]) => a),
        model,
        `fill ${fill}, popped ${popFraction}`,
      );
    }
  }
});

test('ring: random pushes, pops and compaction passes match a plain array; tickets say exactly which kept items are still queued', () => {
  for (let seed = 1; seed <= 12; seed++) {
    const rand = rng(seed);
    const { ring } = newRing(1 << 16);
    const model: number[] = []; // ids, oldest first
    const pending = new Set<number>(); // ids a running pass has not judged
    const tickets = new Map<number, number>(); // id -> ticket of its keep in the running pass
    let id = 1;
    let applied = 0;
    let refused = 0;
    const items = new Uint32Array(2 * 64);
    const verdicts = new Uint8Array(64);
    const ticketsIn = new Int32Array(64);
    const checkAll = (): void => {
      ring.check();
      assert.deepEqual(
        ring.items().map(([a]) => a),
        model,
        `seed ${seed}`,
      );
      assert.equal(ring.count(), model.length);
      for (const [k, t] of tickets) assert.equal(((t - ring.popCount()) | 0) >= 0, model.includes(k), `ticket of ${k} (seed ${seed})`);
    };
    for (let op = 0; op < 6000; op++) {
      const x = rand();
      if (x < 0.45) {
        // Bursts of pushes (growth), then pops past the kept run (hole skips).
        for (let n = 1 + Math.floor(rand() * 8); n > 0; n--) {
          assert.ok(ring.push(id, ~id >>> 0));
          model.push(id++);
        }
      } else if (x < 0.8) {
        const had = model.length > 0;
        assert.equal(ring.pop(), had);
        if (had) {
          const want = model.shift()!;
          assert.equal(ring.a, want);
          assert.equal(ring.b, ~want >>> 0);
          pending.delete(want);
          if (!ring.active()) pending.clear();
        }
      } else if (x < 0.85) {
        if (!ring.active()) {
          // Tickets are good for the pass that gave them (a later pass may drop items ahead).
          tickets.clear();
          ring.begin();
          for (const k of model) pending.add(k);
        }
        if (!ring.active()) pending.clear();
      } else {
        // A compaction batch: the first unjudged items, verdicts, maybe a pop or a push in between.
        const n = ring.batch(items, 1 + Math.floor(rand() * 64));
        const epoch = ring.epoch();
        const batch = Array.from({ length: n }, (_, k) => items[2 * k]);
        assert.deepEqual(batch, model.filter((k) => pending.has(k)).slice(0, n), `the batch is the first unjudged items (seed ${seed})`);
        for (let k = 0; k < n; k++) {
          verdicts[k] = rand() < 0.4 ? Verdict.Drop : rand() < 0.5 ? Verdict.Keep : Verdict.KeepUnlessQueued;
          // KeepUnlessQueued against the ticket of an item kept before (queued or not by now).
          const other = [...tickets.keys()][Math.floor(rand() * tickets.size)];
          ticketsIn[k] = other === undefined ? ring.popCount() - 1 : tickets.get(other)!;
        }
        const before = verdicts.slice(0, n);
        const y = rand();
        if (y < 0.15 && model.length > 0) {
          ring.pop();
          pending.delete(model.shift()!);
        } else if (y < 0.3) {
          ring.push(id, ~id >>> 0);
          model.push(id++);
        }
        const othersQueued = Array.from({ length: n }, (_, k) => ((ticketsIn[k] - ring.popCount()) | 0) >= 0);
        const stillThere = batch.every((k) => pending.has(k));
        const ok = ring.apply(verdicts, ticketsIn, n, epoch);
        if (!ok) {
          refused++;
          continue;
        }
        assert.ok(stillThere, `a batch whose items left the ring was applied (seed ${seed})`);
        applied++;
        for (let k = 0; k < n; k++) {
          pending.delete(batch[k]);
          const keep = before[k] === Verdict.Keep || (before[k] === Verdict.KeepUnlessQueued && !othersQueued[k]);
          assert.equal(verdicts[k], keep ? Verdict.Keep : Verdict.Drop, `verdict ${k} (seed ${seed})`);
          if (keep) tickets.set(batch[k], ticketsIn[k]);
          else {
            model.splice(model.indexOf(batch[k]), 1);
            tickets.delete(batch[k]);
          }
        }
        if (!ring.active()) pending.clear();
      }
      checkAll();
    }
    assert.ok(applied > 50 && refused > 5, `seed ${seed}: ${applied} batches applied, ${refused} refused`);
  }
});

test('ring: reset empties it and ends a pass', () => {
  const { ring } = newRing(4096);
  for (let i = 0; i < 100; i++) ring.push(i, i);
  ring.begin();
  assert.ok(ring.active());
  ring.reset();
  assert.equal(ring.active(), false);
  assert.equal(ring.count(), 0);
  assert.equal(ring.pop(), false);
  assert.ok(ring.push(7, 7));
  assert.deepEqual(ring.items(), [[7, 7]]);
});

function newGhost(maxBuckets: number): Ghost {
  const buf = new SharedArrayBuffer(0, { maxByteLength: maxBuckets * GHOST_WAYS * 2 });
  return new Ghost(new Int32Array(4), 1, buf);
}

test('ghost: each bucket keeps its last GHOST_WAYS keys; a hit forgets the key; the others keep their order', () => {
  const g = newGhost(64);
  assert.equal(g.take(5), false, 'empty');
  // Hashes with the same low bits share a bucket (their fingerprints differ).
  const same = Array.from({ length: 12 }, (_, i) => (i << 20) | 3);
  assert.equal(new Set(same.map(fingerprint)).size, same.length);
  for (const h of same) g.insert(h);
  assert.equal(g.buckets(), GHOST_MIN_BUCKETS);
  for (const h of same.slice(0, 4)) assert.equal(g.take(h), false, 'pushed out by newer keys');
  assert.equal(g.take(same[7]), true);
  assert.equal(g.take(same[7]), false, 'a hit forgets');
  for (const h of [...same.slice(4, 7), ...same.slice(8)]) assert.equal(g.take(h), true);
  // Another bucket is not affected.
  g.insert(4);
  assert.equal(g.take(4), true);
});

test('ghost: growth keeps every remembered key findable, up to the maximum; reset forgets all', () => {
  const g = newGhost(1024);
  const rand = rng(9);
  const keys = Array.from({ length: 600 }, () => (rand() * 2 ** 32) >>> 0);
  g.fit(600);
  assert.equal(g.buckets(), 128, 'the first power of two with 8 slots per bucket for 600 keys');
  for (const k of keys) g.insert(k);
  const remembered = keys.filter((k) => {
    const found = g.take(k);
    if (found) g.insert(k);
    return found;
  });
  assert.ok(remembered.length > 450, `${remembered.length} of 600 still remembered in 1024 slots`);
  g.fit(5000);
  assert.equal(g.buckets(), 1024, 'grown to its maximum, not past it');
  for (const k of remembered) assert.equal(g.take(k), true, `key ${k} after growth`);
  for (const k of remembered) g.insert(k);
  g.reset();
  for (const k of remembered) assert.equal(g.take(k), false);
});

test('circularOrder: stamps sorted oldest first, also across the wrap at 2^32', () => {
  const plain = Uint32Array.from([50, 3, 900, 7, 100]);
  assert.deepEqual([...circularOrder(plain, 5)].map((i) => plain[i]), [3, 7, 50, 100, 900]);
  const wrapped = Uint32Array.from([5, 2 ** 32 - 10, 1, 2 ** 32 - 3, 9]);
  assert.deepEqual([...circularOrder(wrapped, 5)].map((i) => wrapped[i]), [2 ** 32 - 10, 2 ** 32 - 3, 1, 5, 9]);
  const rand = rng(4);
  const many = Uint32Array.from({ length: 70_000 }, () => (0x7fff0000 + rand() * 0x30000) >>> 0);
  const order = [...circularOrder(many, many.length)].map((i) => many[i]);
  for (let i = 1; i < order.length; i++) assert.ok(order[i - 1] <= order[i], `sorted at ${i}`);
  assert.deepEqual([...circularOrder(new Uint32Array(0), 0)], []);
});
