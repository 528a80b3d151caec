/**
 * connect({ start: true }) (issue 20 part 4; client/start.ts): 8 processes
 * starting at once start exactly one server, a server found dead is started
 * again by the next write, a server that cannot start fails connect() with
 * one line, bad options are TypeError/RangeError.
 */
import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import { connect } from '../../src/client/client';
import { ServerError } from '../../src/errors';
import { lockFile, unlockFile } from '../../src/native/shim';
import { lines, pidRunning, pollUntil, Proc, WAIT_MS } from '../fixtures/faults/harness';
import type { StartClientOptions } from '../fixtures/faults/start-client';
import { scoped } from '../support/ride';

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
  // Whoever started it let go of the start lock once it was READY.
  assert.ok(await pollUntil(() => {
    try {
      unlockFile(lockFile(`${region}.start`));
      return true;
    } catch {
      return false;
    }
  }, WAIT_MS), 'the start lock is still held while the server it started serves');

  // Killed again: the client that started the second server may not have
  // looked at it since it became READY; its death is a crash to recover
  // from, not a failed start (no error, no back-off).
  for (const c of clients) c.stdout = '';
  process.kill(pid2, 'SIGKILL');
  assert.ok(await pollUntil(() => !pidRunning(pid2), WAIT_MS));
  for (const c of clients) c.child.stdin!.write('write\n');
  for (const c of clients) await c.waitFor(/^wrote \d+ \d+$/m, WAIT_MS);
  const third = clients.map((c) => said(c, /^wrote (\d+) (\d+)$/gm));
  const pid3 = third[0][0];
  scope.adopt(pid3);
  assert.ok(pid3 > 0 && pid3 !== pid2 && third.every(([p]) => p === pid3), `after the second kill: ${JSON.stringify(third)}`);
  assert.equal(third.reduce((a, [, s]) => a + s, 0), 3, `servers spawned in all: ${JSON.stringify(third)}`);
  assert.equal((fs.readFileSync(log, 'utf8').match(/^server: ready/gm) ?? []).length, 3);
  for (const c of clients) c.child.stdin!.write('stop\n');
  for (const c of clients) assert.equal((await c.wait(WAIT_MS)).code, 0, c.output());
  process.kill(pid3, 'SIGTERM');
  assert.ok(await pollUntil(() => !pidRunning(pid3), WAIT_MS), 'the started server did not stop on SIGTERM');
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
