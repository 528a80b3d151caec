/**
 * Clients riding through restarts and pauses of their server (issue 20
 * part 3 and 4, issue 24 item 6; connection.ts, RIDING THROUGH): direct
 * reads across a SIGTERM restart, a client of each kind connected before a
 * restart, a server paused by SIGSTOP for 3 s and for 10 s, requests given
 * up on during a pause that must never run after it, and connect({ start:
 * true }) from 8 processes at once. Real server and client processes,
 * every wait bounded and on a condition.
 *
 * Servers keep their data files in the test's temp dir (a SIGKILLed server
 * cannot remove its own), with a small -m.
 */
import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import { Worker } from 'node:worker_threads';
import { Keyv } from 'keyv';
import { connect, Client } from '../../src/client/client';
import { KeyvShmkv } from '../../src/adapters/keyv';
import { Region } from '../../src/layout/region';
import { Owners } from '../../src/transport/owners';
import { OutcomeUnknownError, ServerError, ServerGoneError } from '../../src/errors';
import { fmtExit, lines, pidRunning, pollUntil, Proc, Scope, sleep, WAIT_MS, LONG_MS } from '../fixtures/faults/harness';
import type { RideFigures, RideOptions } from '../fixtures/faults/ride-client';
import type { StartClientOptions } from '../fixtures/faults/start-client';

function scoped(t: { after: (fn: () => Promise<void>) => void }): Scope {
  const scope = new Scope('shmkv-ride-');
  t.after(() => scope.cleanup());
  return scope;
}

/** A server on `region`, its data file in the scope's dir. */
function serverArgs(scope: Scope, extra: string[] = []): string[] {
  return ['-n', '2', '-m', '64', '--data-dir', scope.dir, ...extra];
}

/** The state letter of /proc/PID/stat ('T': stopped), '' when gone. */
function procState(pid: number): string {
  try {
    const s = fs.readFileSync(`/proc/${pid}/stat`, 'latin1');
    return s.charAt(s.lastIndexOf(')') + 2);
  } catch {
    return '';
  }
}

async function pause(server: Proc): Promise<void> {
  process.kill(server.pid, 'SIGSTOP');
  assert.ok(await pollUntil(() => procState(server.pid) === 'T', WAIT_MS), `the server did not stop (${procState(server.pid)})`);
}

async function sigterm(server: Proc): Promise<void> {
  server.kill('SIGTERM');
  const x = await server.wait(WAIT_MS);
  assert.equal(x.code, 0, `server exit after SIGTERM (${fmtExit(x)})\n${server.output()}`);
}

/** Windows owned on the board of the region now at `region` (every owner). */
function owned(region: string): number {
  return new Owners(Region.open(region)).ownedCount();
}

/** The last stdout line of a fixture, parsed. */
function figures<T>(p: Proc): T {
  const line = p.stdout.trim().split('\n').pop() ?? '';
  try {
    return JSON.parse(line) as T;
  } catch {
    throw new Error(`${p.label}: no figures\n${p.output()}`);
  }
}

test('a SIGTERM restart under a direct-read loop: 0 read errors; a write made while no server runs lands on the new one; reads switch to it', { timeout: 120_000 }, async (t) => {
  const scope = scoped(t);
  const region = scope.file('region');
  let server = await scope.startServer(region, serverArgs(scope));
  const kv = connect({ path: region, window: 8 });
  t.after(() => kv.close().catch(() => undefined));
  kv.setSync('k', 'v1');
  let reads = 0;
  let errors = 0;
  let lastError = '';
  let seenNew = false;
  let stop = false;
  const loop = (async () => {
    while (!stop) {
      try {
        const v = kv.getSync('k');
        reads++;
        if (v === 'v2') seenNew = true;
      } catch (e) {
        errors++;
        lastError = (e as Error).message;
      }
      if (reads % 512 === 0) await new Promise((r) => setImmediate(r));
    }
  })();
  await pollUntil(() => reads > 10_000, WAIT_MS);
  await sigterm(server);
  const during = reads;
  const pending = kv.set('written-between', 1);
  // The loop goes on answering from the table it has while no server runs.
  assert.ok(await pollUntil(() => reads > during + 10_000, WAIT_MS), 'reads stopped while no server ran');
  server = await scope.startServer(region, serverArgs(scope), 'second server');
  assert.equal(await pending, true);
  // The new server (a cold start today) holds what was written since.
  const other = connect({ path: region });
  other.setSync('k', 'v2');
  await other.close();
  assert.ok(await pollUntil(() => seenNew, WAIT_MS), 'the read loop never saw the new server\'s value');
  stop = true;
  await loop;
  t.diagnostic(`${reads} reads, ${errors} errors`);
  assert.equal(errors, 0, `read errors across the restart: ${errors} (last: ${lastError})`);
  assert.equal(kv.getSync('written-between'), 1);
  await kv.close();
  await sigterm(server);
});

