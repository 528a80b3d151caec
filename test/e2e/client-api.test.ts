/**
 * The public client API (src/client/client.ts) against real servers: the
 * sync, promise, batch and counter forms, argument checking, lifecycle, the
 * event loop staying free while requests wait, and several processes using
 * the API at once against one server.
 */
import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { connect, ServerGoneError, TableFullError } from '../../src/index';
import { Connection } from '../../src/client/connection';
import { Scope, sleep, waitUntil } from '../support/procs';

const API_CLIENT = path.join(__dirname, '..', 'fixtures', 'api', 'api-client.js');

/**
 * SIGSTOP `pid` and wait until every one of its threads is stopped (kill()
 * only queues the signal; each thread stops when it is next scheduled, which
 * on a loaded machine can take a while).
 */
async function stopProcess(pid: number): Promise<void> {
  process.kill(pid, 'SIGSTOP');
  const stopped = (): boolean =>
    fs.readdirSync(`/proc/${pid}/task`).every((tid) => {
      let stat: string;
      try {
        stat = fs.readFileSync(`/proc/${pid}/task/${tid}/stat`, 'utf8');
      } catch {
        return true; // a thread that exited meanwhile runs nothing
      }
      return stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3) === 'T';
    });
  await waitUntil(`every thread of process ${pid} to be stopped by SIGSTOP`, stopped, 30_000, 5);
}

test('sync, promise, batch and counter forms agree with a model', { timeout: 600_000 }, async (t) => {
  const s = new Scope(t, 'shmkv-api-');
  const region = s.p('region');
  await s.startServer(['-n', '2', '-s', '1', '-p', region]);
  const kv = connect({ path: region, window: 4 });
  t.after(() => kv.close());

  assert.equal(kv.getSync(0), undefined);
  assert.equal(await kv.get(4294967295), undefined);
  kv.putSync(0, 4294967295);
  await kv.put(4294967295, 0);
  assert.equal(kv.getSync(0), 4294967295);
  assert.equal(await kv.get(4294967295), 0);

  const model = new Map<number, number>();
  const entries: Array<[number, number]> = [];
  for (let i = 0; i < 5000; i++) {
    const k = (i * 2654435761) >>> 0;
    const v = (i * 40503) >>> 0;
    entries.push([k, v]);
    model.set(k, v);
  }
  await kv.putMany(entries);
  const keys = [...model.keys(), 12345]; // 12345 is absent
  const got = await kv.getMany(keys);
  assert.deepEqual(got, [...model.values(), undefined]);

  // Counters: wrap modulo 2^32, absent counts as 0.
  assert.equal(kv.incrSync(99), 1);
  assert.equal(await kv.incr(99, 41), 42);
  kv.putSync(100, 4294967295);
  assert.equal(kv.incrSync(100, 2), 1);
  // Many concurrent increments through the window land exactly.
  await Promise.all(Array.from({ length: 1000 }, () => kv.incr(101)));
  assert.equal(kv.getSync(101), 1000);
});

test('bad arguments throw RangeError or TypeError (promise methods reject with them); a closed client throws; close releases windows', { timeout: 600_000 }, async (t) => {
  const s = new Scope(t, 'shmkv-api-');
  const region = s.p('region');
  await s.startServer(['-n', '1', '-s', '16', '-p', region, '-c', '64']);
  const probe = Connection.open({ path: region });
  const kv = connect({ path: region, window: 31 });
  assert.equal(probe.owners.ownedCount(), 33, 'window + the sync window + the shared-structures window reserved');

  for (const bad of [-1, 4294967296, 1.5, NaN, Infinity]) {
    assert.throws(() => kv.getSync(bad), RangeError);
    await assert.rejects(kv.get(bad), RangeError);
    await assert.rejects(kv.put(bad, 1), RangeError);
    assert.throws(() => kv.incrSync(1, bad), RangeError);
    assert.throws(() => kv.incrSync(bad, 1), RangeError);
  }
  for (const bad of [undefined, () => 1, Symbol('s')]) {
    assert.throws(() => kv.putSync(1, bad), TypeError);
    await assert.rejects(kv.put('k', bad), TypeError);
  }
  for (const bad of [{}, null, true, [1], 10n]) {
    assert.throws(() => kv.getSync(bad as unknown as string), TypeError);
    assert.throws(() => kv.putSync(bad as unknown as string, 1), TypeError);
  }
  assert.equal(kv.getSync(1), undefined, 'nothing was stored by the refused calls');
  assert.equal(kv.getSync('k'), undefined);
  assert.throws(() => connect({ path: region, window: 0 }), RangeError);

  const inFlight = kv.getMany([1, 2, 3]);
  await kv.close();
  assert.deepEqual(await inFlight, [undefined, undefined, undefined], 'close waits for outstanding requests');
  assert.equal(probe.owners.ownedCount(), 0, 'close released every window');
  assert.throws(() => kv.getSync(1), /closed/);
  await assert.rejects(kv.put(1, 1), /closed/);

  // Two clients that each need more than half the board fit one after another.
  for (let i = 0; i < 3; i++) {
    const c = connect({ path: region, window: 40 });
    await c.put(i, i);
    await c.close();
  }
  assert.equal(probe.owners.ownedCount(), 0);
});

