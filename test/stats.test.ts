/**
 * stats() against a real server: each counter moves by exactly what was
 * done; an idle client costs no table memory; and the staging blocks a
 * departed client grew for large values go back to the heap.
 */
import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import { connect } from '../src/index';
import { Scope, waitFor } from './support/procs';

test('stats: counters add up; an idle client costs no table memory; a departed client\'s staging is freed', { timeout: 90_000 }, async (t) => {
  const s = new Scope(t, 'shmkv-stats-');
  const region = s.p('region');
  await s.startServer(['-n', '2', '-p', region, '--eviction', 'none']);
  const kv = connect({ path: region });
  t.after(() => kv.close());
  const base = kv.stats();
  assert.equal(base.keys, 0);
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
  assert.equal(st.keys, 2);
  assert.equal(st.sets - base.sets, 4);
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
