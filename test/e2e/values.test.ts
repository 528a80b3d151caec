/**
 * Structured values end to end, against real servers and between real
 * processes (issue 22): coherence of direct reads with and without the local
 * cache over hundreds of generations written by another process; values
 * read across codecs; shapes added by two processes at once through the
 * table's shared structure list; the local cache's frozen values, bounds,
 * deadlines and fetch leases; setSync's straight-to-staging writes at every
 * size, their errors, and a cleared structure list.
 */
import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import * as path from 'node:path';
import { ChildProcess, spawn } from 'node:child_process';
import { connect, CodecError } from '../../src/index';
import { ValueTag } from '../../src/layout/keys-values';
import { encodeStructured } from '../../src/codec/structured';
import { STRUCTURES_KEY } from '../../src/client/structures';
import { internals } from '../../src/client/client';
import { Scope, waitUntil } from '../support/procs';
import { generation, PER_ROUND, ROUNDS, shapeValue } from '../fixtures/api/values-client';

const VALUES_CLIENT = path.join(__dirname, '..', 'fixtures', 'api', 'values-client.js');

/** A values-client child with its stdin open; its stdout lines arrive in `lines`. */
function child(t: { after(fn: () => void): void }, args: string[]): { proc: ChildProcess; lines: string[]; err: () => string; exit: Promise<number | null> } {
  const proc = spawn(process.execPath, [VALUES_CLIENT, ...args], { stdio: ['pipe', 'pipe', 'pipe'] });
  t.after(() => {
    if (proc.exitCode === null && proc.signalCode === null) proc.kill('SIGKILL');
  });
  const lines: string[] = [];
  let buf = '';
  let err = '';
  proc.stdout!.on('data', (d: Buffer) => {
    buf += d.toString();
    const parts = buf.split('\n');
    buf = parts.pop()!;
    lines.push(...parts);
  });
  proc.stderr!.on('data', (d: Buffer) => (err += d.toString()));
  const exit = new Promise<number | null>((r) => proc.once('exit', (code) => r(code)));
  return { proc, lines, err: () => err, exit };
}

test('coherence: once another process\'s write returns, the next get sees it, with and without the local cache', { timeout: 600_000 }, async (t) => {
  const s = new Scope(t, 'shmkv-values-');
  const region = s.p('region');
  await s.startServer(['-n', '2', '-p', region]);
  const plain = connect({ path: region });
  const cached = connect({ path: region, localCache: true });
  const cachedV8 = connect({ path: region, encoding: 'v8', localCache: { max: 100 } });
  t.after(() => Promise.all([plain.close(), cached.close(), cachedV8.close()]));
  const stable = { untouched: true, list: [1, 2, 3] };
  plain.setSync('gen:stable', stable);
  const stableObject = cached.getSync('gen:stable');

  const GENERATIONS = 300;
  const w = child(t, ['writer', region, 'msgpack', String(GENERATIONS)]);
  for (let g = 1; g <= GENERATIONS; g++) {
    await waitUntil(`the writer's generation ${g} (stderr: ${w.err()})`, () => w.lines.length >= g, 60_000, 1);
    assert.equal(w.lines[g - 1], String(g));
    const want = generation(g);
    assert.deepStrictEqual(plain.getSync('gen:watched'), want, `plain getSync, generation ${g}`);
    const c1 = cached.getSync('gen:watched');
    assert.deepStrictEqual(c1, want, `cached getSync, generation ${g}`);
    assert.equal(cached.getSync('gen:watched'), c1, 'an unchanged entry: the same frozen object');
    assert.deepStrictEqual(await cached.get('gen:watched'), want, `cached get(), generation ${g}`);
    assert.deepStrictEqual(cachedV8.getSync('gen:watched'), want, `a v8 client's cached read, generation ${g}`);
    // The writer's noise moves segment versions; a value that did not change stays the cached object.
    assert.equal(cached.getSync('gen:stable'), stableObject);
    w.proc.stdin!.write('\n');
  }
  w.proc.stdin!.end();
  assert.equal(await w.exit, 0, w.err());
  const st = cached.stats().localCache!;
  assert.ok(st.hits >= 2 * GENERATIONS, `local hits ${st.hits}`);
  assert.ok(st.misses >= GENERATIONS, `local misses ${st.misses}: every generation was read again`);
  assert.deepStrictEqual(cached.getSync('gen:stable'), stable);
});

