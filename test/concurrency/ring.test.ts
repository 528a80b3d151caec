/**
 * The MPMC ring of window indices over a real region file: single-thread
 * semantics against a model (capacity, FIFO, wrap-around of laps and of the
 * 32-bit positions, the crash points where a producer or consumer dies
 * between its two CASes), then producers and consumers in worker threads of
 * several processes, including a producer SIGKILLed mid-stream.
 */
import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { MAX_WINDOWS, RING_SLOT_FULL, RING_SLOT_LAP_MASK, RING_SLOT_LAP_SHIFT, RING_SLOT_WINDOW_MASK, WINDOW_BYTES } from '../../src/layout/board';
import { HDR_NOT_EMPTY, HDR_NOT_FULL, HDR_RING_HEAD, HDR_RING_TAIL } from '../../src/layout/region-header';
import { Region } from '../../src/layout/region';
import { Ring, RING_EMPTY } from '../../src/transport/ring';
import { removeDir, runBody, serveBody, tempDir, testEnv } from '../fixtures/unit/harness';
import { rng } from '../fixtures/unit/util';

/** A bound on hangs only: spinning threads slow down 50x when the machine is oversubscribed. */
const T = { timeout: 600_000 };
const SENTINEL = RING_SLOT_WINDOW_MASK; // 7 * 65536 + 65535: no producer id 7
/** Short spin, then the futex; no sleep ever ends by timeout (null = Infinity via JSON). */
const POLICY = { spins: 10, yields: 2, sleepMs: null };

function makeRing(dir: string, ringCapacity: number): { region: Region; ring: Ring; file: string } {
  const file = path.join(dir, 'region');
  const region = Region.create(file, { ringCapacity, windowCount: 1, windowBytes: WINDOW_BYTES }, 1);
  return { region, ring: new Ring(region), file };
}

function lapOf(pos: number, cap: number): number {
  return (pos >>> Math.log2(cap)) & RING_SLOT_LAP_MASK;
}
const EMPTY = (lap: number): number => (lap << RING_SLOT_LAP_SHIFT) | 0;
const FULL = (lap: number, w: number): number => EMPTY(lap) | RING_SLOT_FULL | w;

/** Random tryPut/tryTake against an array model; exact answers required. */
function modelRun(ring: Ring, cap: number, ops: number, seed: number): { puts: number; fulls: number; empties: number } {
  const next = rng(seed);
  const model: number[] = [];
  let puts = 0;
  let fulls = 0;
  let empties = 0;
  for (let i = 0; i < ops; i++) {
    // Drift between mostly-putting and mostly-taking phases so both ends are hit.
    const bias = (i >> 6) & 1 ? 0.7 : 0.3;
    if (next() / 2 ** 32 < bias) {
      const w = next() & RING_SLOT_WINDOW_MASK;
      const ok = ring.tryPut(w);
      assert.equal(ok, model.length < cap, `op ${i}: tryPut with ${model.length}/${cap} queued`);
      if (ok) {
        model.push(w);
        puts++;
      } else fulls++;
    } else {
      const got = ring.tryTake();
      if (model.length === 0) {
        assert.equal(got, RING_EMPTY, `op ${i}: tryTake on empty`);
        empties++;
      } else assert.equal(got, model.shift(), `op ${i}: FIFO order`);
    }
    assert.equal(ring.size(), model.length);
  }
  return { puts, fulls, empties };
}

/** Single-threaded bodies: run in a worker by runBody, so that a ring that
 * loops forever fails the test instead of hanging the event loop. */
