/**
 * A paused server (SIGSTOP: a long GC, a stalled VM) costs its clients a
 * wait, not their connection (issue 24 item 6; connection.ts, RIDING
 * THROUGH): 3 s and 10 s pauses under library clients and a CLI replay,
 * requests given up on that must never run after SIGCONT, writes a server
 * took and never answered, windows counted while the clients live.
 */
import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import { Worker } from 'node:worker_threads';
import { connect, Client, internals } from '../../src/client/client';
import { Region } from '../../src/layout/region';
import { Owners } from '../../src/transport/owners';
import { OutcomeUnknownError, ServerGoneError } from '../../src/errors';
import { fmtExit, pollUntil, sleep, WAIT_MS, LONG_MS } from '../fixtures/faults/harness';
import type { RideFigures, RideOptions } from '../fixtures/faults/ride-client';
import { figures, owned, pause, scoped, serverArgs, sigterm } from '../support/ride';

for (const seconds of [3, 10]) {
  test(`a server paused by SIGSTOP for ${seconds} s: every client carries on after SIGCONT, no write that threw ServerGoneError was applied, no window leaked`, { timeout: 300_000 }, async (t) => {
    const scope = scoped(t);
    const region = scope.file('region');
    // 256 MiB (in /dev/shm: the server is SIGTERMed, which removes it) and
    // paced riders: nothing is evicted (an evicted key would read as a lost
    // write, here and in the CLI's check).
    const server = await scope.startServer(region, ['-n', '2', '-m', '256', '-c', '2048']);
    const base: Omit<RideOptions, 'tag'> = { path: region, durable: true, paceMs: 2 };
    const riders = [
      scope.fixture('ride-client', [JSON.stringify({ ...base, tag: 'small', window: 8, burst: 8 })], 'ride client (window 8)'),
      // A wide pipeline: its windows, all in flight when the server stops,
      // are what leaked before (issue 24: two pauses filled the board).
      scope.fixture('ride-client', [JSON.stringify({ ...base, tag: 'wide', window: 600, burst: 600, burstEvery: 20 })], 'ride client (window 600)'),
    ];
    for (const r of riders) await r.waitFor(/^ready$/m, WAIT_MS);
    // The CLI replays through the pause; past reconnectMs it would give up,
    // so the 10 s pause gets a longer wait.
    const w = scope.file('w.txt');
    await scope.genworkload(['-n', '2000000', '-p', '50', '-k', '50000', '-t', '2', '-w', '8', '-o', w, '-e', scope.file('w.expected')]);
    const cli = scope.client(region, ['-n', '2', '-w', '8', '-i', w, '-c', '-e', scope.file('w.expected'), '--reconnect-ms', String(seconds * 1000 + 20_000)], 'CLI replay');
    assert.ok(await pollUntil(() => new Owners(Region.open(region)).ownedBy(cli.pid) === 16, WAIT_MS), `the CLI did not attach\n${cli.output()}`);
    const baseline = owned(region);
    // Each client: its window, the sync window and the shared structures' window.
    assert.equal(baseline, 10 + 602 + 16, 'windows owned before the pause');

    await pause(server);
    const pausedAt = Date.now();
    await sleep(seconds * 1000);
    process.kill(server.pid, 'SIGCONT');
    t.diagnostic(`paused ${Date.now() - pausedAt} ms`);

    // Every client goes on: the riders finish a round after "stop"; the
    // CLI finishes its replay, exact.
    for (const r of riders) r.child.stdin!.write('stop\n');
    const cx = await cli.wait(LONG_MS);
    assert.equal(cx.code, 0, `CLI replay across the pause (${fmtExit(cx)})\n${cli.output()}`);
    assert.match(cli.stderr, /all \d+ get results match/, cli.output());
    for (const r of riders) await r.until(() => /^\{.*\}$/m.test(r.stdout), LONG_MS, 'its figures');
    for (const r of riders) {
      const f = figures<RideFigures>(r);
      t.diagnostic(`${r.label}: ${f.rounds} rounds, ${f.ok} ok, ${f.gone} ServerGoneError, ${f.unknown} OutcomeUnknownError, ${f.readErrors}/${f.reads} read errors, slow rounds ${JSON.stringify(f.slowRounds)}`);
      assert.deepEqual(f.appliedGone, [], `${r.label}: writes that threw ServerGoneError were applied`);
      assert.deepEqual(f.missingOk, [], `${r.label}: acknowledged writes are missing`);
      assert.equal(f.readErrors, 0, `${r.label}: reads failed during the pause`);
      // Past reconnectMs (5 s) some writes give up; within it none does.
      if (seconds === 3) assert.equal(f.gone + f.unknown, 0, `${r.label}: writes failed during a pause shorter than reconnectMs`);
      else assert.ok(f.gone + f.unknown > 0, `${r.label}: no write gave up during a pause longer than reconnectMs`);
    }
    // No window leaked while the riders live: the board holds exactly their
    // reservations again (windows they gave up on went to the reaper, which
    // freed them once the server ran; they got new ones in their place).
    const riderWindows = 10 + 602;
    assert.ok(await pollUntil(() => owned(region) === riderWindows, WAIT_MS), `${owned(region)} windows owned by two live clients that reserved ${riderWindows}`);
    for (const r of riders) r.child.stdin!.write('close\n');
    for (const r of riders) {
      const x = await r.wait(WAIT_MS);
      assert.equal(x.code, 0, `${r.label} (${fmtExit(x)})\n${r.output()}`);
      assert.match(r.stdout, /^closed 0$/m, `${r.label} still owns windows after close()\n${r.output()}`);
    }
    assert.ok(await pollUntil(() => owned(region) === 0, WAIT_MS), `${owned(region)} windows still owned after every client left`);
    await sigterm(server);
  });
}