test('values read across codecs: msgpack, v8, json and plain msgpack values, by clients of every encoding', { timeout: 600_000 }, async (t) => {
  const s = new Scope(t, 'shmkv-values-');
  const region = s.p('region');
  await s.startServer(['-n', '1', '-p', region]);
  const clients = { msgpack: connect({ path: region }), v8: connect({ path: region, encoding: 'v8' }), json: connect({ path: region, encoding: 'json' }) };
  t.after(() => Promise.all(Object.values(clients).map((c) => c.close())));
  assert.equal(clients.msgpack.encoding, 'msgpack', 'the default encoding');
  const cyclic: Record<string, unknown> = { name: 'loop' };
  cyclic.self = cyclic;
  const rich = { when: new Date(7), m: new Map<unknown, unknown>([[{ k: 1 }, 'object key'], [2n, new Set([1])]]), big: 2n ** 80n, f: new Float64Array([1.5, -2]), u: undefined };
  const jsonish = { a: [1, 'two', { three: null }], b: 'héllo' };
  clients.msgpack.setSync('from:msgpack', rich);
  clients.msgpack.setSync('from:msgpack:cycle', cyclic);
  clients.v8.setSync('from:v8', rich);
  clients.json.setSync('from:json', jsonish);
  await clients.msgpack.set('from:msgpack:promise', jsonish);
  // A value of the old plain msgpack tag (9), as a former client wrote it.
  await internals(clients.msgpack).request((req) =>
    req.compareAndSetPrepared('from:plain', null, { tag: ValueTag.Msgpack, maxBytes: 0, num: 0, str: '', bytes: encodeStructured(jsonish, 'plain-msgpack') }, 0),
  );
  for (const [name, kv] of Object.entries(clients)) {
    assert.deepStrictEqual(kv.getSync('from:msgpack'), rich, `${name} reads msgpack`);
    const c = kv.getSync('from:msgpack:cycle') as Record<string, unknown>;
    assert.equal(c.self, c, `${name} reads a cycle`);
    assert.deepStrictEqual(kv.getSync('from:v8'), rich, `${name} reads v8`);
    assert.deepStrictEqual(kv.getSync('from:json'), jsonish, `${name} reads json`);
    assert.deepStrictEqual(await kv.get('from:msgpack:promise'), jsonish, `${name} reads a msgpack value written through the pipeline`);
    assert.deepStrictEqual(kv.getSync('from:plain'), jsonish, `${name} reads plain msgpack`);
  }
  // The structure list's key is the table's, not the application's: not
  // listed, not in size; the server's count of keys (stats) has it.
  const keys: unknown[] = [];
  for await (const k of clients.v8.keys()) keys.push(k);
  assert.ok(!keys.includes(STRUCTURES_KEY));
  assert.equal(keys.length, 6);
  assert.equal(clients.v8.size, 6);
  assert.equal(clients.v8.stats().keys, 7);
  assert.ok(!clients.v8.keysWithPrefix('').some((k) => k.includes('structures')));
});

test('shapes added by two processes at once: every value decodes in a third, each shape is in the list once', { timeout: 600_000 }, async (t) => {
  const s = new Scope(t, 'shmkv-values-');
  const region = s.p('region');
  await s.startServer(['-n', '2', '-p', region]);
  const writers = [1, 2].map((id) => child(t, ['shapes', region, String(id)]));
  // Rounds released together: the processes race for the list while both run.
  for (let r = 0; r < ROUNDS; r++) {
    await waitUntil(`both shapes processes to be ready for round ${r}`, () => writers.every((w) => w.lines.includes(`ready ${r}`)), 60_000, 1);
    for (const w of writers) w.proc.stdin!.write('go\n');
  }
  let declined = 0;
  for (const w of writers) {
    assert.equal(await w.exit, 0, w.err());
    const last = w.lines[w.lines.length - 1];
    assert.match(last, /^done \d+$/);
    declined += Number(last.split(' ')[1]);
  }
  // How often a process lost the race for the list (0 on a machine too busy to run both at once).
  t.diagnostic(`declined saves (races lost and retried): ${declined}`);
  const kv = connect({ path: region });
  t.after(() => kv.close());
  for (const id of [1, 2]) for (let r = 0; r < ROUNDS; r++) for (let i = 0; i < PER_ROUND; i++) assert.deepStrictEqual(kv.getSync(`shape:${id}:${r}:${i}`), shapeValue(id, r, i), `shape:${id}:${r}:${i}`);
  const list = kv.getSync(STRUCTURES_KEY) as Uint8Array;
  const shapes = JSON.parse(Buffer.from(list.subarray(4)).toString()) as string[][];
  const ids = shapes.map((sh) => sh.join(','));
  assert.equal(new Set(ids).size, ids.length, 'no shape twice');
  // Each round: the common half once, and each process's own half.
  assert.equal(shapes.length, ROUNDS * PER_ROUND * 1.5);
});