const bodies: Record<string, () => void> = {
  /** ring: fills to exactly its capacity, FIFO, RING_EMPTY when empty */
  fifo() {
    const dir = tempDir('ring');
    try {
      for (const cap of [1, 2, 4, 8, 64]) {
        const { ring } = makeRing(dir, cap);
        assert.equal(ring.tryTake(), RING_EMPTY);
        assert.equal(RING_EMPTY, -1);
        const items = Array.from({ length: cap }, (_, i) => (i === 0 ? 0 : i === 1 ? MAX_WINDOWS - 1 : i * 977));
        for (const w of items) assert.equal(ring.tryPut(w), true);
        assert.equal(ring.size(), cap);
        assert.equal(ring.tryPut(5), false, `capacity ${cap}: one more put must fail`);
        assert.equal(ring.tryPut(5), false);
        assert.equal(ring.size(), cap);
        for (const w of items) assert.equal(ring.tryTake(), w);
        assert.equal(ring.tryTake(), RING_EMPTY);
        assert.equal(ring.head(), cap);
        assert.equal(ring.tail(), cap);
        // Blocking forms with room/items available do not block.
        ring.put(123);
        assert.equal(ring.take(), 123);
      }
    } finally {
      removeDir(dir);
    }
  },
  /** ring: wraps around over many laps (capacities 1, 2, 4) against a model */
  laps() {
    const dir = tempDir('ring');
    try {
      for (const cap of [1, 2, 4]) {
        const { ring } = makeRing(dir, cap);
        const r = modelRun(ring, cap, 60_000, 0x1234 + cap);
        assert.ok(r.fulls > 100 && r.empties > 100, `both ends exercised: ${JSON.stringify(r)}`);
        assert.ok(r.puts / cap > 4096, `more than 4096 laps (the 12-bit lap counter wraps): ${r.puts / cap}`);
      }
      // Lap counter wrap (12 bits): more than 4096 laps of capacity 1.
      const { ring } = makeRing(dir, 1);
      for (let i = 0; i < 3 * 4096 + 5; i++) {
        assert.equal(ring.tryPut(i & RING_SLOT_WINDOW_MASK), true);
        assert.equal(ring.tryPut(1), false);
        assert.equal(ring.tryTake(), i & RING_SLOT_WINDOW_MASK);
        assert.equal(ring.tryTake(), RING_EMPTY);
      }
    } finally {
      removeDir(dir);
    }
  },
  /** ring: positions wrap past 2^32 */
  wrap32() {
    const dir = tempDir('ring');
    try {
      for (const cap of [1, 4, 8]) {
        const { region, ring } = makeRing(dir, cap);
        // A ring that has already carried 2^32 - 3*cap requests, empty now.
        const start = (2 ** 32 - 3 * cap) | 0;
        const slot0 = region.layout.ringOffset >> 2;
        for (let q = start; q !== ((start + cap) | 0); q = (q + 1) | 0)
          Atomics.store(region.i32, slot0 + (q & (cap - 1)), EMPTY(lapOf(q, cap)));
        Atomics.store(region.i32, HDR_RING_TAIL >> 2, start);
        Atomics.store(region.i32, HDR_RING_HEAD >> 2, start);
        assert.equal(ring.size(), 0);
        modelRun(ring, cap, 5_000, 99 + cap);
        assert.ok(ring.tail() >= 0 && ring.tail() < 2 ** 31, 'the tail went past 2^32');
        // Fill it across the boundary and drain it in order.
        while (ring.tryTake() !== RING_EMPTY);
        for (let i = 0; i < cap; i++) assert.equal(ring.tryPut(i + 1), true);
        assert.equal(ring.tryPut(0), false);
        for (let i = 0; i < cap; i++) assert.equal(ring.tryTake(), i + 1);
        assert.equal(ring.tryTake(), RING_EMPTY);
      }
    } finally {
      removeDir(dir);
    }
  },
  /** ring: a producer or consumer that died between its two CASes is helped on */
  crashPoints() {
    const dir = tempDir('ring');
    try {
      const cap = 4;
      const { region, ring } = makeRing(dir, cap);
      const slot = (pos: number): number => (region.layout.ringOffset >> 2) + (pos & (cap - 1));
      ring.tryPut(10);
      ring.tryPut(11);
      // Producer died after publishing position 2 (slot CAS), before the tail CAS.
      const t = ring.tail();
      assert.equal(t, 2);
      Atomics.store(region.i32, slot(t), FULL(lapOf(t, cap), 99));
      assert.equal(ring.tail(), 2, 'tail lags behind a published slot');
      assert.equal(ring.tryPut(12), true, 'the next producer helps the tail on and puts');
      assert.equal(ring.tail(), 4);
      assert.equal(ring.tryPut(13), false, '10, 11, 99, 12 fill it');
      assert.equal(ring.tryTake(), 10);
      // Consumer died after taking position 1 (slot CAS), before the head CAS.
      const h = ring.head();
      assert.equal(h, 1);
      Atomics.store(region.i32, slot(h), EMPTY(lapOf(h, cap) + 1));
      assert.equal(ring.head(), 1, 'head lags behind a taken slot');
      assert.equal(ring.tryTake(), 99, 'the next consumer helps the head on; 11 is gone with its taker');
      assert.equal(ring.tryTake(), 12);
      assert.equal(ring.tryTake(), RING_EMPTY);
      // The ring is whole again: exactly `cap` fit, in order.
      for (let i = 0; i < cap; i++) assert.equal(ring.tryPut(20 + i), true);
      assert.equal(ring.tryPut(30), false);
      for (let i = 0; i < cap; i++) assert.equal(ring.tryTake(), 20 + i);
    } finally {
      removeDir(dir);
    }
  },
  /** ring: Region.create refuses a bad ring capacity */
  badCapacity() {
    const dir = tempDir('ring');
    try {
      const file = path.join(dir, 'region');
      for (const ringCapacity of [0, 3, 6, -4, 1.5, 2 ** 21])
        assert.throws(() => Region.create(file, { ringCapacity, windowCount: 1, windowBytes: WINDOW_BYTES }, 1), RangeError);
    } finally {
      removeDir(dir);
    }
  },
};

