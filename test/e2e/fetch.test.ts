/**
 * fetch() across processes against a real server: 4 processes miss the
 * same key at once and the loader runs exactly once machine-wide, all
 * getting its value; a failing loader's error reaches every caller and
 * nothing is stored; a loader whose process is SIGKILLed mid-load is taken
 * over by another caller within the lease time; callers of one process
 * share one load; a set or delete during a load wins (also on a key that
 * was absent: the placeholder anchor); plus the atomic building blocks (ifAbsent,
 * compareAndSet, compareAndDelete).
 */
import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import * as path from 'node:path';
import { connect } from '../../src/index';
import { RunResult, Scope, waitFor, waitUntil } from '../support/procs';
import { lastJsonLine, linesOf, together } from '../support/together';
import { MaterialEncoder } from '../../src/client/reserved';
import { internals } from '../../src/client/client';

const FETCHER = path.join(__dirname, '..', 'fixtures', 'api', 'fetch-client.js');

interface Outcome {
  id: string;
  loaded: boolean;
  result?: string;
  error?: string;
}

/** Start fetch clients on `key` (one per mode), wait until all are ready, then let them go at once. */
function race(s: Scope, region: string, key: string, modes: string[]): ReturnType<typeof together> {
  return together(s, region, FETCHER, modes.map((mode, i) => [region, key, mode, String(i)]));
}

const outcome = (r: RunResult): Outcome => lastJsonLine<Outcome>(r);

test('fetch: 4 processes miss one key at once; the loader runs once on the machine and all get its value', { timeout: 120_000 }, async (t) => {
  const s = new Scope(t, 'shmkv-fetch-');
  const region = s.p('region');
  await s.startServer(['-n', '2', '-p', region]);
  const { done } = await race(s, region, 'page:/', ['ok', 'ok', 'ok', 'ok']);
  const outs = (await Promise.all(done)).map(outcome);
  const loaders = outs.filter((o) => o.loaded);
  assert.equal(loaders.length, 1, `loader runs: ${JSON.stringify(outs)}`);
  const value = `value-from-${loaders[0].id}`;
  for (const o of outs) assert.equal(o.result, value);
  const kv = connect({ path: region });
  t.after(() => kv.close());
  assert.equal(kv.getSync('page:/'), value, 'the value was stored');
  assert.ok(kv.ttlSync('page:/')! > 30_000, 'with the ttl fetch was given');
});

test('fetch: a failing loader rejects every caller with its error, and nothing is stored', { timeout: 120_000 }, async (t) => {
  const s = new Scope(t, 'shmkv-fetch-');
  const region = s.p('region');
  await s.startServer(['-n', '2', '-p', region]);
  const { done } = await race(s, region, 'k', ['fail', 'fail', 'fail', 'fail']);
  const outs = (await Promise.all(done)).map(outcome);
  for (const o of outs) assert.match(o.error ?? '', /^RangeError: backend down \(\d\)$/, JSON.stringify(o));
  assert.ok(outs.some((o) => o.loaded));
  const kv = connect({ path: region });
  t.after(() => kv.close());
  assert.equal(kv.getSync('k'), undefined, 'no value stored');
  assert.equal(kv.hasSync('k'), false);
});

