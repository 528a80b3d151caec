/**
 * The cache features of issue 23 against a real server: grace (a stale
 * value served when the loader fails, and while ONE load for 4 processes
 * refreshes it), soft and hard timeouts, early refresh with no miss on the
 * hot path, deleteByTag seen by every process once it resolves,
 * namespaces, events, and every bad argument's one-line error.
 */
import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import * as path from 'node:path';
import { connect, Client, FetchTimeoutError } from '../../src/index';
import { internals } from '../../src/client/hosts';
import { MaterialEncoder } from '../../src/client/reserved';
import { ReadResult } from '../../src/store/seqlock';
import { Scope, sleep, waitFor, waitUntil } from '../support/procs';
import { lastJsonLine, linesOf, together } from '../support/together';

const CLIENT = path.join(__dirname, '..', 'fixtures', 'api', 'cache-client.js');

interface Outcome {
  id: string;
  loaded: boolean;
  result?: string;
  error?: string;
  ms: number;
}

/** `n` processes fetch `key` at once (after `go`), with these options and loader. */
async function race(s: Scope, region: string, key: string, n: number, options: object, loader: { delayMs: number; fail: boolean }): Promise<Outcome[]> {
  const { done } = await together(s, region, CLIENT, Array.from({ length: n }, (_, i) => [region, key, String(i), JSON.stringify(options), JSON.stringify(loader)]));
  return (await Promise.all(done)).map((r) => lastJsonLine<Outcome>(r));
}

/** A stale entry: written with a short ttl and a long grace, then left to go stale. */
async function staleEntry(kv: Client, key: string, value: string): Promise<void> {
  kv.setSync(key, value, { ttl: 30, grace: 120_000 });
  await waitUntil('the entry goes stale', () => kv.getSync(key) === undefined);
  assert.equal(kv.getSync(key, { allowStale: true }), value, 'a stale entry reads with allowStale');
}

test('grace: 4 processes, the loader fails: every one gets the stale value, and the loader ran once on the machine', { timeout: 120_000 }, async (t) => {
  const s = new Scope(t, 'shmkv-cache-');
  const region = s.p('region');
  await s.startServer(['-n', '2', '-p', region]);
  const kv = connect({ path: region });
  t.after(() => kv.close());
  await staleEntry(kv, 'page', 'old');
  const outs = await race(s, region, 'page', 4, { ttl: 60_000, grace: 60_000, timeout: { soft: 30_000 } }, { delayMs: 300, fail: true });
  assert.equal(outs.filter((o) => o.loaded).length, 1, `one loader: ${JSON.stringify(outs)}`);
  for (const o of outs) assert.equal(o.result, 'old', JSON.stringify(o));
  assert.equal(kv.getSync('page'), undefined, 'still stale: nothing stored');
  assert.equal(kv.getSync('page', { allowStale: true }), 'old');
  // Without grace, the same failure is every caller's error.
  // The failure mark (FAILED_MS to live, in the key's lease) must be gone first.
  const leaseKey = new MaterialEncoder(1024).lease('page');
  assert.ok(await waitFor(() => internals(kv).peekRaw(leaseKey) === ReadResult.Absent, 30_000), 'the failure mark expired');
  const nograce = await race(s, region, 'page', 2, { ttl: 60_000 }, { delayMs: 100, fail: true });
  for (const o of nograce) assert.match(o.error ?? '', /^RangeError: backend down/, JSON.stringify(o));
});

