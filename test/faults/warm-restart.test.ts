/**
 * Warm restart (issue 20, "Done when" (f) and the SIGTERM half of (a)): a
 * server started where another stopped adopts its data file, every value
 * and deadline intact, under whatever options may change (threads, board,
 * ring, default ttl, eviction); a start whose table would differ (-m, the
 * key and value limits) says why in one line and starts empty; --fresh
 * starts empty without a word about the old table. The SIGKILL half is
 * crash-restart.test.ts.
 */
import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import { connect } from '../../src/index';
import { Scope, lines } from '../support/procs';

const T = { timeout: 300_000 };
const BYTES = (i: number): Buffer => Buffer.from(Array.from({ length: 1 + (i % 300) }, (_, j) => (i * 31 + j) & 0xff));

function fill(region: string): void {
  const kv = connect({ path: region });
  for (let i = 0; i < 3000; i++) kv.setSync(`s${i}`, `value ${i} ${'y'.repeat(i % 500)}`);
  for (let i = 0; i < 500; i++) kv.setSync(`o${i}`, { i, at: new Date(1e12 + i), list: [i, `${i}`] });
  for (let i = 0; i < 500; i++) kv.setSync(i, (i * 2654435761) >>> 0);
  for (let i = 0; i < 200; i++) kv.setSync(`b${i}`, BYTES(i));
  for (let i = 0; i < 300; i++) kv.setSync(`t${i}`, i, { ttl: 900_000 });
  kv.closeSync();
}

const KEYS = 3000 + 500 + 500 + 200 + 300;

function check(region: string, what: string): void {
  const kv = connect({ path: region });
  try {
    for (let i = 0; i < 3000; i++) assert.equal(kv.getSync(`s${i}`), `value ${i} ${'y'.repeat(i % 500)}`, `${what}: s${i}`);
    for (let i = 0; i < 500; i++) assert.deepEqual(kv.getSync(`o${i}`), { i, at: new Date(1e12 + i), list: [i, `${i}`] }, `${what}: o${i}`);
    for (let i = 0; i < 500; i++) assert.equal(kv.getSync(i), (i * 2654435761) >>> 0, `${what}: ${i}`);
    for (let i = 0; i < 200; i++) assert.deepEqual(kv.getSync(`b${i}`), BYTES(i), `${what}: b${i}`);
    for (let i = 0; i < 300; i++) {
      const left = kv.ttlSync(`t${i}`);
      assert.ok(left !== undefined && left > 600_000 && left <= 900_000, `${what}: t${i} has ${left} ms left`);
    }
    assert.equal(kv.size, KEYS, what);
  } finally {
    kv.closeSync();
  }
}

test('warm restart: after SIGTERM and SIGINT, a server with other threads, board, ring, ttl and eviction adopts every key, value and deadline', T, async (t) => {
  const s = new Scope(t, 'shmkv-warm-');
  const region = s.p('region');
  let srv = await s.startServer(['-n', '1', '-m', '64', '-p', region]);
  fill(region);
  assert.equal((await srv.stop('SIGTERM')).code, 0, srv.stderr);
  const restarts: Array<[string[], NodeJS.Signals]> = [
    [['-n', '2', '-c', '64', '-r', '512'], 'SIGINT'],
    [['-n', '3', '--ttl', '5000', '--eviction', 'none'], 'SIGTERM'],
    [['-n', '1'], 'SIGTERM'],
  ];
  for (const [opts, signal] of restarts) {
    srv = await s.startServer([...opts, '-m', '64', '-p', region]);
    // The server counts every key: the user's and the shared record structures'.
    assert.match(srv.stderr, new RegExp(`^server: ready, .*adopted ${KEYS + 1} key\\(s\\) from .*\\.data in \\d+ ms$`, 'm'), opts.join(' '));
    assert.equal(lines(srv.stderr).length, 1, srv.stderr);
    check(region, `after a restart with ${opts.join(' ')}`);
    assert.equal((await srv.stop(signal)).code, 0, srv.stderr);
  }
});

test('an incompatible restart (-m, --max-key-bytes, --max-value-bytes changed) says why in one line and starts empty; --fresh starts empty', T, async (t) => {
  const s = new Scope(t, 'shmkv-warm-');
  const region = s.p('region');
  const cases: Array<[string[], RegExp]> = [
    [['-m', '128'], /\(it was made for -m 64 MiB, this start asks 128\)/],
    [['-m', '64', '--max-key-bytes', '1024'], /\(its longest key is \d+ bytes, this start asks 1024\)/],
    [['-m', '64', '--max-value-bytes', '4096'], /\(its longest value is \d+ bytes, this start asks 4096\)/],
  ];
  for (const [opts, why] of cases) {
    let srv = await s.startServer(['-n', '1', '-m', '64', '-p', region, '--fresh']);
    fill(region);
    assert.equal((await srv.stop('SIGTERM')).code, 0);
    srv = await s.startServer(['-n', '1', ...opts, '-p', region]);
    const said = lines(srv.stderr);
    assert.equal(said.length, 2, srv.stderr);
    assert.match(said[0], /^server: not adopting the cache in \S+\.data \(.*\): starting empty$/);
    assert.match(said[0], why);
    assert.match(said[1], /^server: ready, .*an empty table in /);
    const kv = connect({ path: region });
    assert.equal(kv.size, 0, opts.join(' '));
    kv.closeSync();
    assert.equal((await srv.stop('SIGTERM')).code, 0);
  }
  let srv = await s.startServer(['-n', '1', '-m', '64', '-p', region]);
  fill(region);
  assert.equal((await srv.stop('SIGTERM')).code, 0);
  srv = await s.startServer(['-n', '1', '-m', '64', '-p', region, '--fresh']);
  assert.equal(lines(srv.stderr).length, 1, srv.stderr);
  assert.match(srv.stderr, /^server: ready, .*an empty table in /);
  const kv = connect({ path: region });
  assert.equal(kv.size, 0);
  kv.closeSync();
  assert.equal((await srv.stop('SIGTERM')).code, 0);
});
