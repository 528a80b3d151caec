/**
 * Signals to a server with clients attached, and to a client with -f: a
 * SIGKILLed server (clients that do not ride through learn of it within
 * 2 s, the promise the store makes, and a new server serves the path), a
 * SIGINT or SIGTERM to the server (it exits 0, marks its region STOPPED),
 * and a SIGINT to client -f, alone or to its process group (its forked
 * server goes with the region file). Every test runs real server/client
 * processes in its own temp dir on its own region path and kills everything
 * it started when it ends. No assertion is about speed; the only clock bound
 * is the liveness promise the store makes (a client learns of a dead server
 * within 2 s). Every other wait is on a condition, bounded generously
 * (WAIT_MS, LONG_MS) so that a loaded machine slows the tests down without
 * failing them.
 */
import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import { ServerState } from '../../src/layout/region-header';
import { Region } from '../../src/layout/region';
import { fmtExit, pidRunning, pollUntil, regionServerPid, repeatWorkload, sleep, WAIT_MS } from '../fixtures/faults/harness';
import { assertExact, assertOneLine, checkedClient, ownedBy, ownedWindowsSafe, scoped, smallWorkload } from '../support/faults';

/** How long a client may take to notice its server is gone (the promise). */
const NOTICE_MS = 2000;

test('server SIGKILLed while clients that do not ride through (--reconnect-ms 0, reconnect: false) wait: every client exits non-zero within 2 s saying so; a new server then serves the same path', { timeout: 1_800_000 }, async (t) => {
  const scope = scoped(t);
  const region = scope.file('region');
  let server = await scope.startServer(region, ['-n', '2', '-r', '8', '-c', '64']);
  const [w, e] = [scope.file('w.txt'), scope.file('w.expected')];
  // 10 key-shifted copies of a 300k workload deterministic for 2 x 16: 3M
  // requests, seconds of work even for A on an idle machine, so that every
  // client is still running whenever the kill comes (they start at different
  // times, and the test waits for all of them).
  await scope.genworkload(['-n', '300000', '-p', '50', '-k', '100000', '-t', '2', '-w', '16', '-o', scope.file('base.txt'), '-e', scope.file('base.expected')]);
  repeatWorkload(scope.file('base.txt'), scope.file('base.expected'), w, e, 10, 100000);
  // A: 2 threads x 16 in flight into an 8-slot ring (some wait for ring
  // space); B: one request at a time (waits for responses); C: a library
  // client looping on a lane.
  const a = scope.client(region, ['-n', '2', '-w', '16', '-i', w, '-c', '-e', e, '--reconnect-ms', '0'], 'client A (2x16)');
  const b = scope.client(region, ['-n', '1', '-w', '1', '-i', w, '-c', '-e', e, '--reconnect-ms', '0'], 'client B (1x1)');
  const c = scope.fixture('chaos-client', [region, '1000000', '1', '4'], 'library client C');
  await c.waitFor(/^ready$/m, WAIT_MS);
  const reserved = await pollUntil(() => ownedBy(region, a.pid) === 32 && ownedBy(region, b.pid) === 1, WAIT_MS);
  assert.ok(reserved, `clients did not all attach\n${a.output()}\n${b.output()}`);
  await sleep(100);
  for (const p of [a, b, c]) assert.equal(p.running, true, `${p.label} finished before the kill: make its workload longer\n${p.output()}`);

  server.kill('SIGKILL');
  const killedAt = Date.now();
  for (const p of [a, b, c]) {
    const x = await p.wait(WAIT_MS).catch((err: Error) => {
      throw new Error(`${p.label} hangs after its server was SIGKILLed: ${err.message}`);
    });
    assert.ok(x.code !== 0 && x.signal === null, `${p.label} should exit non-zero (${fmtExit(x)})\n${p.output()}`);
    t.diagnostic(`${p.label} exited ${x.at - killedAt} ms after the kill`);
    assert.ok(x.at - killedAt <= NOTICE_MS, `${p.label} took ${x.at - killedAt} ms to notice its server died\n${p.output()}`);
    assertOneLine(p, /server.*(died|not responding)/, `${p.label} after the server was SIGKILLed`);
  }

  // The killed server left its region file behind: a new client refuses it.
  assert.ok(fs.existsSync(region));
  const late = scope.client(region, ['-n', '1', '-w', '1', '-i', w, '-c', '-e', e], 'client of the dead server');
  const lx = await late.wait(WAIT_MS);
  assert.equal(lx.code, 1, `client of a dead server's region (${fmtExit(lx)})\n${late.output()}`);
  assertOneLine(late, /server.*died/, 'client of the dead server');

  // A new server takes the path over and serves it (empty: --fresh; what it
  // adopts otherwise is recovery's tests' business).
  server = await scope.startServer(region, ['-n', '2', '--fresh'], 'second server');
  const [sw, se] = await smallWorkload(scope, 'after');
  await checkedClient(scope, region, sw, se, ['-n', '2', '-w', '4'], 'client of the second server');
  server.kill('SIGTERM');
  assert.equal((await server.wait(WAIT_MS)).code, 0);
});

