/**
 * Expiry against a real server: a value with a time to live is returned
 * until its deadline and never after, by every read path (direct get/has/
 * ttl, sync and promise, and the server's own read); time passing between a
 * direct read's version check and its deadline check; the defaults (per
 * call, per client, per server) and their precedence; expire/persist;
 * Keyv-style absolute timestamps; and the server's sweeper reclaiming
 * expired entries that nobody reads.
 */
import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import { connect } from '../../src/index';
import { ReadResult } from '../../src/store/table-reader';
import { memTable } from '../support/table';
import { monoNowMs } from '../../src/store/clock';
import { Status } from '../../src/layout/board';
import { ValueTag } from '../../src/layout/keys-values';
import { Scope, waitFor } from '../support/procs';

const T = { timeout: 60_000 };

/** Poll until `cond` holds (generous bound for a loaded machine). */
async function eventually(cond: () => boolean, what: string): Promise<void> {
  assert.ok(await waitFor(cond, 30_000), `timed out waiting until ${what}`);
}

test('ttl: every read path returns the value before its deadline and nothing after', T, async (t) => {
  const s = new Scope(t, 'shmkv-ttl-');
  const region = s.p('region');
  await s.startServer(['-n', '2', '-p', region]);
  const kv = connect({ path: region });
  t.after(() => kv.close());
  const start = monoNowMs();
  kv.setSync('sync', 'a', { ttl: 300 });
  await kv.set('promise', { b: 1 }, { ttl: 300 });
  await kv.setMany([['many', 3]], { ttl: 300 });
  kv.setSync('forever', 'f');
  const lastWrite = monoNowMs();
  // Before the deadline (checked only while it surely has not passed).
  const before = [kv.getSync('sync'), await kv.get('promise'), kv.getSync('many'), kv.hasSync('sync'), await kv.has('promise')];
  if (monoNowMs() - start < 250) assert.deepEqual(before, ['a', { b: 1 }, 3, true, true]);
  // On a loaded machine the deadline may have passed already: then absent.
  const left = kv.ttlSync('sync');
  assert.ok(left === undefined ? monoNowMs() - start >= 300 : left >= 0 && left <= 300, `remaining ${left} after ${monoNowMs() - start} ms`);
  assert.equal(kv.ttlSync('forever'), Infinity);
  assert.equal(await kv.getRemainingTTL('nothing'), undefined);
  await eventually(() => monoNowMs() - lastWrite > 300, 'every deadline passed');
  assert.deepEqual(
    [kv.getSync('sync'), await kv.get('promise'), kv.getSync('many'), kv.hasSync('sync'), await kv.has('promise'), kv.ttlSync('sync')],
    [undefined, undefined, undefined, false, false, undefined],
  );
  assert.equal(kv.getSync('forever'), 'f');
  assert.equal(kv.deleteSync('sync'), false, 'an expired key is absent for delete too');
  // An expired u32 counter restarts from 0.
  kv.setSync(5, 41, { ttl: 1 });
  await eventually(() => kv.getSync(5) === undefined, 'the counter expired');
  assert.equal(kv.incrSync(5), 1);
});

test('ttl: expire, persist, absolute expiresAt, bad ttls', T, async (t) => {
  const s = new Scope(t, 'shmkv-ttl-');
  const region = s.p('region');
  await s.startServer(['-n', '1', '-p', region]);
  const kv = connect({ path: region });
  t.after(() => kv.close());
  kv.setSync('k', 1, { ttl: 100 });
  assert.equal(kv.persistSync('k'), true);
  assert.equal(kv.ttlSync('k'), Infinity);
  assert.equal(await kv.expire('k', 60_000), true);
  assert.ok(kv.ttlSync('k')! > 50_000);
  assert.equal(kv.expireSync('absent', 10), false);
  assert.equal(await kv.persist('absent'), false);
  kv.setSync('at', 'x', { expiresAt: Date.now() + 60_000 });
  const left = kv.ttlSync('at')!;
  assert.ok(left > 55_000 && left <= 60_000, `expiresAt converted to ${left} ms left`);
  kv.setSync('past', 'x', { expiresAt: Date.now() - 1 });
  assert.equal(kv.getSync('past'), undefined, 'a timestamp in the past stores an expired entry');
  for (const bad of [-1, NaN, '5' as unknown as number]) {
    assert.throws(() => kv.setSync('k', 1, { ttl: bad }), RangeError);
    assert.throws(() => kv.expireSync('k', bad), RangeError);
    assert.throws(() => connect({ path: region, ttl: bad }), RangeError);
  }
  assert.equal(kv.getSync('k'), 1, 'refused writes changed nothing');
});