test('fetch: when the loading process is SIGKILLed, a waiting caller takes over once its lease expires (3 s)', { timeout: 120_000 }, async (t) => {
  const s = new Scope(t, 'shmkv-fetch-');
  const region = s.p('region');
  await s.startServer(['-n', '2', '-p', region]);
  // One process takes the lease and hangs; then three others arrive.
  const hang = await race(s, region, 'slow', ['hang']);
  assert.ok(await waitFor(() => hang.out[0].includes('loading'), 30_000), 'the hanging loader started');
  const others = ['ok', 'ok', 'ok'].map((mode, i) => s.spawn(process.execPath, [FETCHER, region, 'slow', mode, String(i + 1)], { timeoutMs: 90_000 }));
  const outLines = others.map((r) => linesOf(r.child));
  assert.ok(await waitFor(() => outLines.every((o) => o.includes('ready')), 30_000));
  const killedAt = Date.now();
  hang.children[0].kill('SIGKILL');
  const outs = (await Promise.all(others.map((r) => r.done))).map(outcome);
  const tookMs = Date.now() - killedAt;
  t.diagnostic(`the waiters had a value ${tookMs} ms after the loader's process was killed`);
  const loaders = outs.filter((o) => o.loaded);
  assert.equal(loaders.length, 1, `exactly one waiter took over: ${JSON.stringify(outs)}`);
  for (const o of outs) assert.equal(o.result, `value-from-${loaders[0].id}`);
  assert.ok(tookMs < 20_000, `took over in ${tookMs} ms`);
});

test('fetch in one process: concurrent calls share one load; a cached value needs no loader; undefined stores nothing', { timeout: 60_000 }, async (t) => {
  const s = new Scope(t, 'shmkv-fetch-');
  const region = s.p('region');
  await s.startServer(['-n', '1', '-p', region]);
  const kv = connect({ path: region });
  t.after(() => kv.close());
  let runs = 0;
  const loader = async (k: unknown): Promise<{ k: unknown }> => {
    runs++;
    await new Promise((r) => setTimeout(r, 20));
    return { k };
  };
  const all = await Promise.all(Array.from({ length: 10 }, () => kv.fetch('obj', loader)));
  assert.equal(runs, 1);
  for (const v of all) assert.deepEqual(v, { k: 'obj' });
  assert.deepEqual(await kv.fetch('obj', loader), { k: 'obj' });
  assert.equal(runs, 1, 'served from the cache');
  assert.equal(await kv.fetch('none', () => undefined), undefined);
  assert.equal(kv.hasSync('none'), false, 'a loader returning undefined stores nothing (its lease is gone)');
  await assert.rejects(kv.fetch('bad', () => () => 1), TypeError, 'a value the codec refuses fails the load');
  assert.equal(kv.hasSync('bad'), false);
  await assert.rejects(kv.fetch('x', 5 as unknown as () => number), TypeError);
});

/** `p`, or a rejection naming `what` after `ms`. */
function within<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error(`${what}: not within ${ms} ms`)), ms)));
  return Promise.race([p, late]).finally(() => clearTimeout(timer));
}

/** Every gate made by gated(), released when a test ends (close() waits for the loads). */
const gates: Array<() => void> = [];

/** A loader held until released: `started` resolves when it runs (bounded: a test fails, never hangs). */
function gated<V>(value: V): { loader: () => Promise<V>; started: Promise<void>; release(): void; runs: number } {
  let release!: () => void;
  let start!: () => void;
  const gate = new Promise<void>((r) => (release = r));
  gates.push(release);
  const g = {
    started: within(new Promise<void>((r) => (start = r)), 20_000, 'the loader to start'),
    release: () => release(),
    runs: 0,
    loader: async (): Promise<V> => {
      g.runs++;
      start();
      await gate;
      return value;
    },
  };
  return g;
}