interface Expect {
  /** producer id -> number of items it put (all must arrive). */
  full: Map<number, number>;
  /** producers killed mid-stream: each one's items must be a gap-free prefix. */
  victims?: number[];
}

/** Check consumer logs against the model; returns each victim's prefix length. */
function checkLogs(logs: Int32Array[], ex: Expect): Map<number, number> {
  const seen = new Map<number, Uint8Array>();
  for (const [id, n] of ex.full) seen.set(id, new Uint8Array(n));
  const victimSeen = new Map<number, Uint8Array>();
  for (const v of ex.victims ?? []) victimSeen.set(v, new Uint8Array(65536));
  for (const [c, log] of logs.entries()) {
    const last = new Map<number, number>();
    for (const w of log) {
      const id = w >>> 16;
      const seq = w & 0xffff;
      const prev = last.get(id) ?? -1;
      assert.ok(seq > prev, `consumer ${c}: producer ${id} item ${seq} after ${prev} (order broken or duplicate)`);
      last.set(id, seq);
      const vs = victimSeen.get(id);
      if (vs) {
        assert.equal(vs[seq], 0, `victim ${id} item ${seq} taken twice`);
        vs[seq] = 1;
        continue;
      }
      const s = seen.get(id);
      assert.ok(s, `consumer ${c} took ${w}, which no producer put`);
      assert.ok(seq < s.length, `producer ${id} never put item ${seq}`);
      assert.equal(s[seq], 0, `producer ${id} item ${seq} taken twice`);
      s[seq] = 1;
    }
  }
  for (const [id, s] of seen) {
    const missing = s.indexOf(0);
    assert.equal(missing, -1, `producer ${id} item ${missing} was lost`);
  }
  const prefixes = new Map<number, number>();
  for (const [id, vs] of victimSeen) {
    let prefix = 0;
    while (prefix < 65536 && vs[prefix]) prefix++;
    for (let i = prefix; i < 65536; i++) assert.equal(vs[i], 0, `victim ${id} items are not a prefix: ${i} without ${prefix}`);
    prefixes.set(id, prefix);
  }
  return prefixes;
}

/** Put the sentinels from this (async) thread: poll tryPut, never block the event loop. */
async function putSentinels(ring: Ring, n: number, signal: AbortSignal): Promise<void> {
  for (let i = 0; i < n; ) {
    if (signal.aborted) throw new Error('test over (timed out?) while putting sentinels');
    if (ring.tryPut(SENTINEL)) i++;
    else await new Promise((r) => setTimeout(r, 1));
  }
}

function readLog(file: string): Int32Array {
  const b = fs.readFileSync(file);
  return new Int32Array(b.buffer, b.byteOffset, b.byteLength >> 2);
}