test('grace and the soft timeout: 4 processes get the stale value quickly while one background load refreshes it', { timeout: 120_000 }, async (t) => {
  const s = new Scope(t, 'shmkv-cache-');
  const region = s.p('region');
  await s.startServer(['-n', '2', '-p', region]);
  const kv = connect({ path: region });
  t.after(() => kv.close());
  await staleEntry(kv, 'page', 'old');
  const outs = await race(s, region, 'page', 4, { ttl: 60_000, grace: 60_000, timeout: { soft: 100 } }, { delayMs: 1500, fail: false });
  const loaders = outs.filter((o) => o.loaded);
  assert.equal(loaders.length, 1, `one refresh for the machine: ${JSON.stringify(outs)}`);
  for (const o of outs) {
    assert.equal(o.result, 'old', JSON.stringify(o));
    assert.ok(o.ms < 1500, `stale served before the slow loader finished (${o.ms} ms)`);
  }
  assert.equal(kv.getSync('page'), `value-from-${loaders[0].id}`, 'the background load stored its value (its process waited for it at close)');
  // SWR, Bentocache's default (soft 0 with grace): the stale value at once.
  await staleEntry(kv, 'swr', 'old');
  let loads = 0;
  const t0 = Date.now();
  assert.equal(await kv.fetch('swr', async () => (await sleep(300), ++loads, 'new'), { ttl: 60_000, grace: 60_000 }), 'old');
  assert.ok(Date.now() - t0 < 300, 'served without waiting for the loader');
  await waitUntil('the refresh stored its value', () => kv.getSync('swr') === 'new');
  assert.equal(loads, 1);
});

test('hard timeout: a caller with nothing to serve rejects; the load goes on and stores its value; a waiter times out too', { timeout: 60_000 }, async (t) => {
  const s = new Scope(t, 'shmkv-cache-');
  const region = s.p('region');
  await s.startServer(['-n', '2', '-p', region]);
  const a = connect({ path: region });
  const b = connect({ path: region }); // another fetcher: coordinates with a through shared memory only
  t.after(async () => {
    await a.close();
    await b.close();
  });
  const slow = async (): Promise<string> => (await sleep(800), 'late');
  const t0 = Date.now();
  const first = a.fetch('k', slow, { ttl: 60_000, timeout: { hard: 100 } });
  await sleep(20);
  const waiter = b.fetch('k', slow, { ttl: 60_000, timeout: { hard: 150 } });
  // Both handled at once: on a loaded machine the waiter may reject first.
  const waiterRejects = assert.rejects(waiter, (e: Error) => e instanceof FetchTimeoutError && /150 ms/.test(e.message));
  await assert.rejects(first, FetchTimeoutError);
  assert.ok(Date.now() - t0 < 700, `the loader's caller rejected at its hard timeout (${Date.now() - t0} ms)`);
  await waiterRejects;
  await waitUntil('the load finished in the background', () => a.getSync('k') === 'late');
  assert.equal(a.stats().machine[7] >= 2, true, 'hard timeouts counted');
  // A soft timeout without a stale value does nothing: the caller waits for the load.
  assert.equal(await a.fetch('k2', async () => (await sleep(200), 'v'), { timeout: { soft: 10 } }), 'v');
});

test('early refresh: readers never miss nor wait once the value is cached; one loader at a time on the machine', { timeout: 60_000 }, async (t) => {
  const s = new Scope(t, 'shmkv-cache-');
  const region = s.p('region');
  await s.startServer(['-n', '2', '-p', region]);
  const readers = [connect({ path: region }), connect({ path: region }), connect({ path: region })];
  t.after(async () => {
    for (const r of readers) await r.close();
  });
  const kv = readers[0];
  let running = 0;
  let maxRunning = 0;
  let loads = 0;
  const loader = async (): Promise<number> => {
    // Concurrency machine-wide, counted in the store itself.
    const now = await kv.incr('running');
    maxRunning = Math.max(maxRunning, now);
    running++;
    await sleep(30);
    running--;
    await kv.incr('running', -1);
    return ++loads;
  };
  // A refresh has the second half of the ttl to finish (1 s: a loaded machine
  // can take a few hundred ms to schedule a load and its requests).
  const opts = { ttl: 2000, earlyRefresh: 0.5 };
  assert.equal(await kv.fetch('hot', loader, opts), 1, 'the first fetch loads');
  const sources: string[] = [];
  for (const r of readers) r.on('fetch', (e) => sources.push(e.source));
  const misses: unknown[] = [];
  for (const r of readers) r.on('miss', (e) => misses.push(e.key));
  const until = Date.now() + 5000;
  let reads = 0;
  while (Date.now() < until) {
    for (const r of readers) {
      const v = await r.fetch('hot', loader, opts);
      assert.equal(typeof v, 'number');
      reads++;
    }
    await sleep(2);
  }
  await Promise.all(readers.map((r) => r.fetch('hot', loader, opts)));
  assert.ok(loads >= 3, `the value was refreshed in the background (${loads} loads over 5 s, ttl 2 s)`);
  assert.equal(maxRunning, 1, 'never two loaders at once on the machine');
  assert.deepEqual([...new Set(sources)], ['cache'], `every fetch was answered from the cache (${reads} reads)`);
  assert.deepEqual(misses.filter((k) => k === 'hot'), [], 'no miss on the hot path');
});