test('fetch: a set or delete that lands during a load wins, also on a key that was absent (the placeholder anchor)', { timeout: 60_000 }, async (t) => {
  const s = new Scope(t, 'shmkv-fetch-');
  const region = s.p('region');
  await s.startServer(['-n', '2', '-p', region]);
  const kv = connect({ path: region });
  const other = connect({ path: region }); // another client: its own fetches and writes
  t.after(async () => {
    for (const release of gates) release();
    await kv.close();
    await other.close();
  });

  // A delete of an absent key during its load: the older value is returned, never stored.
  const a = gated('old');
  const ra = kv.fetch('a', a.loader);
  await a.started;
  assert.equal(kv.getSync('a'), undefined, 'the placeholder reads as absent');
  assert.equal(kv.hasSync('a'), false);
  assert.equal(kv.ttlSync('a'), undefined);
  const listed: unknown[] = [];
  for await (const k of kv.keys()) listed.push(k);
  assert.ok(!listed.includes('a'), 'keys() does not list a placeholder');
  assert.equal(other.deleteSync('a'), false, 'a delete removes the placeholder and answers false: it held no value');
  a.release();
  assert.equal(await ra, 'old', 'the caller gets what its load read');
  assert.equal(kv.getSync('a'), undefined, 'the load did not store over the delete');
  assert.equal(await kv.fetch('a', () => 'next'), 'next', 'the next fetch loads again');
  assert.equal(kv.getSync('a'), 'next');

  // A set during the load of an absent key wins too.
  const b = gated('old');
  const rb = kv.fetch('b', b.loader);
  await b.started;
  await other.set('b', 'new');
  b.release();
  assert.equal(await rb, 'old');
  assert.equal(kv.getSync('b'), 'new', 'the set stands');

  // With a stale value as the anchor (grace), a delete during the load wins.
  kv.setSync('c', 'v0', { ttl: 30, grace: 60_000 });
  await waitUntil('c goes stale', () => kv.getSync('c') === undefined);
  const c = gated('v1');
  const rc = kv.fetch('c', c.loader, { ttl: 60_000, grace: 60_000, timeout: { soft: 60_000 } });
  await c.started;
  assert.equal(other.deleteSync('c'), true, 'the stale value was a value');
  c.release();
  assert.equal(await rc, 'v1');
  assert.equal(kv.getSync('c', { allowStale: true }), undefined, 'the load did not store over the delete');

  // A loader whose lease was lost (its lease key deleted here; evicted or
  // expired in life) while its placeholder stays: the next loader anchors
  // over that placeholder and its value stands; the first one's store fails.
  const d1 = gated('first');
  const rd1 = kv.fetch('d', d1.loader);
  await d1.started;
  const leaseKey = new MaterialEncoder(kv.maxKeyBytes).lease('d');
  assert.equal(internals(other).peek(leaseKey), undefined, 'a lease is no value');
  assert.equal(other.deleteSync(leaseKey), false);
  const d2 = gated('second');
  const rd2 = other.fetch('d', d2.loader);
  await d2.started; // it took the lease and anchored over the first loader's placeholder
  d2.release();
  assert.equal(await rd2, 'second');
  d1.release();
  assert.equal(await rd1, 'first', 'the first caller gets its own load');
  assert.equal(kv.getSync('d'), 'second', "the first load's store found its anchor gone");
  assert.equal(d1.runs + d2.runs, 2);
});

test('atomic building blocks: set ifAbsent, compareAndSet, compareAndDelete', { timeout: 60_000 }, async (t) => {
  const s = new Scope(t, 'shmkv-fetch-');
  const region = s.p('region');
  await s.startServer(['-n', '2', '-p', region]);
  const kv = connect({ path: region });
  t.after(() => kv.close());
  assert.equal(kv.setSync('nx', 1, { ifAbsent: true }), true);
  assert.equal(kv.setSync('nx', 2, { ifAbsent: true }), false);
  assert.equal(await kv.set('nx', 3, { ifAbsent: true }), false);
  assert.equal(kv.getSync('nx'), 1);
  assert.equal(kv.compareAndSetSync('nx', 2, 5), false, 'wrong expected value');
  assert.equal(kv.compareAndSetSync('nx', '1', 5), false, "'1' is not 1");
  assert.equal(kv.compareAndSetSync('nx', 1, 5), true);
  assert.equal(await kv.compareAndSet('nx', 5, { deep: [1] }), true);
  assert.equal(await kv.compareAndSet('nx', { deep: [1] }, 'obj-replaced'), true, 'structured values compare by their encoding');
  assert.equal(kv.compareAndSetSync('fresh', undefined, 'created'), true, 'undefined expects absence');
  assert.equal(kv.compareAndDeleteSync('fresh', 'other'), false);
  assert.equal(await kv.compareAndDelete('fresh', 'created'), true);
  assert.equal(kv.hasSync('fresh'), false);
  // Many processes' worth of concurrent CAS increments through one pipeline land exactly.
  kv.setSync('ctr', 0);
  const bump = async (): Promise<void> => {
    for (;;) {
      const cur = kv.getSync('ctr') as number;
      if (await kv.compareAndSet('ctr', cur, cur + 1)) return;
    }
  };
  await Promise.all(Array.from({ length: 200 }, bump));
  assert.equal(kv.getSync('ctr'), 200);
});

