/**
 * Clients riding through restarts of their server (issue 20 part 3;
 * connection.ts, RIDING THROUGH): direct reads across a SIGTERM restart, a
 * client of each kind connected before a restart, the CLI's replays across
 * a SIGKILL, and reconnect: false keeping the old behaviour. Pauses:
 * pause.test.ts; start: true: start.test.ts. Real server and client
 * processes, every wait bounded and on a condition; servers keep their data
 * files in the test's temp dir (a SIGKILLed server cannot remove its own).
 */
import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import { Keyv } from 'keyv';
import { connect, Client } from '../../src/client/client';
import { KeyvShmkv } from '../../src/adapters/keyv';
import { Region } from '../../src/layout/region';
import { Owners } from '../../src/transport/owners';
import { ServerGoneError } from '../../src/errors';
import { fmtExit, pollUntil, sleep, WAIT_MS, LONG_MS } from '../fixtures/faults/harness';
import { owned, scoped, serverArgs, sigterm } from '../support/ride';

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
  // The second server may take seconds to start on a loaded machine: the
  // replays wait up to a minute for it (the default is 5 s).
  const clis = runs.map(([name, w, extra], i) => scope.client(region, ['-n', '2', '-w', '8', '-i', w, '-o', scope.file(`out-${i}`), '--reconnect-ms', '60000', ...extra], `CLI ${name}`));
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