test('the event loop runs while requests wait, and they complete when the server resumes', { timeout: 600_000 }, async (t) => {
  const s = new Scope(t, 'shmkv-api-');
  const region = s.p('region');
  const srv = await s.startServer(['-n', '1', '-s', '16', '-p', region]);
  const kv = connect({ path: region, window: 8 });
  t.after(() => kv.close());
  await kv.put(5, 55);
  await stopProcess(srv.pid);
  // Reads need no server thread: answered from the shared table at once.
  assert.deepEqual(await kv.getMany([5, 6]), [55, undefined]);
  let answered = false;
  const pending = kv.putMany([[6, 66], [7, 77], [8, 'eighty-eight']]).then((v) => {
    answered = true;
    return v;
  });
  // Timers fire while the server cannot answer: nothing blocks or spins the
  // loop. Wait for the ticks rather than for a fixed time: a loaded machine
  // may not run this process for a while, and the server's stop must stay
  // well under the client's 1.5 s heartbeat timeout.
  let ticks = 0;
  const timer = setInterval(() => ticks++, 10);
  try {
    await waitUntil('5 timer ticks while requests are pending', () => ticks >= 5, 30_000, 5);
  } finally {
    clearInterval(timer);
  }
  assert.equal(answered, false, 'a stopped server cannot have answered');
  assert.ok(ticks >= 5, `the event loop ran ${ticks} timer ticks while requests were pending`);
  assert.equal(kv.getSync(6), undefined, 'a stopped server has applied nothing');
  srv.child.kill('SIGCONT');
  await pending;
  assert.deepEqual(await kv.getMany([6, 7, 8]), [66, 77, 'eighty-eight']);
});

test('reconnect: false: a dying server rejects pending promises and fails sync calls with ServerGoneError', { timeout: 600_000 }, async (t) => {
  const s = new Scope(t, 'shmkv-api-');
  const region = s.p('region');
  const srv = await s.startServer(['-n', '1', '-s', '16', '-p', region]);
  const kv = connect({ path: region, window: 8, reconnect: false });
  await stopProcess(srv.pid);
  const pending = kv.set(1, 1);
  await sleep(50);
  srv.child.kill('SIGKILL');
  const started = Date.now();
  await assert.rejects(pending, ServerGoneError);
  t.diagnostic(`rejected ${Date.now() - started} ms after the kill`);
  assert.ok(Date.now() - started < 2000, 'noticed within 2 s');
  assert.throws(() => kv.getSync(1), ServerGoneError);
  await kv.close();

  const again = connect.bind(null, { path: region });
  assert.throws(again, /died|stale/);
});

test('a table at its memory cap rejects puts with TableFullError and keeps serving', { timeout: 600_000 }, async (t) => {
  const s = new Scope(t, 'shmkv-api-');
  const region = s.p('region');
  await s.startServer(['-n', '1', '-s', '64', '-m', '1', '--eviction', 'none', '-p', region]);
  const kv = connect({ path: region, window: 16 });
  t.after(() => kv.close());
  let refused = 0;
  let stored = 0;
  let lastStored = -1;
  for (let k = 0; k < 400_000 && refused === 0; k += 1000) {
    const batch = Array.from({ length: 1000 }, (_, i) => [k + i, k + i] as const);
    const results = await Promise.allSettled(batch.map(([key, v]) => kv.put(key, v)));
    for (const [j, r] of results.entries()) {
      if (r.status === 'fulfilled') {
        stored++;
        lastStored = batch[j][0];
      } else {
        assert.ok(r.reason instanceof TableFullError, String(r.reason));
        refused++;
      }
    }
  }
  assert.ok(refused > 0, 'a 1 MiB table refused some of 400k keys');
  // Segments fill unevenly: some fresh key must be refused synchronously too.
  let syncRefused = 0;
  for (let k = 1_000_000_000; k < 1_000_010_000 && syncRefused === 0; k++) {
    try {
      kv.putSync(k, 1);
    } catch (e) {
      assert.ok(e instanceof TableFullError, String(e));
      syncRefused++;
    }
  }
  assert.equal(syncRefused, 1, 'putSync refuses a new key at the cap');
  // A batch with refused puts rejects once, with TableFullError, and its other requests still run.
  const fresh = Array.from({ length: 5000 }, (_, i) => [2_000_000_000 + i, 3] as const);
  await assert.rejects(kv.putMany(fresh), TableFullError);
  await waitUntil('the rest of the rejected batch to run to completion (kv.pending === 0)', () => kv.pending === 0, 30_000, 10);
  assert.equal(kv.pending, 0, 'the rest of the rejected batch still ran to completion');
  const after = await kv.getMany(fresh.map(([k]) => k));
  assert.ok(after.every((v) => v === undefined || v === 3), 'each batch put either applied or was refused');
  assert.equal(kv.getSync(0), 0);
  // Refusals land in whichever segments are full, so read back a key known stored.
  assert.ok(stored > 0);
  assert.equal(await kv.get(lastStored), lastStored);
  kv.putSync(0, 7); // updating an existing key needs no room
  assert.equal(kv.getSync(0), 7);
});

