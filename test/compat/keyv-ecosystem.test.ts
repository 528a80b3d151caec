/**
 * KeyvShmkv (shmkv/keyv) as users plug it in, against real servers: Keyv
 * with serialization off (raw values through the client's codec),
 * namespaces and clear() next to keys that are not Keyv's, cache-manager 7
 * with a Keyv on it, and cacheable 2 with it as the primary tier, shared
 * by two processes. Keyv's own compliance suite runs under vitest
 * (test/keyv/).
 */
import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import * as path from 'node:path';
import { Keyv } from 'keyv';
import { createCache } from 'cache-manager';
import { Cacheable } from 'cacheable';
import { connect } from '../../src/index';
import { KeyvShmkv } from '../../src/adapters/keyv';
import { HasAfter, Scope, sleep } from '../support/procs';

const PEER = path.join(__dirname, '..', 'fixtures', 'keyv', 'cacheable-peer.js');

async function server(t: HasAfter): Promise<{ s: Scope; region: string }> {
  const s = new Scope(t, 'shmkv-keyv-');
  const region = s.p('region');
  await s.startServer(['-n', '2', '-s', '1024', '-p', region, '--data-dir', s.dir]);
  return { s, region };
}

test('the package exports the adapter as shmkv/keyv', () => {
  assert.equal(require.resolve('shmkv/keyv'), path.join(__dirname, '..', '..', 'src', 'adapters', 'keyv.js'));
});

test('Keyv: raw values, namespaces, clear and iterator beside other keys', { timeout: 60_000 }, async (t) => {
  const { region } = await server(t);
  const store = new KeyvShmkv({ path: region });
  t.after(() => store.disconnect());
  // Serialization off: Keyv hands the store { value, expires } objects.
  const raw = new Keyv({ store, namespace: 'raw', serialize: undefined, deserialize: undefined });
  const value = { buf: Buffer.from('bytes'), when: new Date(5), tags: new Map([['a', 1]]) };
  assert.equal(await raw.set('obj', value), true);
  assert.deepEqual(await raw.get('obj'), value);

  const other = new KeyvShmkv({ path: region });
  t.after(() => other.disconnect());
  const a = new Keyv({ store: new KeyvShmkv({ client: store.client }), namespace: 'a' });
  const ab = new Keyv({ store: other, namespace: 'a:b' });
  await a.set('x', 1);
  await a.set('y', 2, 60_000);
  await ab.set('x', 3);
  // Keys no Keyv wrote: a u32 key, a byte key, a string outside any namespace.
  const kv = connect({ path: region });
  t.after(() => kv.close());
  await kv.set(7, 7);
  await kv.set(Buffer.from('a:z'), 'bytes');
  await kv.set('plain', 'p');

  const seen = new Map<string, unknown>();
  for await (const [k, v] of a.iterator!(undefined)) seen.set(k as string, v);
  // 'a:b:x' is in the table under the prefix 'a:' too; Keyv itself reads it as
  // key 'b:x' of namespace 'a' (its prefixing cannot tell them apart).
  assert.deepEqual(seen, new Map<string, unknown>([['x', 1], ['y', 2], ['b:x', 3]]));
  const ttl = await kv.ttl('a:y');
  assert.ok(ttl !== undefined && ttl > 50_000 && ttl <= 60_000, `ttl ${ttl}`);

  await raw.clear();
  assert.equal(await raw.get('obj'), undefined);
  assert.equal(await a.get('x'), 1);
  await ab.clear();
  assert.equal(await ab.get('x'), undefined);
  assert.equal(await a.get('x'), 1);
  await a.clear();
  assert.deepEqual(await a.get(['x', 'y']), [undefined, undefined]);
  assert.equal(await kv.get(7), 7);
  assert.equal(await kv.get(Buffer.from('a:z')), 'bytes');
  assert.equal(await kv.get('plain'), 'p');
  // A short ttl is the store's own: gone even for a reader that skips Keyv.
  await a.set('brief', 'b', 50);
  assert.equal(await kv.has('a:brief'), true);
  await sleep(120);
  assert.equal(await kv.has('a:brief'), false);
});

test('cache-manager 7 on Keyv on KeyvShmkv: set, get, del, ttl, wrap', { timeout: 60_000 }, async (t) => {
  const { region } = await server(t);
  const store = new KeyvShmkv({ path: region });
  const cache = createCache({ stores: [new Keyv({ store, namespace: 'cm' })] });
  t.after(() => cache.disconnect());

  assert.deepEqual(await cache.set('user:1', { name: 'Ada' }, 10_000), { name: 'Ada' });
  assert.deepEqual(await cache.get('user:1'), { name: 'Ada' });
  // cache-manager's ttl() is the absolute expiry Keyv recorded.
  const expires = await cache.ttl('user:1');
  assert.ok(expires !== undefined && expires > Date.now() + 8_000 && expires <= Date.now() + 10_000, `expires ${expires}`);
  assert.equal(await store.client.get('cm:user:1') !== undefined, true);
  assert.equal(await cache.del('user:1'), true);
  assert.equal(await cache.get('user:1'), undefined);

  let calls = 0;
  const load = async (): Promise<string> => {
    calls++;
    return 'loaded';
  };
  assert.equal(await cache.wrap('page', load, 10_000), 'loaded');
  assert.equal(await cache.wrap('page', load, 10_000), 'loaded');
  assert.equal(calls, 1);
  // A ttl of 50 ms expires in the store: the next wrap loads again.
  assert.equal(await cache.wrap('short', load, 50), 'loaded');
  await sleep(120);
  assert.equal(await store.client.has('cm:short'), false);
  assert.equal(await cache.wrap('short', load, 50), 'loaded');
  assert.equal(calls, 3);
});

test('cacheable 2 with KeyvShmkv as primary: set, get, delete, ttl, two processes', { timeout: 60_000 }, async (t) => {
  const { s, region } = await server(t);
  const store = new KeyvShmkv({ path: region });
  const cache = new Cacheable({ primary: new Keyv({ store, namespace: 'peers' }) });
  t.after(() => cache.disconnect());

  await cache.set('k', 'v', '1s');
  assert.equal(await cache.get('k'), 'v');
  assert.equal(await cache.has('k'), true);
  assert.equal(await cache.delete('k'), true);
  assert.equal(await cache.get('k'), undefined);
  await cache.set('short', 'v', 50);
  await sleep(120);
  assert.equal(await cache.get('short'), undefined);
  assert.equal(await store.client.has('peers:short'), false);

  // Another process, its own Cacheable on the same region: each sees the
  // other's writes, and its delete.
  const peer = s.run(process.execPath, [PEER, region], { timeoutMs: 30_000 });
  const deadline = Date.now() + 15_000;
  let fromChild: unknown;
  while ((fromChild = await cache.get('from-child')) === undefined && Date.now() < deadline) await sleep(20);
  assert.ok(fromChild !== undefined, 'the child wrote nothing visible');
  assert.deepEqual(Object.keys(fromChild as object).sort(), ['at', 'pid']);
  await cache.set('from-parent', { hello: 'child' });
  const r = await peer;
  assert.equal(r.code, 0, r.stderr);
  assert.deepEqual(JSON.parse(r.stdout), { hello: 'child' });
  assert.equal(await cache.get('from-child'), undefined);
});
