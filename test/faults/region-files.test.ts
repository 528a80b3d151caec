/**
 * The region file and who may own it: a second server on a served region
 * refuses and leaves the first one serving; the region and lock files are
 * 0600; other-version, garbage, truncated and stale region files are refused
 * in one line by clients, Connection.open and servers, and never modified.
 * Every test runs real server/client processes in its own temp dir on its
 * own region path and kills everything it started when it ends. No
 * assertion is about speed; every wait is on a condition, bounded
 * generously (WAIT_MS, LONG_MS) so that a loaded machine slows the test
 * down without failing it.
 */
import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import { Connection } from '../../src/client/connection';
import { HDR_VERSION, HDR_WINDOW_COUNT, REGION_VERSION } from '../../src/layout/region-header';
import { fmtExit, regionServerPid, WAIT_MS } from '../fixtures/faults/harness';
import { RegionError } from '../../src/errors';
import { assertOneLine, checkedClient, scoped, smallWorkload } from '../support/faults';

test('a second server on the same region refuses and leaves the first one serving', { timeout: 1_800_000 }, async (t) => {
  const scope = scoped(t);
  const region = scope.file('region');
  const first = await scope.startServer(region, ['-n', '1'], 'first server');
  const inode = fs.statSync(region).ino;
  const second = scope.server(region, ['-n', '1'], 'second server');
  const x = await second.wait(WAIT_MS);
  assert.ok(x.code !== 0 && x.signal === null, `the second server should refuse (${fmtExit(x)})\n${second.output()}`);
  assertOneLine(second, /another server/, 'second server');
  assert.equal(first.running, true);
  assert.equal(fs.statSync(region).ino, inode, 'the second server replaced the region file');
  assert.equal(regionServerPid(region), first.pid, 'the second server rewrote the region header');
  const [w, e] = await smallWorkload(scope, 'w');
  await checkedClient(scope, region, w, e, ['-n', '2', '-w', '4'], 'client of the first server');
  first.kill('SIGTERM');
  assert.equal((await first.wait(WAIT_MS)).code, 0);
});

test('region file is 0600; other-version, garbage, truncated and stale region files are refused in one line, never misread', { timeout: 1_800_000 }, async (t) => {
  const scope = scoped(t);
  const region = scope.file('region');
  const server = await scope.startServer(region, ['-n', '1', '-c', '64']);
  assert.equal(fs.statSync(region).mode & 0o777, 0o600, 'region file mode');
  assert.equal(fs.statSync(`${region}.lock`).mode & 0o777, 0o600, 'lock file mode');
  const [w, e] = await smallWorkload(scope, 'w', 1, 1, 200);

  const live = fs.readFileSync(region);
  const variant = (name: string, edit: (b: Buffer) => Buffer): string => {
    const f = scope.file(name);
    fs.writeFileSync(f, edit(Buffer.from(live)), { mode: 0o600 });
    return f;
  };
  const cases: Array<[string, string, RegExp]> = [
    [variant('other-version', (b) => (b.writeInt32LE(REGION_VERSION + 1, HDR_VERSION), b)), 'a region of another layout version', /version/],
    [variant('version-zero', (b) => (b.writeInt32LE(0, HDR_VERSION), b)), 'a region of layout version 0', /version/],
    [variant('garbage', (b) => (b.fill(0), Buffer.from(b.map((_, i) => (i * 7919 + 13) & 0xff)))), 'garbage', /not a key-value region/],
    [variant('zeros', (b) => b.fill(0)), 'all zeros', /not a key-value region/],
    [variant('empty', () => Buffer.alloc(0)), 'an empty file', /not a key-value region/],
    [variant('short', (b) => b.subarray(0, 100)), 'a 100-byte file', /not a key-value region/],
    [variant('truncated', (b) => b.subarray(0, b.length / 2)), 'a truncated region', /corrupt/],
    [variant('bad-geometry', (b) => (b.writeInt32LE(0x7fffffff, HDR_WINDOW_COUNT), b)), 'a region with a corrupt header', /corrupt/],
  ];
  for (const [file, what, re] of cases) {
    const before = fs.readFileSync(file);
    const c = scope.client(file, ['-n', '1', '-w', '1', '-i', w, '-c', '-e', e], `client of ${what}`);
    const x = await c.wait(WAIT_MS);
    assert.equal(x.code, 1, `client of ${what}: ${fmtExit(x)}\n${c.output()}`);
    assertOneLine(c, re, `client of ${what}`);
    assert.throws(() => Connection.open({ path: file }), (err: unknown) => err instanceof RegionError && re.test(err.message), `Connection.open of ${what}`);
    assert.ok(fs.readFileSync(file).equals(before), `the client modified ${what}`);
  }

  // A byte-for-byte copy of a live region: it names a live server pid and
  // says READY, but nobody serves it. The heartbeat watchdog must notice.
  const stale = variant('stale-copy', (b) => b);
  const c = scope.client(stale, ['-n', '1', '-w', '1', '-i', w, '-c', '-e', e], 'client of a stale copy');
  const x = await c.wait(WAIT_MS).catch((err: Error) => {
    throw new Error(`a client of a stale region copy hangs: ${err.message}`);
  });
  assert.ok(x.code !== 0 && x.signal === null, `client of a stale copy (${fmtExit(x)})\n${c.output()}`);
  assertOneLine(c, /not responding|died|stopped/, 'client of a stale copy');

  // A server refuses to overwrite a file that is not a region.
  const garbage = cases[2][0];
  const before = fs.readFileSync(garbage);
  const s2 = scope.server(garbage, ['-n', '1'], 'server on a garbage file');
  const sx = await s2.wait(WAIT_MS);
  assert.ok(sx.code !== 0 && sx.signal === null, `server on garbage (${fmtExit(sx)})\n${s2.output()}`);
  assertOneLine(s2, /not a key-value region/, 'server on a garbage file');
  assert.ok(fs.readFileSync(garbage).equals(before), 'the server overwrote a foreign file');

  assert.equal(server.running, true);
  await checkedClient(scope, region, w, e, ['-n', '1', '-w', '1'], 'client of the live region');
  server.kill('SIGTERM');
  assert.equal((await server.wait(WAIT_MS)).code, 0);
});