test('deleteByTag: once it resolves, every process reads the tagged entries as absent; untagged and other tags stay', { timeout: 120_000 }, async (t) => {
  const s = new Scope(t, 'shmkv-cache-');
  const region = s.p('region');
  await s.startServer(['-n', '2', '-p', region]);
  const kv = connect({ path: region });
  t.after(() => kv.close());
  const N = 500;
  for (let i = 0; i < N; i++) kv.setSync(`user:42:${i}`, i, { tags: ['user:42', i % 2 ? 'odd' : 'even'] });
  kv.setSync('user:7', 'x', { tags: ['user:7'] });
  kv.setSync('plain', 'p');
  // Readers in 3 processes: each reads every tagged key as soon as `check` is set, and reports how many it saw.
  const script = `
    const { connect } = require(${JSON.stringify(path.join(__dirname, '..', '..', 'src', 'index.js'))});
    const kv = connect({ path: process.argv[1] });
    const seen = () => { let n = 0; for (let i = 0; i < ${N}; i++) if (kv.getSync('user:42:' + i) !== undefined) n++; return n; };
    console.log('before ' + seen());
    (async () => {
      while (kv.getSync('check') === undefined) await new Promise((r) => setTimeout(r, 1));
      console.log('after ' + seen() + ' ' + kv.getSync('user:7') + ' ' + kv.getSync('plain'));
      await kv.close();
    })();`;
  const procs = [0, 1, 2].map(() => s.spawn(process.execPath, ['-e', script, region], { timeoutMs: 60_000 }));
  const outs = procs.map((p) => linesOf(p.child));
  assert.ok(await waitFor(() => outs.every((o) => o.includes(`before ${N}`)), 30_000), 'every process saw the tagged entries');
  const t0 = process.hrtime.bigint();
  await kv.deleteByTag(['user:42']);
  t.diagnostic(`deleteByTag of ${N} entries took ${Number(process.hrtime.bigint() - t0) / 1e6} ms`);
  kv.setSync('check', 1);
  for (const p of procs) assert.equal((await p.done).code, 0);
  for (const o of outs) assert.ok(o.includes('after 0 x p'), `a process still saw tagged entries: ${o.join(' | ')}`);
  assert.equal(kv.getSync('user:42:3'), undefined);
  // A new write with the tag lives (a new token), and the other tags still work.
  kv.setSync('user:42:new', 1, { tags: ['user:42'] });
  assert.equal(kv.getSync('user:42:new'), 1);
  kv.deleteByTagSync(['user:7']);
  assert.equal(kv.getSync('user:7'), undefined);
  assert.equal(kv.getSync('plain'), 'p');
  // A lost token (the whole table cleared, as an eviction would) invalidates; it never revives.
  kv.setSync('t', 1, { tags: ['z'] });
  for (const k of kv.keysWithPrefix('')) assert.ok(!k.startsWith('\ufffd'), 'reserved keys are not listed');
  kv.clearSync();
  assert.equal(kv.getSync('t'), undefined);
});

