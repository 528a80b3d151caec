/**
 * stats() against a real server: each counter moves by exactly what was
 * done; an idle client costs no table memory; and the staging blocks a
 * departed client grew for large values go back to the heap.
 */
import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import { connect } from '../../src/index';
import { Scope, waitFor } from '../support/procs';

test('stats: counters add up; an idle client costs no table memory; a departed client\'s staging is freed', { timeout: 90_000 }, async (t) => {
  const s = new Scope(t, 'shmkv-stats-');
  const region = s.p('region');
  await s.startServer(['-n', '2', '-p', region, '--eviction', 'none']);
  const kv = connect({ path: region });
  t.after(() => kv.close());
  const base = kv.stats();
  // Each worker warmed up on its own scratch table before READY (warmup.ts):
  // nothing of that reached the shared table or its counters.
  assert.equal(base.keys, 0);
  assert.equal(base.requests, 0);
  assert.equal(base.sets, 0);
  assert.equal(base.serverThreads, 2);
  assert.equal(base.clients, 1);
  assert.ok(base.bytesBudget >= 1 << 30, 'the default budget is 1 GiB');
  assert.ok(base.uptimeMs >= 0 && base.uptimeMs < 600_000);

  // An idle client with window 32: board windows only, no table memory.
  const idle = connect({ path: region, window: 32 });
  assert.equal(kv.stats().bytesUsed, base.bytesUsed, 'attaching costs no table memory');
  assert.equal(kv.stats().clients, 1, 'clients counts processes: both connections are this one');
  await idle.close();

  kv.setSync('a', 1);
  kv.setSync('b', 'two');
  await kv.set('c', { three: 3 });
  kv.setSync('a', 11);
  assert.equal(kv.deleteSync('b'), true);
  assert.equal(kv.deleteSync('b'), false);
  assert.equal(kv.getSync('a'), 11);
  assert.equal(kv.getSync('b'), undefined);
  assert.equal(kv.hasSync('c'), true);
  const st = kv.stats();
  assert.equal(st.keys, 3, "a, c and the table's shared record list (c is an object)");
  assert.equal(st.sets - base.sets, 5, "four writes, and the shared record list's creation");
  assert.equal(st.deletes - base.deletes, 1);
  assert.equal(st.hits - base.hits, 2);
  assert.equal(st.misses - base.misses, 1);
  assert.ok(st.requests - base.requests >= 6, 'every write was a request');
  assert.equal(st.evictions, 0);
  assert.ok(st.bytesUsed > base.bytesUsed);

  // A client grows staging for big values, deletes them and leaves: the
  // reaper gives its blocks back to the heap.
  const before = kv.stats().bytesUsed;
  const big = connect({ path: region, window: 8 });
  big.setSync('big1', 'x'.repeat(512 * 1024));
  await big.set('big2', Buffer.alloc(512 * 1024, 7));
  assert.equal(big.getSync('big1'), 'x'.repeat(512 * 1024));
  assert.ok(kv.stats().bytesUsed > before + 1024 * 1024, 'entries and staging in use');
  big.deleteSync('big1');
  await big.delete('big2');
  await big.close();
  assert.ok(await waitFor(() => kv.stats().bytesUsed === before, 30_000), `staging freed: ${kv.stats().bytesUsed} vs ${before} bytes`);

  // Expirations are counted once reclaimed.
  kv.setSync('short', 1, { ttl: 1 });
  assert.ok(await waitFor(() => kv.stats().expirations - base.expirations === 1, 30_000), 'the expiration was counted');
});

test('keys()/entries(): every key present for the whole scan is seen exactly once, while other processes write; clear()', { timeout: 90_000 }, async (t) => {
  const s = new Scope(t, 'shmkv-stats-');
  const region = s.p('region');
  await s.startServer(['-n', '2', '-s', '16', '-p', region]);
  const kv = connect({ path: region });
  t.after(() => kv.close());
  const stable = new Map<string | number, unknown>();
  for (let i = 0; i < 3000; i++) stable.set(`s${i}`, { i });
  for (let i = 0; i < 500; i++) stable.set(i, i * 2);
  await kv.setMany([...stable]);
  kv.setSync(Buffer.from('bytes-key'), 'b');
  kv.setSync('gone-soon', 1, { ttl: 1 });
  // Another process churns other keys (inserts grow segments, deletes shift them) during the scan.
  const churn = s.spawn(process.execPath, [
    '-e',
    `const { connect } = require(${JSON.stringify(require.resolve('../../src/index'))});
     const kv = connect({ path: process.argv[1] });
     (async () => { for (let r = 0; r < 40; r++) { await kv.setMany(Array.from({ length: 500 }, (_, i) => ['churn' + r + '-' + i, i])); for (let i = 0; i < 500; i += 2) await kv.delete('churn' + r + '-' + i); } await kv.close(); })();`,
    region,
  ], { timeoutMs: 80_000 });
  await new Promise((r) => setTimeout(r, 0));
  const seen = new Map<string, number>();
  let entries = 0;
  for await (const [key, value] of kv.entries()) {
    const id = typeof key === 'string' ? key : typeof key === 'number' ? `n${key}` : `b${Buffer.from(key as Uint8Array).toString()}`;
    seen.set(id, (seen.get(id) ?? 0) + 1);
    if (typeof key === 'string' && key.startsWith('s')) assert.deepEqual(value, stable.get(key));
    if (typeof key === 'number') assert.equal(value, key * 2);
    entries++;
  }
  for (const k of stable.keys()) assert.equal(seen.get(typeof k === 'number' ? `n${k}` : k), 1, `key ${k} seen once`);
  assert.equal(seen.get('bbytes-key'), 1, 'a Buffer key comes back as bytes');
  assert.equal(seen.get('gone-soon'), undefined, 'expired keys are not yielded');
  assert.ok(entries >= stable.size + 1);
  assert.equal((await churn.done).code, 0);
  const keys: unknown[] = [];
  for await (const k of kv.keys()) keys.push(k);
  // Quiescent now: every key is yielded, and size may still count the expired one.
  assert.ok(keys.length >= stable.size + 1 + 20 * 250 && keys.length <= kv.size, `${keys.length} keys, size ${kv.size}`);
  await kv.clear();
  assert.equal(kv.size, 0);
  assert.equal(kv.getSync('s1'), undefined);
  const none: unknown[] = [];
  for await (const k of kv.keys()) none.push(k);
  assert.deepEqual(none, []);
  kv.setSync('after', 1);
  assert.equal(kv.getSync('after'), 1, 'the table works after a clear');
});
