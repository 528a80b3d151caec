/**
 * Client.keysWithPrefix (src/store/table-scan.ts) against a real server
 * whose threads keep writing while the scans run: every scan lists exactly
 * the keys that stayed put, and never a key that was not written (a torn
 * snapshot would show as garbage or a missing stable key).
 */
import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import { connect } from '../src/index';
import { Scope } from './support/procs';

test('keysWithPrefix lists exactly the stable keys while writers churn', { timeout: 120_000 }, async (t) => {
  const s = new Scope(t, 'shmkv-scan-');
  const region = s.p('region');
  // Few buckets: segments grow (and their indexes move) during the run.
  await s.startServer(['-n', '2', '-s', '16', '-p', region, '--data-dir', s.dir]);
  const kv = connect({ path: region, window: 32 });
  t.after(() => kv.close());

  const stable = new Set<string>();
  for (let i = 0; i < 3000; i++) stable.add(`stable:${i}:${'é'.repeat(i % 5)}`);
  await kv.setMany([...stable].map((k) => [k, 1] as const));
  await kv.set(Buffer.from('stable:bytes'), 1); // a byte key: never listed
  await kv.set(5, 5);

  let stop = false;
  const churned = new Set<string>();
  const churn = (async () => {
    for (let round = 0; !stop; round++) {
      const batch: Promise<unknown>[] = [];
      for (let i = 0; i < 64; i++) {
        const k = `churn:${(round * 64 + i) % 5000}`;
        churned.add(k);
        batch.push(i % 3 === 0 ? kv.delete(k) : kv.set(k, 'x'.repeat(i)));
      }
      await Promise.all(batch);
    }
  })();

  const expectAll = new Set([...stable]);
  for (let scan = 0; scan < 40; scan++) {
    const got = kv.keysWithPrefix('stable:');
    assert.equal(got.length, stable.size);
    assert.deepEqual(new Set(got), expectAll);
    for (const k of kv.keysWithPrefix('')) assert.ok(stable.has(k) || churned.has(k), `unexpected key ${JSON.stringify(k)}`);
    await new Promise((r) => setImmediate(r)); // let the churn's promises settle and send more
  }
  stop = true;
  await churn;
  assert.deepEqual(kv.keysWithPrefix('nothing-here:'), []);
});
