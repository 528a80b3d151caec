/**
 * KeyvShmkv's own promises, against a real server: one process's calls on
 * a key take effect in the order it made them, as Keyv's suite (and any
 * Keyv user) assumes of a store, even when it does not await them; and how
 * Keyv 5's and Keyv 6's namespaces share the table (README, "Use it with").
 */
import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import { Keyv as Keyv5 } from 'keyv';
import { connect } from '../../src/index';
import { KeyvShmkv } from '../../src/adapters/keyv';
import { HasAfter, Scope } from '../support/procs';

async function server(t: HasAfter): Promise<string> {
  const s = new Scope(t, 'shmkv-keyv-order-');
  const region = s.p('region');
  // Two server threads: requests in flight together may run in either order.
  await s.startServer(['-n', '2', '-s', '1024', '-p', region, '--data-dir', s.dir]);
  return region;
}


test('calls on one key take effect in call order, awaited or not (the Keyv suite deletes without awaiting, then sets)', { timeout: 120_000 }, async (t) => {
  const region = await server(t);
  const client = connect({ path: region, window: 32 });
  t.after(() => client.close());
  // Adapters sharing one client, as the suite's store() makes them.
  const a = new KeyvShmkv({ client });
  const b = new KeyvShmkv({ client });
  let reordered = 0;
  const rounds = 400;
  for (let i = 0; i < rounds; i++) {
    // Un-awaited deletes in flight, then a set: the set must land last.
    for (let d = 0; d < 8; d++) void (d % 2 === 0 ? a : b).delete('k');
    await a.set('k', `v${i}`);
    if ((await b.get('k')) !== `v${i}`) reordered++;
    // A read issued after an un-awaited write sees it.
    void b.set('r', i);
    if ((await a.get('r')) !== i) reordered++;
    // clear() after un-awaited writes removes them.
    void a.set('c', i);
    await b.clear();
    if ((await a.get('c')) !== undefined) reordered++;
  }
  assert.equal(reordered, 0, `${reordered} of ${rounds * 3} checks saw calls applied out of call order`);
});

/** Keyv 6's engines: node >= 22.19.0. */
const [major, minor] = process.versions.node.split('.').map(Number) as [number, number];
const KEYV6_RUNS = major > 22 || (major === 22 && minor >= 19);

/** Keys and values a Keyv iterator yields, sorted by key. */
async function listed(keyv: { iterator?: (ns?: string) => AsyncGenerator<[unknown, unknown]> | undefined }): Promise<[unknown, unknown][]> {
  const out: [unknown, unknown][] = [];
  for await (const [k, v] of keyv.iterator!(undefined) ?? []) out.push([k, v]);
  return out.sort((a, b) => String(a[0]).localeCompare(String(b[0])));
}

test("Keyv 5's namespace covers keys in Keyv 6's layout of the same namespace (users::z is under users:)", { timeout: 60_000 }, async (t) => {
  const region = await server(t);
  const client = connect({ path: region });
  t.after(() => client.close());
  const k5 = new Keyv5({ store: new KeyvShmkv({ client }), namespace: 'users' });
  await k5.set('x', 1);
  // How Keyv 6's bridge stores key 'z' of namespace 'users' (the next test does it with Keyv 6 itself).
  await client.set('users::z', JSON.stringify({ value: 2 }));
  assert.deepEqual(await listed(k5), [[':z', 2], ['x', 1]], "Keyv 5 lists Keyv 6's users::z as its own ':z'");
  await k5.clear();
  assert.equal(await client.get('users::z'), undefined, "Keyv 5's clear() deletes it");
});

test('Keyv 5 and Keyv 6 on one namespace, for real', { timeout: 60_000, skip: KEYV6_RUNS ? false : `Keyv 6 needs Node >= 22.19 (this is ${process.version})` }, async (t) => {
  const region = await server(t);
  const client = connect({ path: region });
  t.after(() => client.close());
  // eslint-disable-next-line @typescript-eslint/no-var-requires
  const { Keyv: Keyv6 } = require('keyv6') as { Keyv: typeof Keyv5 };
  const k5 = new Keyv5({ store: new KeyvShmkv({ client }), namespace: 'users' });
  const k6 = new Keyv6({ store: new KeyvShmkv({ client }), namespace: 'users' });
  await k5.set('x', 1);
  await k6.set('z', 2);
  assert.deepEqual(client.keysWithPrefix('users').sort(), ['users::z', 'users:x'], 'Keyv 5 writes users:x, Keyv 6 users::z');
  assert.deepEqual(await listed(k6), [['z', 2]], "Keyv 6's iterator stays in its own keys");
  assert.deepEqual(await listed(k5), [[':z', 2], ['x', 1]], "Keyv 5's lists Keyv 6's too");
  await k6.clear();
  assert.equal(await k5.get('x'), 1, "Keyv 6's clear() leaves Keyv 5's keys");
  assert.equal(await k6.get('z'), undefined);
  await k6.set('z', 2);
  await k5.clear();
  assert.equal(await k6.get('z'), undefined, "Keyv 5's clear() deletes Keyv 6's keys of the same namespace");
  // Different namespaces, neither a prefix of the other: apart.
  const other6 = new Keyv6({ store: new KeyvShmkv({ client }), namespace: 'users6' });
  await k5.set('x', 1);
  await other6.set('z', 3);
  await k5.clear();
  assert.equal(await other6.get('z'), 3);
  await other6.clear();
  assert.equal(await client.get('users:x'), undefined, "Keyv 5's clear() took its own");
  assert.deepEqual(client.keysWithPrefix('users'), []);
});
