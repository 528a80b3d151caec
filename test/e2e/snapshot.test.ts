/**
 * Snapshots (issue 20, "Done when" (e)): the table written to a file at a
 * clean stop, on request (--snapshot-now, SIGUSR1) and on an interval, and
 * loaded by a server that finds no data file to adopt; a corrupt or
 * truncated snapshot is one line and an empty table, never a crash.
 */
import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import { connect } from '../../src/index';
import { Scope, lines, waitUntil } from '../support/procs';

const T = { timeout: 300_000 };

function fill(region: string): void {
  const kv = connect({ path: region });
  for (let i = 0; i < 3000; i++) kv.setSync(`s${i}`, `string ${i} ${'x'.repeat(i % 200)}`);
  for (let i = 0; i < 1000; i++) kv.setSync(`o${i}`, { i, when: new Date(i), tags: new Set([`t${i % 7}`]) });
  for (let i = 0; i < 1000; i++) kv.setSync(i, (i * 2654435761) >>> 0);
  for (let i = 0; i < 500; i++) kv.setSync(`ttl${i}`, i, { ttl: 600_000 });
  kv.setSync('gone', 1, { ttl: 1 });
  void kv.close();
}

function check(region: string): void {
  const kv = connect({ path: region });
  for (let i = 0; i < 3000; i++) assert.equal(kv.getSync(`s${i}`), `string ${i} ${'x'.repeat(i % 200)}`);
  for (let i = 0; i < 1000; i++) assert.deepEqual(kv.getSync(`o${i}`), { i, when: new Date(i), tags: new Set([`t${i % 7}`]) });
  for (let i = 0; i < 1000; i++) assert.equal(kv.getSync(i), (i * 2654435761) >>> 0);
  for (let i = 0; i < 500; i++) {
    const left = kv.ttlSync(`ttl${i}`);
    assert.ok(left !== undefined && left > 500_000 && left <= 600_000, `ttl${i}: ${left} ms left`);
  }
  assert.equal(kv.getSync('gone'), undefined);
  void kv.close();
}

test('snapshot: --snapshot-now writes it while the server serves; a server with no data file loads it, values and deadlines intact', T, async (t) => {
  const s = new Scope(t, 'shmkv-snap-');
  const region = s.p('region');
  const snap = s.p('table.snapshot');
  let srv = await s.startServer(['-n', '2', '-p', region, '--snapshot', snap]);
  fill(region);
  const now = await s.server(['--snapshot-now', '-p', region]);
  assert.equal(now.code, 0, now.stderr);
  assert.deepEqual(lines(now.stderr), ['server: the snapshot is written (the server said where in its log)']);
  // 5,500 live keys of the user, and the shared record structures (a key of the library).
  await waitUntil('the server says the snapshot is written', () => /^server: snapshot of 5501 key\(s\) written to /m.test(srv.stderr));
  assert.ok(fs.statSync(snap).size > 0);
  assert.deepEqual(fs.readdirSync(s.dir).filter((f) => f.includes('.tmp-')), [], 'no temporary file left');
  assert.equal((await srv.stop('SIGTERM')).code, 0);
  // A reboot or a move: no data file (dropped), the snapshot stays.
  assert.equal((await s.server(['--drop', '-p', region])).code, 0);
  srv = await s.startServer(['-n', '2', '-p', region, '--snapshot', snap]);
  assert.match(srv.stderr, /^server: loaded 5501 of 5501 key\(s\) from the snapshot /m);
  assert.match(srv.stderr, /5501 key\(s\) from the snapshot in /);
  check(region);
  assert.equal((await srv.stop('SIGTERM')).code, 0);
});