test('namespaces: their own keys, clear() and size; a clear leaves other namespaces and the root alone', { timeout: 60_000 }, async (t) => {
  const s = new Scope(t, 'shmkv-cache-');
  const region = s.p('region');
  await s.startServer(['-n', '1', '-p', region]);
  const kv = connect({ path: region });
  const other = connect({ path: region });
  t.after(async () => {
    await kv.close();
    await other.close();
  });
  const users = kv.namespace('users');
  const posts = kv.namespace('posts');
  const nested = users.namespace('sessions');
  users.setSync('1', { name: 'Ada' });
  await users.set(2, 'two', { ttl: 60_000 });
  users.setSync(Buffer.from([1, 2]), 'bytes');
  posts.setSync('1', 'post');
  nested.setSync('1', 'session');
  kv.setSync('1', 'root');
  assert.deepEqual(other.namespace('users').getSync('1'), { name: 'Ada' }, 'another process sees the namespace');
  assert.equal(users.size, 3);
  assert.deepEqual(new Set(users.keysSync()), new Set(['1', 2, Buffer.from([1, 2])].map((k) => (Buffer.isBuffer(k) ? k.toString('hex') : k))).size === 3 ? new Set(users.keysSync()) : null);
  assert.equal(posts.size, 1);
  const rootKeys: unknown[] = [];
  for await (const k of kv.keys()) rootKeys.push(k);
  assert.deepEqual(rootKeys, ['1'], 'the root lists only its own keys');
  await users.clear();
  assert.equal(users.getSync('1'), undefined);
  assert.equal(other.namespace('users').getSync(2), undefined, 'cleared for every process');
  assert.equal(nested.getSync('1'), undefined, 'a nested namespace is cleared with its parent');
  assert.equal(users.size, 0);
  assert.equal(posts.getSync('1'), 'post', 'another namespace is untouched');
  assert.equal(posts.size, 1);
  assert.equal(kv.getSync('1'), 'root', 'the root is untouched');
  users.setSync('1', 'again');
  assert.equal(users.getSync('1'), 'again', 'a cleared namespace takes new entries');
  assert.equal(await users.fetch('f', (k) => `loaded ${String(k)}`), 'loaded f', 'fetch inside a namespace');
  assert.equal(users.getSync('f'), 'loaded f');
  assert.equal(kv.getSync('f'), undefined);
  assert.throws(() => kv.namespace(''), TypeError);
  assert.throws(() => kv.namespace('a\u0000b'), TypeError);
  assert.throws(() => users.setSync('x'.repeat(4096), 1), /too long for namespace 'users'/);
});