test('a client of each kind connected before a restart works after it without reconnecting: sync, promise, fetch (holder and waiter), Keyv, the CLI replay', { timeout: 300_000 }, async (t) => {
  const scope = scoped(t);
  const region = scope.file('region');
  let server = await scope.startServer(region, serverArgs(scope));
  const sync = connect({ path: region, window: 1 });
  const prom = connect({ path: region, window: 16 });
  const holder = connect({ path: region });
  const waiter = connect({ path: region });
  const keyv = new Keyv({ store: new KeyvShmkv({ path: region }), namespace: 'ride' });
  const clients: Client[] = [sync, prom, holder, waiter];
  t.after(async () => {
    for (const c of clients) await c.close().catch(() => undefined);
  });
  sync.setSync('s', 1);
  await prom.setMany([['p1', 1], ['p2', 2]]);
  assert.equal(await keyv.set('kv', 'one'), true);

  // fetch: one loader holds the lease across the restart, another client waits on it.
  let release!: () => void;
  const loaderGate = new Promise<void>((r) => (release = r));
  let holderLoads = 0;
  let waiterLoads = 0;
  const held = holder.fetch('f', async () => {
    holderLoads++;
    await loaderGate;
    return 'loaded by the holder';
  });
  assert.ok(await pollUntil(() => holderLoads === 1, WAIT_MS));
  const waited = waiter.fetch('f', () => {
    waiterLoads++;
    return 'loaded by the waiter';
  });

  // The CLI replay, mid-run across the restart.
  const w = scope.file('w.txt');
  await scope.genworkload(['-n', '600000', '-p', '50', '-k', '50000', '-t', '2', '-w', '8', '-o', w, '-e', scope.file('w.expected')]);
  const cli = scope.client(region, ['-n', '2', '-w', '8', '-i', w, '-o', scope.file('w.out')], 'CLI replay');
  assert.ok(await pollUntil(() => new Owners(Region.open(region)).ownedBy(cli.pid) === 16, WAIT_MS), `the CLI did not attach\n${cli.output()}`);

  server.kill('SIGTERM');
  await server.wait(WAIT_MS);
  // Calls made while no server runs wait for the next one.
  const during = [prom.set('p3', 3), keyv.set('kv2', 'two')];
  await sleep(200);
  server = await scope.startServer(region, serverArgs(scope), 'second server');

  // Sync: writes and reads go on, on the new server.
  assert.equal(sync.setSync('s', 2), true);
  assert.equal(sync.getSync('s'), 2);
  assert.equal(sync.incrSync('n', 5), 5);
  // Promise: the calls made meanwhile landed; new ones work.
  assert.deepEqual(await Promise.all(during), [true, true]);
  await prom.setMany([['p4', 4], ['p5', 'five']]);
  assert.deepEqual(await prom.getMany(['p3', 'p4', 'p5']), [3, 4, 'five']);
  assert.equal(await prom.incr('m', 2), 2);
  // Keyv through the adapter.
  assert.equal(await keyv.get('kv2'), 'two');
  assert.equal(await keyv.set('kv3', 'three'), true);
  assert.equal(await keyv.get('kv3'), 'three');
  // fetch: the holder finishes after the restart; both callers get a value
  // and nothing throws (the cold server lost the lease: the waiter may load too).
  release();
  assert.equal(await held, 'loaded by the holder');
  assert.ok(['loaded by the holder', 'loaded by the waiter'].includes((await waited) as string));
  t.diagnostic(`fetch: holder loaded ${holderLoads}, waiter loaded ${waiterLoads}`);
  assert.equal(await waiter.fetch('g', () => 'fresh'), 'fresh');
  assert.equal(await holder.fetch('g', () => 'not called'), 'fresh');
  // The CLI replay completes: every get has its line.
  const cx = await cli.wait(LONG_MS);
  assert.equal(cx.code, 0, `CLI replay across the restart (${fmtExit(cx)})\n${cli.output()}`);
  const gets = fs.readFileSync(w, 'utf8').split('\n').filter((l) => l.startsWith('get')).length;
  assert.equal(fs.readFileSync(scope.file('w.out'), 'utf8').trim().split('\n').length, gets);
  assert.match(cli.stdout, /^Throughput: /m);

  await keyv.disconnect();
  for (const c of clients) await c.close();
  assert.ok(await pollUntil(() => owned(region) === 0, WAIT_MS), `${owned(region)} windows still owned after every client closed`);
  await sigterm(server);
});

