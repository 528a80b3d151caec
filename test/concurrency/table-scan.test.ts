/**
 * Client.keysWithPrefix (src/store/table-scan.ts) against a real server
 * whose threads keep writing while the scans run: every scan lists exactly
 * the keys that stayed put, and never a key that was not written (a torn
 * snapshot would show as garbage or a missing stable key).
 */
import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { Worker } from 'node:worker_threads';
import { mapFile } from '../../src/native/shim';
import { connect } from '../../src/index';
import { scanStringKeys } from '../../src/store/table-scan';
import { Seqlock } from '../../src/store/seqlock';
import { C_DIRECTORY, SEG_INDEX, SEG_VERSION } from '../../src/layout/chunk-directory';
import { META_BYTES } from '../../src/layout/data-meta';
import { ValueTag } from '../../src/layout/keys-values';
import { memTable } from '../support/table';
import { Scope, waitUntil } from '../support/procs';
import { ScanContendedError, TableCorruptError } from '../../src/errors';

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

// ---- Waiting out a writer (a segment's version odd): bounded by time ----

function scanTable(): { sab: SharedArrayBuffer; versionAt: number; seqlock: Seqlock } {
  const { t, enc, parts, r } = memTable(8 << 20, { initialBuckets: 64, segmentBits: 0, seed: 3 });
  for (const k of ['p:a', 'p:b', 'q:c']) {
    enc.encode(k);
    t.set(enc.bytes, 0, enc.length, enc.bytes, 0, 1, ValueTag.String);
  }
  return { sab: parts.chunks[0].sab, versionAt: (C_DIRECTORY + SEG_VERSION) >>> 2, seqlock: r.seqlock };
}

test('scanStringKeys waits out a writer held inside its odd period (another thread ends it 150 ms later)', { timeout: 60_000 }, async () => {
  const { sab, versionAt, seqlock } = scanTable();
  const i32 = new Int32Array(sab);
  const even = Atomics.load(i32, versionAt);
  Atomics.store(i32, versionAt, even + 1);
  // A thread that ends the "write" later: the scan blocks this thread meanwhile.
  const ready = new Int32Array(new SharedArrayBuffer(4));
  const w = new Worker(
    `const { workerData: d } = require('node:worker_threads');
     const i32 = new Int32Array(d.sab); const ready = new Int32Array(d.ready);
     Atomics.store(ready, 0, 1); Atomics.notify(ready, 0);
     Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 150);
     Atomics.store(i32, d.at, d.even + 2);`,
    { eval: true, workerData: { sab, ready: ready.buffer, at: versionAt, even } },
  );
  try {
    Atomics.wait(ready, 0, 0, 30_000);
    assert.equal(Atomics.load(ready, 0), 1, 'the worker started');
    assert.deepEqual(scanStringKeys(seqlock, 'p:').sort(), ['p:a', 'p:b']);
  } finally {
    await w.terminate();
  }
});

test('scanStringKeys gives up with ScanContendedError once a segment stayed odd for its patience; garbage gives TableCorruptError', { timeout: 60_000 }, () => {
  const { sab, versionAt, seqlock } = scanTable();
  const i32 = new Int32Array(sab);
  const even = Atomics.load(i32, versionAt);
  Atomics.store(i32, versionAt, even + 1);
  const start = Date.now();
  assert.throws(() => scanStringKeys(seqlock, 'p:', 200), (e: Error) => e instanceof ScanContendedError && /segment 0 kept changing/.test(e.message));
  assert.ok(Date.now() - start >= 200, 'it waited its patience first');
  Atomics.store(i32, versionAt, even);
  // An index word outside the heap, stable: corrupt, not contended.
  const u32 = new Uint32Array(sab);
  u32[(C_DIRECTORY + SEG_INDEX) >>> 2] = 64 + 4;
  assert.throws(() => scanStringKeys(seqlock, 'p:'), TableCorruptError);
});

test('a forged odd version is put back by the server within a tick: keys() and direct reads carry on (it used to fail them for good)', { timeout: 120_000 }, async (t) => {
  const s = new Scope(t, 'shmkv-keys-odd-');
  const region = s.p('region');
  await s.startServer(['-n', '1', '-s', '64', '-p', region, '--data-dir', s.dir]);
  const kv = connect({ path: region });
  t.after(() => kv.close());
  await kv.set('a', 1);
  const file = fs.readdirSync(s.dir).find((f) => f.endsWith('.data'));
  assert.ok(file, 'the data file is in --data-dir');
  const size = fs.statSync(path.join(s.dir, file)).size;
  // A process of the same user opens the data file and writes into it (clients map it read-only).
  const chunk0 = new Int32Array(mapFile(path.join(s.dir, file), META_BYTES, size - META_BYTES, 0));
  const at = (C_DIRECTORY + SEG_VERSION) >>> 2;
  const even = Atomics.load(chunk0, at);
  Atomics.store(chunk0, at, even + 1); // segment 0 left "inside a write"
  const start = Date.now();
  const keys: unknown[] = [];
  for await (const k of kv.keys()) keys.push(k);
  assert.deepEqual(keys, ['a']);
  assert.ok(Date.now() - start < 4000, `keys() finished once the server put the version back (${Date.now() - start} ms)`);
  await waitUntil('the server put the version back', () => Atomics.load(chunk0, at) === even);
  assert.equal(kv.getSync('a'), 1);
});