for (const sig of ['SIGINT', 'SIGTERM'] as const) {
  test(`${sig} to the server while clients that do not ride through run: the server exits 0, each client completes or exits non-zero with one line within 2 s`, { timeout: 1_800_000 }, async (t) => {
    const scope = scoped(t);
    const region = scope.file('region');
    const server = await scope.startServer(region, ['-n', '2']);
    const [w, e] = [scope.file('w.txt'), scope.file('w.expected')];
    // One request at a time, 3M of them (10 key-shifted copies of 300k):
    // seconds of work even on an idle machine, not done in 2 s.
    await scope.genworkload(['-n', '300000', '-p', '50', '-k', '100000', '-o', scope.file('base.txt'), '-e', scope.file('base.expected')]);
    repeatWorkload(scope.file('base.txt'), scope.file('base.expected'), w, e, 10, 100000);
    const a = scope.client(region, ['-n', '1', '-w', '1', '-i', w, '-c', '-e', e, '--reconnect-ms', '0'], 'CLI client');
    // A library client that never stops submitting on its own.
    const c = scope.fixture('chaos-client', [region, '1000000', '2', '8'], 'looping library client');
    await c.waitFor(/^ready$/m, WAIT_MS);
    assert.ok(await pollUntil(() => ownedBy(region, a.pid) === 1, WAIT_MS), `the CLI client did not attach\n${a.output()}`);
    await sleep(200);
    assert.equal(a.running, true, `the CLI client finished before the signal\n${a.output()}`);

    server.kill(sig);
    const signalledAt = Date.now();
    const sx = await server.wait(WAIT_MS).catch((err: Error) => {
      throw new Error(`the server did not stop within ${WAIT_MS} ms of ${sig} while clients kept sending: ${err.message}`);
    });
    assert.equal(sx.code, 0, `server exit after ${sig} (${fmtExit(sx)})\n${server.output()}`);
    // The region stays, marked STOPPED (with the data file, the cache the next server adopts).
    assert.equal(Region.open(region).serverState(), ServerState.Stopped, 'the stopped server marked its region STOPPED');
    for (const p of [a, c]) {
      const x = await p.wait(WAIT_MS).catch((err: Error) => {
        throw new Error(`${p.label} hangs after its server stopped: ${err.message}`);
      });
      t.diagnostic(`${p.label} exited ${x.at - signalledAt} ms after ${sig} to the server`);
      assert.ok(x.at - signalledAt <= NOTICE_MS, `${p.label} still ran ${x.at - signalledAt} ms after ${sig} to the server\n${p.output()}`);
      if (x.code === 0) assertExact(p, x, p.label);
      else {
        assert.equal(x.signal, null, `${p.label}: ${fmtExit(x)}`);
        assertOneLine(p, /server.*(stopped|shutting down|died)/, `${p.label} after ${sig} to the server`);
      }
    }
  });
}

for (const group of [false, true]) {
  test(`SIGINT to a client with -f${group ? ' (to its whole process group, as Ctrl-C does)' : ''}: it exits 130 and its forked server is gone with the region file`, { timeout: 1_800_000 }, async (t) => {
    const scope = scoped(t);
    const region = scope.file('region');
    const [w, e] = [scope.file('w.txt'), scope.file('w.expected')];
    // 3M requests one at a time (10 key-shifted copies of 300k): seconds of
    // work even on an idle machine, still running when the signal comes.
    await scope.genworkload(['-n', '300000', '-p', '50', '-k', '100000', '-o', scope.file('base.txt'), '-e', scope.file('base.expected')]);
    repeatWorkload(scope.file('base.txt'), scope.file('base.expected'), w, e, 10, 100000);
    const c = scope.client(region, ['-f', '-t', '2', '-n', '1', '-w', '1', '-i', w, '-c', '-e', e], 'client -f', { detached: group });
    let serverPid = 0;
    assert.ok(await pollUntil(() => (serverPid = regionServerPid(region)) > 0 && ownedWindowsSafe(region) >= 1, WAIT_MS), `the client never attached to its forked server\n${c.output()}`);
    scope.adopt(serverPid);
    await sleep(300);
    assert.equal(c.running, true, `the client finished before the signal\n${c.output()}`);

    if (group) process.kill(-c.pid, 'SIGINT');
    else c.child.kill('SIGINT');
    const x = await c.wait(WAIT_MS);
    assert.equal(x.code, 130, `client exit after SIGINT (${fmtExit(x)})\n${c.output()}`);
    assert.match(c.stderr, /interrupted/);
    // The client waits for its server's exit before exiting itself, so this
    // holds at once; the bound only covers a slow /proc on a loaded machine.
    assert.ok(await pollUntil(() => !pidRunning(serverPid), WAIT_MS), `the forked server (pid ${serverPid}) outlived its client`);
    assert.equal(fs.existsSync(region), false, 'the forked server left its region file');
  });
}