test('the local cache: frozen values, bounds by entries and bytes, exact deadlines, fetch leases as absent, stats', { timeout: 600_000 }, async (t) => {
  const s = new Scope(t, 'shmkv-values-');
  const region = s.p('region');
  // Many index slots: the sweeper's full pass takes seconds, so an expired
  // entry stays in the table well after its deadline (see the ttl check).
  await s.startServer(['-n', '1', '-p', region, '-s', '1048576']);
  const writer = connect({ path: region });
  const small = connect({ path: region, localCache: { max: 50 } });
  const bytes = connect({ path: region, localCache: { maxBytes: 2000 } });
  const plain = connect({ path: region });
  t.after(() => Promise.all([writer.close(), small.close(), bytes.close(), plain.close()]));

  const value = (i: number): Record<string, unknown> => ({ i, when: new Date(i), m: new Map([['k', [i]]]), s: new Set([i]), pad: 'p'.repeat(150) });
  for (let i = 0; i < 200; i++) writer.setSync(`lc:${i}`, value(i));
  writer.setSync(17, 42);
  for (let round = 0; round < 2; round++) {
    for (let i = 0; i < 200; i++) {
      assert.deepStrictEqual(small.getSync(`lc:${i}`), value(i));
      assert.deepStrictEqual(bytes.getSync(`lc:${i}`), value(i));
    }
    assert.equal(small.getSync(17), 42);
  }
  assert.ok(small.stats().localCache!.entries <= 50, `entries ${small.stats().localCache!.entries}`);
  const b = bytes.stats().localCache!;
  assert.ok(b.bytes <= 2000 && b.entries >= 5, `bytes ${b.bytes}, entries ${b.entries}`);

  // Frozen, all the way down; without the cache a value is the caller's to change.
  const v = small.getSync('lc:3') as { i: number; when: Date; m: Map<string, number[]>; s: Set<number> };
  assert.equal(small.getSync('lc:3'), v, 'a hit returns the cached object');
  assert.ok(Object.isFrozen(v) && Object.isFrozen(v.m.get('k')));
  assert.throws(() => {
    (v as { i: number }).i = 9;
  }, TypeError);
  assert.throws(() => v.m.set('x', []), TypeError);
  assert.throws(() => v.m.get('k')!.push(1), TypeError);
  assert.throws(() => v.s.add(2), TypeError);
  assert.throws(() => v.when.setTime(0), TypeError);
  assert.equal(v.when.getTime(), 3);
  const mutable = plain.getSync('lc:3') as { m: Map<string, number[]> };
  mutable.m.set('x', [1]);
  assert.ok(!Object.isFrozen(mutable));

  // Typed arrays cannot be frozen: such values are decoded at every get, never shared.
  writer.setSync('lc:typed', { f: new Float64Array([1, 2]) });
  const t1 = small.getSync('lc:typed') as { f: Float64Array };
  const t2 = small.getSync('lc:typed') as { f: Float64Array };
  assert.notEqual(t1, t2);
  t1.f[0] = 99;
  assert.equal(t2.f[0], 1);

  // A write by another client is seen at the next get; so is a delete.
  const before = small.getSync('lc:5');
  writer.setSync('lc:5', { replaced: true });
  assert.deepStrictEqual(small.getSync('lc:5'), { replaced: true });
  assert.notEqual(small.getSync('lc:5'), before);
  writer.deleteSync('lc:5');
  assert.equal(small.getSync('lc:5'), undefined);
  writer.setSync(17, 43);
  assert.equal(small.getSync(17), 43);

  // Deadlines are judged at every hit, even when nothing in the segment changes.
  writer.setSync('lc:ttl', { short: 'lived' }, { ttl: 300 });
  assert.deepStrictEqual(small.getSync('lc:ttl'), { short: 'lived' });
  assert.deepStrictEqual(small.getSync('lc:ttl'), { short: 'lived' }, 'a hit');
  await waitUntil('the entry to expire for a plain reader', () => plain.getSync('lc:ttl') === undefined, 30_000, 1);
  assert.equal(small.getSync('lc:ttl'), undefined, 'the cached deadline is judged at the hit');

  // fetch()'s lease reads as absent through the cache.
  writer.setSync('lc:fetched', 'old');
  assert.equal(small.getSync('lc:fetched'), 'old');
  writer.deleteSync('lc:fetched');
  let release!: () => void;
  const loading = writer.fetch('lc:fetched', () => new Promise<string>((r) => (release = () => r('new'))));
  await waitUntil('the loader to start', () => release !== undefined);
  assert.equal(small.getSync('lc:fetched'), undefined, 'a lease is not a value');
  release();
  assert.equal(await loading, 'new');
  assert.equal(small.getSync('lc:fetched'), 'new');

  const st = small.stats();
  assert.ok(st.localCache!.hits > 0 && st.localCache!.misses > 0);
  assert.equal(plain.stats().localCache, null);
  assert.throws(() => connect({ path: region, localCache: { max: 0 } }), RangeError);
  assert.throws(() => connect({ path: region, localCache: 'yes' as unknown as boolean }), TypeError);
});

