/**
 * End-to-end tests of the server's lifecycle with the real CLIs as real
 * processes: what SIGTERM, SIGINT and --temporary leave, a second server on
 * one region, a path that is not a region, a client with no server, client
 * -f cleaning up after itself, and clients whose server stops mid-run. Every
 * test has its own temp dir and region path, a timeout, and kills what it
 * started even when it fails. No speed assertions.
 */
import { test, describe } from 'node:test';
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import { BIN, Scope, hasStackTrace, lines, pidInRegion, pidsMentioning, waitUntil } from '../support/procs';
import { LONG } from '../support/workload-text';

describe('e2e: server lifecycle', () => {
  for (const sig of ['SIGTERM', 'SIGINT'] as const) {
    test(`${sig} makes the server exit 0, keep its region (STOPPED) and data file, and remove its lock and exchange files; --temporary removes all`, { timeout: 600_000 }, async (t) => {
      const s = new Scope(t);
      const region = s.p('region');
      const cacheFiles = (): string[] => fs.readdirSync(s.dir).filter((f) => /\.(data|xchg)$/.test(f)).map((f) => f.replace(/^.*\./, ''));
      for (const temporary of [false, true]) {
        const srv = await s.startServer(['-n', '2', '-p', region, ...(temporary ? ['--temporary'] : [])]);
        assert.match(srv.stderr, new RegExp(`^server: ready, pid ${srv.pid}, region ${region.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}`, 'm'));
        assert.equal(s.exists('region'), true);
        assert.deepEqual(cacheFiles().sort(), ['data', 'xchg']);
        const st = await srv.stop(sig);
        assert.equal(st.timedOut, false, 'server ignored the signal');
        assert.equal(st.code, 0, srv.stderr);
        assert.equal(s.exists('region'), !temporary);
        assert.equal(s.exists('region.lock'), false);
        assert.deepEqual(cacheFiles(), temporary ? [] : ['data']);
        assert.equal(lines(srv.stderr).length, 1, srv.stderr);
        assert.equal(srv.stdout, '');
        assert.deepEqual(pidsMentioning(s.dir), []);
      }
    });
  }

  test('a second server on the same region refuses while the first runs, and the first keeps serving', { timeout: 600_000 }, async (t) => {
    const s = new Scope(t);
    const region = s.p('region');
    const first = await s.startServer(['-p', region]);
    const before = fs.statSync(region);
    const second = await s.server(['-n', '2', '-p', region], { timeoutMs: 60_000 });
    assert.equal(second.timedOut, false, 'second server did not exit');
    assert.notEqual(second.code, 0);
    assert.equal(lines(second.stderr).length, 1, second.stderr);
    assert.match(second.stderr, /^server: .*another server/);
    assert.ok(second.stderr.includes(region));
    assert.equal(hasStackTrace(second.stderr), false);
    const after = fs.statSync(region);
    assert.equal(after.ino, before.ino, 'the region file was replaced');
    s.write('w.txt', 'put 1 2\nget 1\n');
    const r = await s.client(['-i', 'w.txt', '-o', 'out.txt', '-p', region]);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(s.read('out.txt'), '2\n');
    assert.equal((await first.stop()).code, 0);
  });

  test('a server refuses a path holding a non-region file and leaves it untouched', { timeout: 600_000 }, async (t) => {
    const s = new Scope(t);
    const text = 'my precious notes\nline two\n';
    const f = s.write('notes.txt', text);
    const mtime = fs.statSync(f).mtimeMs;
    const r = await s.server(['-p', f], { timeoutMs: 60_000 });
    assert.notEqual(r.code, 0);
    assert.equal(lines(r.stderr).length, 1, r.stderr);
    assert.ok(r.stderr.includes(f), r.stderr);
    assert.equal(hasStackTrace(r.stderr), false);
    assert.equal(s.read('notes.txt'), text);
    assert.equal(fs.statSync(f).mtimeMs, mtime);
    // Same through client -f: the forked server refuses, the client says why.
    const c = s.write('w.txt', 'get 1\n');
    const rc = await s.client(['-f', '-i', c, '-p', f], { timeoutMs: 60_000 });
    assert.notEqual(rc.code, 0);
    assert.match(rc.stderr, /^client: .*not a key-value region/m);
    assert.equal(hasStackTrace(rc.stderr), false);
    assert.equal(s.read('notes.txt'), text);
    assert.deepEqual(pidsMentioning(s.dir), []);
  });

  test('a client with no server: one line naming the region path, non-zero exit', { timeout: 600_000 }, async (t) => {
    const s = new Scope(t);
    s.write('w.txt', 'get 1\n');
    const explicit = s.p('nowhere');
    const cases: Array<[string[], Record<string, string> | undefined, string]> = [
      [['-p', explicit], undefined, explicit],
      [[], { SHMKV_PATH: s.p('envpath') }, s.p('envpath')],
      [[], undefined, 'shmem_file'],
    ];
    for (const [args, env, named] of cases) {
      const r = await s.client(['-i', 'w.txt', ...args], { env });
      assert.notEqual(r.code, 0);
      assert.equal(r.stdout, '');
      assert.equal(lines(r.stderr).length, 1, r.stderr);
      assert.ok(r.stderr.includes(named), `${r.stderr} does not name ${named}`);
      assert.equal(hasStackTrace(r.stderr), false, r.stderr);
    }
  });

  test('client -f stops its server on errors and on SIGINT: no region, no process left', { timeout: 600_000 }, async (t) => {
    const s = new Scope(t);
    const region = s.p('region');
    s.write('w.txt', 'get 1\nget 2\n');
    // Board too small for 2 x 8192 windows: the client fails after forking.
    const full = await s.client(['-f', '-n', '2', '-w', '8192', '-i', 'w.txt', '-p', region]);
    assert.equal(full.code, 1);
    assert.match(full.stderr, /^client: .*board/m);
    assert.equal(hasStackTrace(full.stderr), false, full.stderr);
    assert.equal(s.exists('region'), false);
    assert.deepEqual(pidsMentioning(s.dir), []);
    // Interrupted mid-run.
    s.write('long.txt', LONG);
    const run = s.spawn(BIN.client, ['-f', '-n', '1', '-w', '1', '-i', 'long.txt', '-p', region]);
    await waitUntil('the client to attach to its forked server', () => pidInRegion(region, run.child.pid!));
    run.child.kill('SIGINT');
    const r = await run.done;
    assert.equal(r.code, 130, `client: ${r.code ?? r.signal} ${r.stderr}`);
    assert.match(r.stderr, /^client: interrupted$/m);
    assert.equal(hasStackTrace(r.stderr), false, r.stderr);
    assert.equal(s.exists('region'), false);
    assert.deepEqual(pidsMentioning(s.dir), []);
  });

  test('a server stopped mid-run: the client fails with one line, no stack trace', { timeout: 600_000 }, async (t) => {
    const s = new Scope(t);
    const region = s.p('region');
    const srv = await s.startServer(['-p', region]);
    s.write('long.txt', LONG);
    const run = s.spawn(BIN.client, ['-n', '1', '-w', '1', '-i', 'long.txt', '-p', region]);
    await waitUntil('the client to attach', () => pidInRegion(region, run.child.pid!));
    const st = await srv.stop('SIGTERM');
    assert.equal(st.code, 0, srv.stderr);
    const r = await run.done;
    assert.equal(r.timedOut, false);
    assert.notEqual(r.code, 0, `the client finished before the server stopped: ${r.stdout}`);
    assert.equal(hasStackTrace(r.stderr), false, `stack trace on stderr:\n${r.stderr}`);
    assert.equal(lines(r.stderr).length, 1, r.stderr);
    assert.match(r.stderr, /^client: .*server/);
  });

  test('--direct --reconnect-ms 0: a server stopped mid-run fails the client with one line, though its gets need no server thread; riding through (the default), its gets answer from the last table', { timeout: 600_000 }, async (t) => {
    // Gets only: every request is a direct read, so only the liveness check
    // (Connection.checkLive) can notice the stop. The client is paused
    // (SIGSTOP) once attached, so it cannot finish before the server stops.
    const s = new Scope(t);
    s.write('long.txt', LONG);
    s.write('long-bytes.txt', 'set a 1\n' + 'get a\n'.repeat(1_000_000));
    for (const file of ['long.txt', 'long-bytes.txt']) {
      const region = s.p(`region-${file}`);
      const srv = await s.startServer(['-p', region]);
      const run = s.spawn(BIN.client, ['-n', '1', '-w', '4', '-i', file, '-p', region, '--direct', '--reconnect-ms', '0']);
      await waitUntil('the client to attach', () => pidInRegion(region, run.child.pid!));
      run.child.kill('SIGSTOP');
      const st = await srv.stop('SIGTERM');
      run.child.kill('SIGCONT');
      assert.equal(st.code, 0, srv.stderr);
      const r = await run.done;
      assert.equal(r.timedOut, false, file);
      assert.notEqual(r.code, 0, `${file}: the client finished although its server had stopped: ${r.stdout}`);
      assert.equal(hasStackTrace(r.stderr), false, `${file}: stack trace on stderr:\n${r.stderr}`);
      assert.equal(lines(r.stderr).length, 1, r.stderr);
      assert.match(r.stderr, /^client: .*server .*(stopped|died)/, file);
    }
    // Riding through: reads need no server, so a gets-only replay completes.
    const region = s.p('region-ride');
    const srv = await s.startServer(['-p', region]);
    const run = s.spawn(BIN.client, ['-n', '1', '-w', '4', '-i', 'long.txt', '-p', region, '--direct', '-o', s.p('ride.out')]);
    await waitUntil('the client to attach', () => pidInRegion(region, run.child.pid!));
    run.child.kill('SIGSTOP');
    assert.equal((await srv.stop('SIGTERM')).code, 0, srv.stderr);
    run.child.kill('SIGCONT');
    const r = await run.done;
    assert.equal(r.code, 0, r.stderr);
    assert.equal(s.read('ride.out').split('\n').length - 1, LONG.split('\n').filter((l) => l.startsWith('get')).length);
  });
});
