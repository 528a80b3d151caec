/**
 * The table's memory cap (-m 1, no eviction): puts beyond it are refused
 * and reported by the client, the server stays up, every key reads back as
 * its value or 0 with exactly the refused ones missing, and stored keys can
 * still be updated at the cap.
 * Every test runs real server/client processes in its own temp dir on its
 * own region path and kills everything it started when it ends. No
 * assertion is about speed; every wait is on a condition, bounded
 * generously (WAIT_MS, LONG_MS) so that a loaded machine slows the test
 * down without failing it.
 */
import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import { fmtExit, LONG_MS, Req, WAIT_MS, writeWorkload } from '../fixtures/faults/harness';
import { scoped } from '../support/faults';

test('memory cap (-m 1): puts beyond it are refused and reported, the server stays up and answers gets and updates', { timeout: 1_800_000 }, async (t) => {
  const scope = scoped(t);
  const region = scope.file('region');
  const server = await scope.startServer(region, ['-n', '2', '-m', '1', '--eviction', 'none']);
  const N = 250000;
  const puts = scope.file('puts.txt');
  writeWorkload(puts, Array.from({ length: N }, (_, k): Req => ({ op: 'put', key: k, value: k + 1 })));
  const p = scope.client(region, ['-n', '2', '-w', '8', '-i', puts], 'client putting 250k distinct keys');
  const px = await p.wait(LONG_MS);
  assert.equal(px.code, 0, `${fmtExit(px)}\n${p.output()}`);
  const m = /client: (\d+) put\(s\) refused/.exec(p.stderr);
  assert.ok(m, `no 'put(s) refused' report\n${p.output()}`);
  const refused = Number(m[1]);
  assert.ok(refused > 0 && refused < N, `refused ${refused} of ${N}`);
  assert.equal(server.running, true, `the server died at its memory cap\n${server.output()}`);

  // Every key reads back as its value (stored) or 0 (refused), and exactly
  // N - refused are stored.
  const gets = scope.file('gets.txt');
  const out = scope.file('gets.out');
  writeWorkload(gets, Array.from({ length: N }, (_, k): Req => ({ op: 'get', key: k, value: 0 })));
  const g = scope.client(region, ['-n', '2', '-w', '8', '-i', gets, '-o', out], 'client reading them back');
  const gx = await g.wait(LONG_MS);
  assert.equal(gx.code, 0, `${fmtExit(gx)}\n${g.output()}`);
  const results = fs.readFileSync(out, 'utf8').trim().split('\n').map(Number);
  assert.equal(results.length, N);
  let stored = 0;
  const storedKeys: number[] = [];
  results.forEach((v, k) => {
    assert.ok(v === 0 || v === k + 1, `get ${k} returned ${v}`);
    if (v !== 0) {
      stored++;
      if (storedKeys.length < 100) storedKeys.push(k);
    }
  });
  assert.equal(stored, N - refused, `${stored} keys stored, but ${N} puts with ${refused} refused`);

  // At the cap, a stored key can still be updated.
  const upd = scope.file('update.txt');
  const updOut = scope.file('update.out');
  writeWorkload(upd, [...storedKeys.map((k): Req => ({ op: 'put', key: k, value: 7 })), ...storedKeys.map((k): Req => ({ op: 'get', key: k, value: 0 }))]);
  const u = scope.client(region, ['-n', '1', '-w', '1', '-i', upd, '-o', updOut], 'client updating at the cap');
  const ux = await u.wait(LONG_MS);
  assert.equal(ux.code, 0, `${fmtExit(ux)}\n${u.output()}`);
  const ur = fs.readFileSync(updOut, 'utf8').trim().split('\n').map(Number);
  assert.deepEqual(ur, storedKeys.map(() => 7), 'updates of stored keys at the cap');
  assert.doesNotMatch(u.stderr, /refused/, 'an update of a stored key was refused at the cap');
  assert.equal(server.running, true);
  server.kill('SIGTERM');
  assert.equal((await server.wait(WAIT_MS)).code, 0);
});