test('requests given up on during a pause (sync and promise) never run after SIGCONT; a paused server costs a wait, not the connection', { timeout: 120_000 }, async (t) => {
  const scope = scoped(t);
  const region = scope.file('region');
  const server = await scope.startServer(region, serverArgs(scope));
  // One client per given-up sync request, one for the promises: no window
  // that held a given-up request is used again before the check (a later
  // request in the same window would overwrite it and hide a request that
  // was not really retracted).
  const open = (): Client => connect({ path: region, window: 8, reconnectMs: 300 });
  const [a, b, c, after] = [open(), open(), open(), open()];
  t.after(async () => {
    for (const k of [a, b, c, after]) await k.close().catch(() => undefined);
  });
  a.setSync('before', 1);
  await pause(server);
  // The server is stopped before these are sent: none can have been taken.
  const plainGone = (e: unknown): boolean => e instanceof ServerGoneError && !(e instanceof OutcomeUnknownError);
  assert.throws(() => a.setSync('retracted-sync', 1), plainGone);
  assert.throws(() => b.incrSync('retracted-incr', 1), plainGone);
  const results = await Promise.allSettled([c.set('retracted-p1', 1), c.set('retracted-p2', 'x'.repeat(5000)), c.delete('before'), c.incr('retracted-incr2', 1)]);
  for (const r of results) {
    assert.equal(r.status, 'rejected');
    const e = (r as PromiseRejectedResult).reason as Error;
    assert.ok(plainGone(e), `${e.name}: ${e.message}`);
  }
  // Reads go on from the table meanwhile.
  assert.equal(after.getSync('before'), 1);
  assert.equal(await after.get('before'), 1);
  process.kill(server.pid, 'SIGCONT');
  // The ring still names the given-up windows; a write sent after them is
  // taken after them (the ring is FIFO), so once it is answered the server
  // has met them all.
  assert.equal(after.setSync('after', 1), true);
  assert.equal(await after.set('after-p', 2), true);
  for (const key of ['retracted-sync', 'retracted-incr', 'retracted-p1', 'retracted-p2', 'retracted-incr2']) assert.equal(after.getSync(key), undefined, `${key} was applied after it was given up on`);
  assert.equal(after.getSync('before'), 1, 'a delete given up on ran');
  // The clients that gave up carry on.
  for (const k of [a, b, c]) {
    assert.equal(k.setSync('later', 1), true);
    assert.equal(await k.incr('later-n', 1) > 0, true);
  }
  for (const k of [a, b, c, after]) await k.close();
  assert.ok(await pollUntil(() => owned(region) === 0, WAIT_MS), `${owned(region)} windows still owned after close`);
  await sigterm(server);
});