test('snapshot: a clean stop writes it; SIGUSR1 and --snapshot-interval write it while serving; --snapshot-now without a --snapshot file says so', T, async (t) => {
  const s = new Scope(t, 'shmkv-snap-');
  const region = s.p('region');
  const snap = s.p('stop.snapshot');
  let srv = await s.startServer(['-n', '1', '-p', region, '--snapshot', snap, '--snapshot-interval', '1']);
  fill(region);
  // The interval writes one (the first tick is a second after start).
  await waitUntil('a snapshot from the interval', () => /^server: snapshot of \d+ key\(s\) written to /m.test(srv.stderr));
  const before = (srv.stderr.match(/^server: snapshot of/gm) ?? []).length;
  srv.child.kill('SIGUSR1');
  await waitUntil('a snapshot on SIGUSR1', () => (srv.stderr.match(/^server: snapshot of/gm) ?? []).length > before);
  const st = await srv.stop('SIGTERM');
  assert.equal(st.code, 0, srv.stderr);
  assert.match(srv.stderr, /^server: snapshot of 5501 key\(s\) written to /m);
  assert.equal((await s.server(['--drop', '-p', region])).code, 0);
  srv = await s.startServer(['-n', '1', '-p', region, '--snapshot', snap]);
  check(region);
  assert.equal((await srv.stop('SIGTERM')).code, 0);
  // A server without --snapshot: the request says what to do.
  srv = await s.startServer(['-n', '1', '-p', region]);
  const no = await s.server(['--snapshot-now', '-p', region]);
  assert.equal(no.code, 1);
  assert.deepEqual(lines(no.stderr), ['server: that server has no --snapshot file: start it with --snapshot FILE']);
  assert.equal((await srv.stop('SIGTERM')).code, 0);
  // No server at all: one line.
  const none = await s.server(['--snapshot-now', '-p', s.p('nowhere')]);
  assert.equal(none.code, 1);
  assert.equal(lines(none.stderr).length, 1, none.stderr);
});

test('snapshot: a corrupt, truncated or foreign snapshot is one line and an empty table, never a crash', T, async (t) => {
  const s = new Scope(t, 'shmkv-snap-');
  const region = s.p('region');
  const snap = s.p('table.snapshot');
  let srv = await s.startServer(['-n', '1', '-p', region, '--snapshot', snap]);
  fill(region);
  assert.equal((await srv.stop('SIGTERM')).code, 0);
  const good = fs.readFileSync(snap);
  const flipped = Buffer.from(good);
  flipped[Math.floor(good.length / 2)] ^= 0x40;
  const cases: Array<[string, Buffer, RegExp]> = [
    ['a flipped byte', flipped, /a block fails its checksum at byte \d+/],
    ['truncated', good.subarray(0, good.length - 100), /truncated|runs past its end|ends before its trailer/],
    ['cut at its trailer', good.subarray(0, good.length - 12), /ends before its trailer \(truncated\)/],
    ['not a snapshot', Buffer.from('hello, this is not a snapshot at all'), /no snapshot magic at byte 0/],
    ['empty', Buffer.alloc(0), /no snapshot magic/],
  ];
  for (const [what, bytes, why] of cases) {
    assert.equal((await s.server(['--drop', '-p', region])).code, 0);
    fs.writeFileSync(snap, bytes);
    srv = await s.startServer(['-n', '1', '-p', region, '--snapshot', snap]);
    const note = lines(srv.stderr).filter((l) => /snapshot/.test(l) && !/^server: ready/.test(l));
    assert.equal(note.length, 1, `${what}: ${srv.stderr}`);
    assert.match(note[0], new RegExp(`^server: not loading the snapshot: ${snap.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')} is not a usable snapshot \\(.*\\): starting empty \\(moved to .*\\.corrupt\\)$`), what);
    assert.deepEqual(fs.readFileSync(`${snap}.corrupt`), bytes, `${what}: kept aside as it was`);
    assert.match(note[0], why, what);
    assert.match(srv.stderr, /an empty table in /, what);
    const kv = connect({ path: region });
    assert.equal(kv.size, 0, what);
    await kv.close();
    assert.equal((await srv.stop('SIGTERM')).code, 0);
  }
});

test('snapshot: a --snapshot path that is a directory, a device or in no directory is refused in one line', T, async (t) => {
  const s = new Scope(t, 'shmkv-snap-');
  for (const [bad, why] of [
    [s.dir, /^server: --snapshot .* is not a regular file$/],
    ['/dev/null', /^server: --snapshot \/dev\/null is not a regular file$/],
    [s.p('no/such/dir/x.snapshot'), /^server: --snapshot .*: its directory is not usable \(ENOENT\)$/],
  ] as const) {
    const r = await s.server(['-n', '1', '-p', s.p('region'), '--snapshot', bad]);
    assert.equal(r.code, 1, r.stderr);
    assert.equal(lines(r.stderr).length, 1, r.stderr);
    assert.match(r.stderr.trim(), why);
  }
});