test('incr on string keys: safe-integer counters (absent is 0, ttl kept, TypeError on non-integers, RangeError on overflow)', { timeout: 60_000 }, async (t) => {
  const s = new Scope(t, 'shmkv-fetch-');
  const region = s.p('region');
  await s.startServer(['-n', '2', '-p', region]);
  const kv = connect({ path: region });
  t.after(() => kv.close());
  assert.equal(kv.incrSync('hits'), 1);
  assert.equal(await kv.incr('hits', 41), 42);
  assert.equal(kv.incrSync('hits', -50), -8, 'negative deltas and values');
  assert.equal(kv.getSync('hits'), -8);
  kv.setSync('big', Number.MAX_SAFE_INTEGER - 1);
  assert.equal(kv.incrSync('big'), Number.MAX_SAFE_INTEGER);
  assert.throws(() => kv.incrSync('big'), RangeError);
  assert.equal(kv.getSync('big'), Number.MAX_SAFE_INTEGER, 'an overflow changes nothing');
  kv.setSync('text', 'ten');
  assert.throws(() => kv.incrSync('text'), TypeError);
  kv.setSync('half', 1.5);
  await assert.rejects(kv.incr('half'), TypeError);
  assert.throws(() => kv.incrSync('hits', 0.5), RangeError);
  kv.setSync('window', 0, { ttl: 60_000 });
  kv.incrSync('window', 3);
  assert.ok(kv.ttlSync('window')! > 50_000, 'incr keeps the deadline');
  await Promise.all(Array.from({ length: 500 }, () => kv.incr('many')));
  assert.equal(kv.getSync('many'), 500);
});

test('the rate-limiter example: 4 processes share one limit exactly', { timeout: 120_000 }, async (t) => {
  const s = new Scope(t, 'shmkv-fetch-');
  const region = s.p('region');
  await s.startServer(['-n', '2', '-p', region]);
  // Each process hits 20 times within one pinned window, limit 50 in all.
  const script = `
    const { connect } = require(${JSON.stringify(path.join(__dirname, '..', '..', 'src', 'index.js'))});
    const { RateLimiter } = require(${JSON.stringify(path.join(__dirname, '..', '..', 'examples', 'rate-limiter.js'))});
    (async () => {
      const kv = connect({ path: process.argv[1] });
      const limiter = new RateLimiter(kv, 50, 60_000, () => 1_000_000_000);
      let allowed = 0;
      for (let i = 0; i < 20; i++) if ((await limiter.hit('shared')).allowed) allowed++;
      await kv.close();
      console.log(allowed);
    })();`;
  const runs = await Promise.all(Array.from({ length: 4 }, () => s.run(process.execPath, ['-e', script, region], { timeoutMs: 90_000 })));
  let allowed = 0;
  for (const r of runs) {
    assert.equal(r.code, 0, r.stderr);
    allowed += Number(r.stdout.trim());
  }
  assert.equal(allowed, 50, 'exactly the limit was allowed across processes');
  const demo = await s.run(process.execPath, [path.join(__dirname, '..', '..', 'examples', 'rate-limiter.js')], { env: { SHMKV_PATH: region } });
  assert.equal(demo.code, 0, demo.stderr);
  assert.match(demo.stdout, /^allowed (1[0-5]) of 15 \(limit 10 per second\)\n$/);
});