test('writes a server took and then stopped answering (sync and promise): OutcomeUnknownError, idempotent reads do not say so; the windows go to the reaper and the client carries on with fresh ones', { timeout: 120_000 }, async (t) => {
  const scope = scoped(t);
  const region = scope.file('region');
  const server = await scope.startServer(region, serverArgs(scope));
  const kv = connect({ path: region, window: 2, reconnectMs: 300 });
  t.after(() => kv.close().catch(() => undefined));
  kv.setSync('x', 1);
  // Both pipeline windows get staging blocks now: a byte request sent
  // later needs no Reserve first (a Reserve taken and never answered means
  // the request itself was never sent: a plain ServerGoneError).
  await Promise.all([kv.set('w1', 'v'), kv.set('w2', 'v')]);
  // Two pipeline windows, the sync window, the shared structures' window.
  assert.equal(owned(region), 4);
  await pause(server);
  // A thread of this process plays the server worker that took each
  // request this client sends, and then never answers: it moves every
  // SUBMITTED window of ours to TAKEN (the paused server cannot).
  const stop = new Int32Array(new SharedArrayBuffer(4));
  const taken = new Int32Array(new SharedArrayBuffer(4));
  const taker = new Worker(
    `const { workerData: d } = require('node:worker_threads');
     const { Region } = require(${JSON.stringify(require.resolve('../../src/layout/region'))});
     const { Board } = require(${JSON.stringify(require.resolve('../../src/transport/window'))});
     const { Owners } = require(${JSON.stringify(require.resolve('../../src/transport/owners'))});
     const r = Region.open(d.region); const b = new Board(r); const o = new Owners(r);
     while (Atomics.load(d.stop, 0) === 0) {
       for (let w = 0; w < o.windowCount; w++) if (o.ownerOf(w) === d.pid && b.claim(w)) Atomics.add(d.taken, 0, 1);
       Atomics.wait(d.stop, 0, 0, 1);
     }`,
    { eval: true, workerData: { region, pid: process.pid, stop, taken } },
  );
  t.after(() => {
    Atomics.store(stop, 0, 1);
    return taker.terminate().then(() => undefined);
  });
  assert.throws(() => kv.incrSync('sync-n', 1), OutcomeUnknownError);
  assert.throws(() => kv.setSync(11, 1), OutcomeUnknownError);
  // Both in flight before the client knows: taken, never answered.
  for (const r of await Promise.allSettled([kv.set('p', 1), kv.incr(7, 1)])) {
    assert.equal(r.status, 'rejected');
    assert.ok((r as PromiseRejectedResult).reason instanceof OutcomeUnknownError, String((r as PromiseRejectedResult).reason));
  }
  // Sent once the client knows the server does not serve: held, never sent.
  await assert.rejects(kv.incr(8, 1), (e: Error) => e instanceof ServerGoneError && !(e instanceof OutcomeUnknownError));
  // A read taken and never answered applied nothing: a plain ServerGoneError.
  assert.throws(() => internals(kv).requestSync((req) => req.read('x')), (e: Error) => e instanceof ServerGoneError && !(e instanceof OutcomeUnknownError));
  Atomics.store(stop, 0, 1);
  await taker.terminate();
  assert.ok(taken[0] >= 5, `the taker took ${taken[0]} requests`);
  process.kill(server.pid, 'SIGCONT');
  // The client goes on, in fresh windows.
  assert.equal(kv.setSync('y', 2), true);
  assert.equal(await kv.set('z', 3), true);
  assert.deepEqual([kv.getSync('y'), kv.getSync('z'), kv.getSync('sync-n'), kv.getSync('p'), kv.getSync(11), kv.getSync(7), kv.getSync(8)], [2, 3, undefined, undefined, undefined, undefined, undefined]);
  // The taken windows went to the reaper (never answered: it frees them
  // once the ring has moved past them and no worker holds a request), so
  // the board holds exactly this client's 4 again.
  assert.ok(await pollUntil(() => owned(region) === 4, WAIT_MS), `${owned(region)} windows owned; the client reserved 4`);
  await kv.close();
  assert.ok(await pollUntil(() => owned(region) === 0, WAIT_MS), `${owned(region)} windows still owned after close`);
  await sigterm(server);
});

test('connect() to a paused server succeeds and its first write waits for SIGCONT', { timeout: 60_000 }, async (t) => {
  const scope = scoped(t);
  const region = scope.file('region');
  const server = await scope.startServer(region, serverArgs(scope));
  await pause(server);
  const kv = connect({ path: region });
  t.after(() => kv.close().catch(() => undefined));
  const p = kv.set('k', 1);
  await sleep(2000); // past the heartbeat timeout: the server looks gone
  process.kill(server.pid, 'SIGCONT');
  assert.equal(await p, true);
  assert.equal(kv.getSync('k'), 1);
  await kv.close();
  await sigterm(server);
});