test('the CLI replays (u32, u32 --direct, bytes, bytes --direct) ride through a SIGKILL of their server and a restart: each completes with every get answered', { timeout: 300_000 }, async (t) => {
  const scope = scoped(t);
  const region = scope.file('region');
  let server = await scope.startServer(region, serverArgs(scope));
  const u32 = scope.file('u32.txt');
  const bytes = scope.file('bytes.txt');
  await scope.genworkload(['-n', '600000', '-p', '50', '-k', '50000', '-t', '2', '-w', '8', '-o', u32, '-e', scope.file('u32.expected')]);
  await scope.genworkload(['-n', '200000', '-p', '50', '-k', '20000', '-t', '2', '-w', '8', '--key-bytes', '16', '--value-bytes', '100', '--del', '10', '-o', bytes, '-e', scope.file('bytes.expected')]);
  const runs = [
    ['u32', u32, []],
    ['u32 --direct', u32, ['--direct']],
    ['bytes', bytes, []],
    ['bytes --direct', bytes, ['--direct']],
  ] as const;
  const clis = runs.map(([name, w, extra], i) => scope.client(region, ['-n', '2', '-w', '8', '-i', w, '-o', scope.file(`out-${i}`), ...extra], `CLI ${name}`));
  assert.ok(await pollUntil(() => clis.every((c) => new Owners(Region.open(region)).ownedBy(c.pid) === 16), WAIT_MS), `not every CLI attached\n${clis.map((c) => c.output()).join('\n')}`);
  await sleep(300);
  for (const c of clis) assert.equal(c.running, true, `${c.label} finished before the kill: make its workload longer\n${c.output()}`);
  server.kill('SIGKILL');
  await server.wait(WAIT_MS);
  server = await scope.startServer(region, serverArgs(scope), 'second server');
  for (const [i, c] of clis.entries()) {
    const x = await c.wait(LONG_MS);
    assert.equal(x.code, 0, `${c.label} across the kill (${fmtExit(x)})\n${c.output()}`);
    const gets = fs.readFileSync(runs[i][1], 'utf8').split('\n').filter((l) => l.startsWith('get')).length;
    assert.equal(fs.readFileSync(scope.file(`out-${i}`), 'utf8').split('\n').length - 1, gets, `${c.label}: get result lines`);
  }
  await sigterm(server);
});

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
    assert.equal(baseline, 9 + 601 + 16, 'windows owned before the pause');

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
    const riderWindows = 9 + 601;
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
  assert.equal(owned(region), 3);
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
  assert.throws(() => (kv as unknown as { runSync(p: unknown): unknown; req: { read(k: string): unknown } }).runSync((kv as unknown as { req: { read(k: string): unknown } }).req.read('x')), (e: Error) => e instanceof ServerGoneError && !(e instanceof OutcomeUnknownError));
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
  // the board holds exactly this client's 3 again.
  assert.ok(await pollUntil(() => owned(region) === 3, WAIT_MS), `${owned(region)} windows owned; the client reserved 3`);
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

test('reconnect: false keeps the old behaviour: a restart leaves the client failing with ServerGoneError for good', { timeout: 60_000 }, async (t) => {
  const scope = scoped(t);
  const region = scope.file('region');
  let server = await scope.startServer(region, serverArgs(scope));
  const kv = connect({ path: region, reconnect: false });
  kv.setSync('k', 1);
  await sigterm(server);
  server = await scope.startServer(region, serverArgs(scope), 'second server');
  assert.throws(() => kv.getSync('k'), ServerGoneError);
  assert.throws(() => kv.setSync('k', 2), ServerGoneError);
  await assert.rejects(kv.set('k', 3), ServerGoneError);
  await kv.close();
  await sigterm(server);
});