if (!serveBody(bodies)) {
  test('ring: fills to exactly its capacity, FIFO, RING_EMPTY when empty', T, () => runBody(__filename, 'fifo'));
  test('ring: wraps around over many laps (capacities 1, 2, 4) against a model', T, () => runBody(__filename, 'laps'));
  test('ring: positions wrap past 2^32', T, () => runBody(__filename, 'wrap32'));
  test('ring: a producer or consumer that died between its two CASes is helped on', T, () => runBody(__filename, 'crashPoints'));
  test('ring: Region.create refuses a bad ring capacity', T, () => runBody(__filename, 'badCapacity'));

  for (const cap of [1, 2, 8]) {
    test(`ring stress: 4 producers, 4 consumers, 2 processes, capacity ${cap}`, T, async (t) => {
      const { dir, kids } = testEnv(t, 'ring');
      const { region, ring, file } = makeRing(dir, cap);
      const N = 30_000;
      const logs = [0, 1, 2, 3].map((i) => path.join(dir, `c${i}.bin`));
      const common = { path: file, policy: POLICY, sentinel: SENTINEL };
      const a = kids.spawn('ring-proc', {
        ...common,
        producers: [
          { id: 0, count: N },
          { id: 1, count: N },
        ],
        consumers: [{ logPath: logs[0] }, { logPath: logs[1] }],
      });
      const b = kids.spawn('ring-proc', {
        ...common,
        producers: [
          { id: 2, count: N },
          { id: 5, count: N },
        ],
        consumers: [{ logPath: logs[2] }, { logPath: logs[3] }],
      });
      await Promise.all([a.next('produced'), b.next('produced')]);
      await putSentinels(ring, 4, t.signal);
      const counts = await Promise.all([a.next('consumed'), b.next('consumed')]);
      await Promise.all([a.ok(), b.ok()]);
      const total = counts.reduce((s, m) => s + (m.counts as number[]).reduce((x, y) => x + y, 0), 0);
      assert.equal(total, 4 * N);
      checkLogs(logs.map(readLog), { full: new Map([[0, N], [1, N], [2, N], [5, N]]) });
      assert.equal(ring.size(), 0);
      assert.equal(ring.head(), 4 * N + 4);
      assert.equal(ring.tail(), 4 * N + 4);
      assert.equal(region.headerGet(HDR_NOT_EMPTY + 4), 0, 'no consumer left registered as a sleeper');
      assert.equal(region.headerGet(HDR_NOT_FULL + 4), 0, 'no producer left registered as a sleeper');
      // A sequence only moves when a notifier found a registered sleeper: both
      // the full and the empty blocking paths really ran.
      assert.ok(region.headerGet(HDR_NOT_EMPTY) > 0, 'consumers slept on empty');
      assert.ok(region.headerGet(HDR_NOT_FULL) > 0, 'producers slept on full');
      console.log(`capacity ${cap}: not-empty seq ${region.headerGet(HDR_NOT_EMPTY)}, not-full seq ${region.headerGet(HDR_NOT_FULL)}`);
    });
  }

  test('ring: producers SIGKILLed mid-stream never wedge the ring', T, async (t) => {
    const { dir, kids } = testEnv(t, 'ring');
    const cap = 2;
    const { ring, file } = makeRing(dir, cap);
    const N = 20_000;
    const logs = [path.join(dir, 'c0.bin'), path.join(dir, 'c1.bin')];
    const common = { path: file, policy: POLICY, sentinel: SENTINEL };
    const a = kids.spawn('ring-proc', {
      ...common,
      producers: [
        { id: 0, count: N },
        { id: 1, count: N },
      ],
      consumers: [{ logPath: logs[0] }],
    });
    const b = kids.spawn('ring-proc', { ...common, producers: [{ id: 2, count: N }], consumers: [{ logPath: logs[1] }] });
    // Three victims, each killed at a different point of its stream while
    // the others keep producing and consuming.
    const victims = [
      { id: 3, after: 100 },
      { id: 4, after: 1_000 },
      { id: 6, after: 4_000 },
    ];
    for (const v of victims) {
      // Full speed up to 2000 items past 'started' (the kill usually lands
      // there, anywhere in a put), then paced: 60+ s for the rest.
      const c = kids.spawn('ring-victim', { path: file, id: v.id, count: 65536, startedAfter: v.after, paceAfter: v.after + 2000, policy: POLICY });
      await c.next('started');
      c.kill('SIGKILL');
      assert.equal((await c.exited).signal, 'SIGKILL');
    }
    await Promise.all([a.next('produced'), b.next('produced')]);
    await putSentinels(ring, 2, t.signal);
    const counts = await Promise.all([a.next('consumed'), b.next('consumed')]);
    await Promise.all([a.ok(), b.ok()]);
    const total = counts.reduce((s, m) => s + (m.counts as number[]).reduce((x, y) => x + y, 0), 0);
    const prefixes = checkLogs(logs.map(readLog), {
      full: new Map([
        [0, N],
        [1, N],
        [2, N],
      ]),
      victims: victims.map((v) => v.id),
    });
    let victimItems = 0;
    for (const v of victims) {
      const prefix = prefixes.get(v.id)!;
      assert.ok(prefix >= v.after + 1, `victim ${v.id} had published ${v.after + 1} items, only ${prefix} arrived`);
      assert.ok(prefix < 65536, `victim ${v.id} was killed mid-stream`);
      victimItems += prefix;
    }
    assert.equal(total, 3 * N + victimItems, "consumers took exactly the others' items plus the victims' prefixes");
    assert.equal(ring.size(), 0);
  });
}