test('setSync writes objects of every size straight into its staging block; errors leave the client usable', { timeout: 600_000 }, async (t) => {
  const s = new Scope(t, 'shmkv-values-');
  const region = s.p('region');
  await s.startServer(['-n', '1', '-p', region]);
  const kv = connect({ path: region });
  const other = connect({ path: region, encoding: 'v8' });
  t.after(() => Promise.all([kv.close(), other.close()]));
  const usable = (tag: string): void => {
    kv.setSync('after', { tag });
    assert.deepStrictEqual(other.getSync('after'), { tag });
  };
  // Sizes around the staging block (4 KiB), growing and shrinking, through both forms.
  const sizes = [0, 10, 200, 2000, 4000, 4100, 9000, 70_000, 300_000, 50, 5000, 3];
  for (const [n, size] of sizes.entries()) {
    const v = { n, text: 'x'.repeat(size), list: Array.from({ length: size % 100 }, (_, i) => ({ i })) };
    kv.setSync(`size:${n}`, v);
    assert.deepStrictEqual(other.getSync(`size:${n}`), v, `size ${size} through setSync`);
    await kv.set(`psize:${n}`, v);
    assert.deepStrictEqual(other.getSync(`psize:${n}`), v, `size ${size} through set()`);
  }
  // Long keys (past the in-place lead) still work.
  const longKey = 'k'.repeat(1000);
  kv.setSync(longKey, { long: true });
  assert.deepStrictEqual(other.getSync(longKey), { long: true });

  assert.throws(() => kv.setSync('bad', { w: new WeakMap() }), (e: Error) => e instanceof TypeError && /WeakMap at \$\.w/.test(e.message));
  usable('after a TypeError');
  const sparse: unknown[] = [];
  sparse.length = 1e8;
  const t0 = performance.now();
  assert.throws(() => kv.setSync('bad', { sparse }), RangeError);
  assert.ok(performance.now() - t0 < 2000, `a sparse array was refused in ${performance.now() - t0} ms`);
  usable('after a RangeError before encoding');
  // At least 600,001 bytes by the bound, over 1 MiB once encoded (each number takes 3 bytes).
  assert.throws(() => kv.setSync('bad', Array.from({ length: 600_000 }, (_, i) => 1000 + (i % 1000))), (e: Error) => e instanceof RangeError && /over the server's limit/.test(e.message));
  usable('after a RangeError after encoding');
  let deep: Record<string, unknown> = {};
  const root = deep;
  for (let i = 0; i < 200_000; i++) deep = deep.x = {};
  assert.throws(() => kv.setSync('bad', root), CodecError);
  usable('after a CodecError');
  await assert.rejects(async () => kv.set('bad', Promise.resolve(1)), TypeError);
  usable('after a refused promise write');
  const sneaky = {
    get x(): number {
      kv.setSync('inner', 1);
      return 1;
    },
  };
  assert.throws(() => kv.setSync('bad', sneaky), /while this client was writing a value/);
  usable('after a re-entrant write');
  assert.equal(other.getSync('bad'), undefined, 'nothing refused was stored');
});

test('a server with a small value limit: objects are encoded whole, then copied (no 4 KiB staging block)', { timeout: 600_000 }, async (t) => {
  const s = new Scope(t, 'shmkv-values-');
  const region = s.p('region');
  await s.startServer(['-n', '1', '-p', region, '--max-value-bytes', '1000', '--max-key-bytes', '64']);
  const kv = connect({ path: region });
  t.after(() => kv.close());
  for (let i = 0; i < 50; i++) {
    const v = { i, shape: { [`field${i % 7}`]: i }, pad: 'q'.repeat(i * 10) };
    kv.setSync(`small:${i}`, v);
    assert.deepStrictEqual(kv.getSync(`small:${i}`), v);
  }
  assert.throws(() => kv.setSync('big', { pad: 'q'.repeat(2000) }), RangeError);
});

test('clear() keeps the pinned structure list: later values decode everywhere; none is misread', { timeout: 600_000 }, async (t) => {
  const s = new Scope(t, 'shmkv-values-');
  const region = s.p('region');
  await s.startServer(['-n', '1', '-p', region]);
  const a = connect({ path: region });
  const b = connect({ path: region, localCache: true });
  t.after(() => Promise.all([a.close(), b.close()]));
  a.setSync('before', { first: 1, second: [{ inner: true }] });
  assert.deepStrictEqual(b.getSync('before'), { first: 1, second: [{ inner: true }] });
  const list = a.getSync(STRUCTURES_KEY);
  assert.ok(list instanceof Uint8Array && list.length > 0, 'the list is stored under its system key');
  a.clearSync();
  assert.equal(a.getSync('before'), undefined, 'clear() removed the user\'s keys');
  assert.deepStrictEqual(a.getSync(STRUCTURES_KEY), list, 'clear() kept the list (a system key)');
  // Shapes in a different order: with reused ids they would decode under the old names.
  a.setSync('after', { second: 'two', first: 'one' });
  b.setSync('after:b', { inner: false });
  const c = connect({ path: region });
  t.after(() => c.close());
  for (const kv of [a, b, c]) {
    assert.deepStrictEqual(kv.getSync('after'), { second: 'two', first: 'one' });
    assert.deepStrictEqual(kv.getSync('after:b'), { inner: false });
  }
});

test('eviction at the budget spares the shared record list while objects are read, though others\' writes churn the table', { timeout: 600_000 }, async (t) => {
  const s = new Scope(t, 'shmkv-values-');
  const region = s.p('region');
  await s.startServer(['-n', '1', '-m', '16', '-p', region]);
  const writer = connect({ path: region });
  const churn = connect({ path: region });
  const reader = connect({ path: region });
  t.after(() => Promise.all([writer.close(), churn.close(), reader.close()]));
  for (let i = 0; i < 500; i++) writer.setSync(`hot:${i}`, { i, name: `hot ${i}` });
  // Strings only (no codec): 80 MB through a 16 MiB table, while a reader keeps reading the objects.
  const pad = 'p'.repeat(2000);
  for (let n = 0; n < 40_000; n++) {
    churn.setSync(`churn:${n}`, pad);
    if (n % 4 === 0) assert.deepStrictEqual(reader.getSync(`hot:${n % 500}`) ?? { i: n % 500, name: `hot ${n % 500}` }, { i: n % 500, name: `hot ${n % 500}` });
  }
  assert.ok(churn.stats().evictions > 20_000, `evictions: ${churn.stats().evictions}`);
  // A process that never held the list reads what is left: every object decodes.
  const fresh = connect({ path: region });
  t.after(() => fresh.close());
  let found = 0;
  for (let i = 0; i < 500; i++) {
    const v = fresh.getSync(`hot:${i}`);
    if (v === undefined) continue;
    assert.deepStrictEqual(v, { i, name: `hot ${i}` });
    found++;
  }
  assert.ok(found > 0, 'some of the objects read during the churn are still there');
});