test('several processes use the API at once against one server', { timeout: 1_200_000 }, async (t) => {
  const s = new Scope(t, 'shmkv-api-');
  const region = s.p('region');
  await s.startServer(['-n', '2', '-s', '8', '-p', region]);
  const procs = 4;
  const count = 3000;
  const runs = Array.from({ length: procs }, (_, id) => s.run(process.execPath, [API_CLIENT, region, String(id + 1), String(count)], { timeoutMs: 900_000 }));
  const results = await Promise.all(runs);
  for (const r of results) {
    assert.equal(r.code, 0, r.stderr);
    const summary = JSON.parse(r.stdout) as { bad: number; syncBad: number };
    assert.equal(summary.bad, 0);
    assert.equal(summary.syncBad, 0);
  }
  const kv = connect({ path: region });
  assert.equal(kv.getSync(7), procs * count, 'every increment from every process counted once');
  await kv.close();
});

test('the cluster example shares counters across processes', { timeout: 1_200_000 }, async (t) => {
  const s = new Scope(t, 'shmkv-api-');
  const r = await s.run(process.execPath, [path.join(__dirname, '..', '..', 'examples', 'cluster-counters.js'), '3', '2000'], { timeoutMs: 900_000 });
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /total = 6000 \(expected 6000\); per worker = 2000, 2000, 2000/);
});

test('the put-get example runs against a server', { timeout: 600_000 }, async (t) => {
  const s = new Scope(t, 'shmkv-api-');
  const region = s.p('region');
  await s.startServer(['-n', '1', '-s', '16', '-p', region]);
  const r = await s.run(process.execPath, [path.join(__dirname, '..', '..', 'examples', 'put-get.js')], { env: { SHMKV_PATH: region } });
  assert.equal(r.code, 0, r.stderr);
  assert.equal(
    r.stdout,
    [
      "getSync('user:1') = Ada",
      "getSync('user:2') = undefined",
      "getSync('session:9') = { user: 1, since: 1970-01-01T00:00:00.000Z, roles: Set(1) { 'admin' } }",
      "getSync(1) = 100 getSync('1') = undefined",
      "get('greeting') = hello",
      "getMany = [ 1, 'two', [ 3 ], undefined ]",
      "delete('a') = true has('a') = false",
      'incr = 1 6',
      '',
    ].join('\n'),
  );
});

test('a promise call spins a bounded, short time for its answer: with the server stopped every call returns at once', { timeout: 60_000 }, async (t) => {
  const s = new Scope(t, 'shmkv-api-');
  const region = s.p('region');
  const srv = await s.startServer(['-n', '1', '-s', '16', '-p', region]);
  const kv = connect({ path: region, window: 256 });
  t.after(() => kv.close());
  await kv.set('warm', 1); // the notifier is running, staging is grown
  await stopProcess(srv.pid);
  // Each call sends its request, polls for the answer for at most the spin
  // budget (SPIN_MS = 20 us) and returns a promise. An unbounded spin would
  // never return here, since nobody can answer.
  const took: number[] = [];
  const pending: Promise<unknown>[] = [];
  for (let i = 0; i < 200; i++) {
    const t0 = performance.now();
    pending.push(kv.set(`k${i}`, i));
    took.push(performance.now() - t0);
  }
  took.sort((a, b) => a - b);
  const median = took[took.length >> 1];
  t.diagnostic(`call duration with the server stopped: median ${(median * 1000).toFixed(1)} us, max ${(took[took.length - 1] * 1000).toFixed(1)} us`);
  assert.ok(median < 1, `median call took ${median} ms`);
  srv.child.kill('SIGCONT');
  await Promise.all(pending);
  assert.equal(kv.getSync('k199'), 199);
});