test('ttl: per-call beats per-client beats the server default (--ttl)', T, async (t) => {
  const s = new Scope(t, 'shmkv-ttl-');
  const region = s.p('region');
  await s.startServer(['-n', '1', '-p', region, '--ttl', '60000']);
  const plain = connect({ path: region });
  const short = connect({ path: region, ttl: 30_000 });
  t.after(() => Promise.all([plain.close(), short.close()]));
  plain.setSync('server', 1);
  short.setSync('client', 1);
  short.setSync('call', 1, { ttl: 10_000 });
  short.setSync('never', 1, { ttl: 0 });
  const ttl = (k: string): number => plain.ttlSync(k)!;
  assert.ok(ttl('server') > 50_000 && ttl('server') <= 60_000, `server default ${ttl('server')}`);
  assert.ok(ttl('client') > 20_000 && ttl('client') <= 30_000, `client default ${ttl('client')}`);
  assert.ok(ttl('call') > 5_000 && ttl('call') <= 10_000, `per call ${ttl('call')}`);
  assert.equal(ttl('never'), Infinity);
});

test('ttl: the sweeper reclaims expired entries nobody reads; size counts them until then', T, async (t) => {
  const s = new Scope(t, 'shmkv-ttl-');
  const region = s.p('region');
  await s.startServer(['-n', '1', '-p', region]);
  const kv = connect({ path: region });
  t.after(() => kv.close());
  await kv.setMany(Array.from({ length: 20_000 }, (_, i) => [`k${i}`, 'v'.repeat(100)] as const), { ttl: 50 });
  kv.setSync('stays', 1);
  assert.ok(kv.size >= 1, 'size counts stored keys');
  await eventually(() => kv.size === 1, `the sweeper reclaimed every expired entry (size ${kv.size})`);
  assert.equal(kv.getSync('stays'), 1);
});

test('ttl: a direct read whose deadline passes between its snapshot and its deadline check reads absent', T, () => {
  const { t: table, r: reader, enc } = memTable(4 << 20, { initialBuckets: 16 });
  enc.encode('k');
  const v = Buffer.from('v');
  const deadline = monoNowMs() + 1_000;
  assert.equal(table.set(enc.bytes, 0, enc.length, v, 0, 1, ValueTag.String, deadline), Status.Ok);
  // The snapshot is taken well before the deadline; the clock read after
  // it (the only one the reader makes) is past it.
  let calls = 0;
  reader.clock = () => (calls++, deadline + 1);
  assert.equal(reader.read(enc.bytes, enc.length, enc.hash), ReadResult.Absent);
  assert.equal(calls, 1, 'the deadline is judged once, after the snapshot');
  reader.clock = () => deadline - 1;
  assert.equal(reader.read(enc.bytes, enc.length, enc.hash), ReadResult.Found);
  // The server's own read path (withValue) agrees once the deadline passed.
  assert.equal(table.withValue(enc.bytes, 0, enc.length, () => Status.Ok), Status.Ok);
  assert.equal(table.expire(enc.bytes, 0, enc.length, monoNowMs() - 1), Status.Ok);
  assert.equal(table.withValue(enc.bytes, 0, enc.length, () => Status.Ok), Status.NotFound);
  assert.equal(table.size(), 0, 'the expired entry met on a read was reclaimed');
});