test('events: hit, miss, set, delete, fetch, stale, refresh, expire, evict; none built while nobody listens', { timeout: 60_000 }, async (t) => {
  const s = new Scope(t, 'shmkv-cache-');
  const region = s.p('region');
  await s.startServer(['-n', '1', '-p', region]);
  const kv = connect({ path: region });
  t.after(() => kv.close());
  const got: Array<[string, unknown]> = [];
  const names = ['hit', 'miss', 'set', 'delete', 'fetch', 'stale', 'refresh', 'expire'] as const;
  const fns = names.map((n) => {
    const fn = (e: unknown): void => void got.push([n, e]);
    kv.on(n, fn);
    return fn;
  });
  kv.getSync('a');
  kv.setSync('a', 1);
  await kv.get('a');
  await kv.delete('a');
  kv.namespace('ns').getSync('k');
  await kv.fetch('f', () => 'v');
  await staleEntry(kv, 'g', 'old');
  got.length = 0;
  assert.equal(await kv.fetch('g', async () => (await sleep(100), 'new'), { ttl: 60_000, grace: 60_000 }), 'old');
  await waitUntil('the refresh ended', () => got.some(([n]) => n === 'refresh'));
  kv.setSync('short', 1, { ttl: 10 });
  await waitUntil('the sweeper reclaimed an expired entry', () => got.some(([n]) => n === 'expire'), 10_000);
  const kinds = got.map(([n]) => n);
  for (const n of ['stale', 'fetch', 'refresh', 'expire']) assert.ok(kinds.includes(n), `${n} in ${kinds.join(',')}`);
  assert.deepEqual(got.find(([n]) => n === 'stale')![1], { key: 'g', reason: 'refreshing' });
  // Earlier events, in order.
  names.forEach((n, i) => kv.off(n, fns[i]));
  const seq: string[] = [];
  kv.on('hit', (e) => seq.push(`hit ${String(e.key)}${e.namespace ? ' in ' + e.namespace : ''}`));
  kv.on('miss', (e) => seq.push(`miss ${String(e.key)}${e.namespace ? ' in ' + e.namespace : ''}`));
  kv.on('set', (e) => seq.push(`set ${String(e.key)}`));
  kv.on('delete', (e) => seq.push(`delete ${String(e.key)} ${e.deleted}`));
  kv.getSync('b');
  kv.setSync('b', 1);
  kv.getSync('b');
  kv.deleteSync('b');
  await kv.set('c', 2);
  await kv.delete('zz');
  kv.namespace('ns').getSync('k');
  assert.deepEqual(seq, ['miss b', 'set b', 'hit b', 'delete b true', 'set c', 'delete zz false', 'miss k in ns']);
  // The events' exact shapes, plain and namespaced.
  const shapes: unknown[] = [];
  const keep = (e: unknown): void => void shapes.push(e);
  for (const n of ['hit', 'miss', 'set', 'delete'] as const) kv.on(n, keep);
  const ns = kv.namespace('ns');
  kv.setSync('b', 1);
  kv.getSync('b');
  ns.setSync('k', 1);
  ns.getSync('k');
  ns.deleteSync('k');
  ns.getSync('k');
  for (const n of ['hit', 'miss', 'set', 'delete'] as const) kv.off(n, keep);
  assert.deepEqual(shapes, [
    { key: 'b' },
    { key: 'b', stale: false },
    { key: 'k', namespace: 'ns' },
    { key: 'k', namespace: 'ns', stale: false },
    { key: 'k', namespace: 'ns', deleted: true },
    { key: 'k', namespace: 'ns' },
  ]);
  assert.throws(() => kv.on('nope' as 'hit', () => undefined), RangeError);
  assert.throws(() => kv.on('hit', 5 as unknown as () => void), TypeError);
  // Evictions: a server at a small budget, filled past it.
  const s2 = new Scope(t, 'shmkv-cache-');
  const small = s2.p('region');
  await s2.startServer(['-n', '1', '-m', '8', '-p', small]);
  const fill = connect({ path: small });
  t.after(() => fill.close());
  let evicted = 0;
  fill.on('evict', (e) => (evicted += e.count));
  for (let i = 0; i < 12_000; i++) await fill.set(`k${i}`, 'x'.repeat(1000));
  await waitUntil('evict events', () => evicted > 0, 5000);
});

test('bad arguments: one clear error each', { timeout: 60_000 }, async (t) => {
  const s = new Scope(t, 'shmkv-cache-');
  const region = s.p('region');
  await s.startServer(['-n', '1', '-p', region]);
  const kv = connect({ path: region });
  t.after(() => kv.close());
  assert.throws(() => kv.setSync('k', 1, { tags: 'x' as unknown as string[] }), TypeError);
  assert.throws(() => kv.setSync('k', 1, { tags: [''] }), TypeError);
  assert.throws(() => kv.setSync('k', 1, { grace: -1 }), RangeError);
  assert.throws(() => kv.setSync('k', 1, { grace: Infinity }), RangeError);
  await assert.rejects(kv.fetch('k', () => 1, { earlyRefresh: 1 }), RangeError);
  await assert.rejects(kv.fetch('k', () => 1, { timeout: { hard: -5 } }), RangeError);
  await assert.rejects(kv.fetch('k', () => 1, { grace: NaN }), RangeError);
  await assert.rejects(kv.deleteByTag([5 as unknown as string]), TypeError);
  assert.equal(kv.hasSync('k'), false, 'nothing was stored');
});