test('connect({ start: true }) from 8 processes at once starts exactly one server; after it is SIGKILLed, the next writes start exactly one again', { timeout: 180_000 }, async (t) => {
  const scope = scoped(t);
  const region = scope.file('region');
  const log = scope.file('server.log');
  const o = (i: number): StartClientOptions => ({ path: region, tag: `c${i}`, server: { threads: 1, maxTableBytes: 64 * 1024 * 1024, dataDir: scope.dir, log } });
  const clients = Array.from({ length: 8 }, (_, i) => scope.fixture('start-client', [JSON.stringify(o(i))], `start client ${i}`));
  for (const c of clients) await c.waitFor(/^waiting$/m, WAIT_MS);
  for (const c of clients) c.child.stdin!.write('go\n');
  for (const c of clients) await c.waitFor(/^connected \d+ \d+$/m, WAIT_MS);
  const said = (c: Proc, re: RegExp): [number, number] => {
    const m = [...c.stdout.matchAll(re)].pop()!;
    return [Number(m[1]), Number(m[2])];
  };
  const first = clients.map((c) => said(c, /^connected (\d+) (\d+)$/gm));
  const pid = first[0][0];
  scope.adopt(pid);
  assert.ok(pid > 0 && first.every(([p]) => p === pid), `the clients see different servers: ${JSON.stringify(first)}`);
  assert.equal(first.reduce((a, [, s]) => a + s, 0), 1, `servers spawned: ${JSON.stringify(first)}`);
  assert.equal((fs.readFileSync(log, 'utf8').match(/^server: ready/gm) ?? []).length, 1, fs.readFileSync(log, 'utf8'));
  assert.ok(pidRunning(pid));

  // The server dies; every client writes again: one of them starts a new one.
  process.kill(pid, 'SIGKILL');
  assert.ok(await pollUntil(() => !pidRunning(pid), WAIT_MS));
  for (const c of clients) c.child.stdin!.write('write\n');
  for (const c of clients) await c.waitFor(/^wrote \d+ \d+$/m, WAIT_MS);
  const second = clients.map((c) => said(c, /^wrote (\d+) (\d+)$/gm));
  const pid2 = second[0][0];
  scope.adopt(pid2);
  assert.ok(pid2 > 0 && pid2 !== pid && second.every(([p]) => p === pid2), `after the kill: ${JSON.stringify(second)}`);
  assert.equal(second.reduce((a, [, s]) => a + s, 0), 2, `servers spawned in all: ${JSON.stringify(second)}`);
  const text = fs.readFileSync(log, 'utf8');
  assert.equal((text.match(/^server: ready/gm) ?? []).length, 2, text);
  assert.doesNotMatch(text, /another server/, 'a second server was spawned and refused');
  for (const c of clients) c.child.stdin!.write('stop\n');
  for (const c of clients) assert.equal((await c.wait(WAIT_MS)).code, 0, c.output());
  process.kill(pid2, 'SIGTERM');
  assert.ok(await pollUntil(() => !pidRunning(pid2), WAIT_MS), 'the started server did not stop on SIGTERM');
});

test('connect({ start: true }) with a server that cannot start: one ServerError naming its reason; bad server options: TypeError/RangeError', { timeout: 60_000 }, async (t) => {
  const scope = scoped(t);
  const region = scope.file('region');
  assert.throws(
    () => connect({ path: region, start: true, server: { maxKeyBytes: 10, dataDir: scope.dir, log: scope.file('log') } }),
    (e: Error) => e instanceof ServerError && /exited: .*max-key-bytes/.test(e.message) && lines(e.message).length === 1,
  );
  assert.throws(() => connect({ path: region, start: true, server: { threads: 1.5 } }), RangeError);
  assert.throws(() => connect({ path: region, start: true, server: { maxTableBytes: 1000 } }), RangeError);
  assert.throws(() => connect({ path: region, start: true, server: { dataDir: 7 as unknown as string } }), TypeError);
  assert.throws(() => connect({ path: region, start: true, server: { bogus: 1 } as never }), TypeError);
  assert.throws(() => connect({ path: region, server: { threads: 1 } }), TypeError);
  assert.throws(() => connect({ path: region, reconnectMs: -1 }), RangeError);
  assert.equal(fs.existsSync(region), false);
});
