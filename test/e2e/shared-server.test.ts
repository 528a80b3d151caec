/**
 * End-to-end tests of one ./server started first and several ./client
 * processes, all real: concurrent and sequential clients sharing the board,
 * SHMKV_PATH, a restarted server adopting the table, and the windows of a
 * SIGKILLed client coming back. Every test has its own temp dir and region
 * path, a timeout, and kills what it started even when it fails. No speed
 * assertions.
 */
import { test, describe } from 'node:test';
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import { BIN, Scope, lines, pidInRegion, waitUntil } from '../support/procs';
import { LONG, Req, formatReqs, parseReqs, valuesText } from '../support/workload-text';

/** Last value put per key, in workload order (valid when keys never cross threads). */
function finalState(reqs: Req[], into = new Map<number, number>()): Map<number, number> {
  for (const r of reqs) if (r.op === 'put') into.set(r.key, r.value);
  return into;
}

describe('e2e: one ./server, many clients', () => {
  test('two concurrent clients on disjoint keys, then 5 sequential clients that each need the whole board', { timeout: 1_800_000 }, async (t) => {
    const s = new Scope(t);
    const region = s.p('region');
    const srv = await s.startServer(['-n', '2', '-s', '1', '-c', '256', '-p', region]);
    assert.equal(s.exists('region'), true);

    // A: even keys (2k), B: odd keys (2k+1). The maps are injective, so each
    // workload stays deterministic for its (threads, window) and its expected
    // results are unchanged; A and B never touch the same key.
    const mk = async (name: string, n: number, w: number, seed: number, map: (k: number) => number): Promise<Req[]> => {
      const g = await s.gen(['-n', '40000', '-k', '20000', '-t', String(n), '-w', String(w), '-r', String(seed), '-o', `${name}.gen`, '-e', `${name}.e`]);
      assert.equal(g.code, 0, g.stderr);
      const reqs = parseReqs(s.read(`${name}.gen`)).map((r) => ({ ...r, key: map(r.key) }));
      s.write(`${name}.txt`, formatReqs(reqs));
      return reqs;
    };
    const a = await mk('a', 2, 32, 41, (k) => 2 * k);
    const b = await mk('b', 3, 16, 42, (k) => 2 * k + 1);
    const runA = s.client(['-n', '2', '-w', '32', '-i', 'a.txt', '-c', '-e', 'a.e', '-o', 'a.out', '-p', region], { timeoutMs: 600_000 });
    const runB = s.client(['-n', '3', '-w', '16', '-i', 'b.txt', '-c', '-e', 'b.e', '-o', 'b.out', '-p', region], { timeoutMs: 600_000 });
    const [ra, rb] = await Promise.all([runA, runB]);
    assert.equal(ra.code, 0, `client A: ${ra.stderr}`);
    assert.equal(rb.code, 0, `client B: ${rb.stderr}`);
    assert.match(ra.stderr, /all \d+ get results match a\.e/);
    assert.match(rb.stderr, /all \d+ get results match b\.e/);
    assert.equal(s.read('a.out'), s.read('a.e'));
    assert.equal(s.read('b.out'), s.read('b.e'));

    // 4 threads x window 64 = 256 windows = the whole board: each of these
    // only fits if every earlier client released its windows.
    for (let i = 0; i < 5; i++) {
      const g = await s.gen(['-n', '20000', '-k', '4000', '-t', '4', '-w', '64', '-r', String(50 + i), '-o', `s${i}.gen`, '-e', `s${i}.e`]);
      assert.equal(g.code, 0, g.stderr);
      const base = 1_000_000 * (i + 1);
      s.write(`s${i}.txt`, formatReqs(parseReqs(s.read(`s${i}.gen`)).map((r) => ({ ...r, key: base + r.key }))));
      const r = await s.client(['-n', '4', '-w', '64', '-i', `s${i}.txt`, '-c', '-e', `s${i}.e`, '-p', region], { timeoutMs: 600_000 });
      assert.equal(r.code, 0, `sequential client ${i}: ${r.stderr}`);
      assert.match(r.stderr, new RegExp(`all \\d+ get results match s${i}\\.e`));
    }

    // The table still holds A's and B's final values.
    const state = finalState(b, finalState(a));
    const keys = [...state.keys()].sort((x, y) => x - y);
    s.write('q.txt', keys.map((k) => `get ${k}`).join('\n') + '\n');
    s.write('q.e', valuesText(keys.map((k) => state.get(k)!)));
    const q = await s.client(['-n', '2', '-w', '16', '-i', 'q.txt', '-c', '-e', 'q.e', '-p', region]);
    assert.equal(q.code, 0, q.stderr);

    const st = await srv.stop('SIGTERM');
    assert.equal(st.code, 0, srv.stderr);
    // The region stays (STOPPED): with the data file, it is the cache the next server adopts.
    assert.equal(s.exists('region'), true);
    const drop = await s.server(['--drop', '-p', region]);
    assert.equal(drop.code, 0, drop.stderr);
    assert.match(drop.stderr, /^server: dropped the cache of /);
    assert.equal(s.exists('region'), false);
    assert.deepEqual(fs.readdirSync(s.dir).filter((f) => /\.(data|xchg)$/.test(f)), [], '--drop removed the data file');
  });

  test('SHMKV_PATH selects the region for both server and client', { timeout: 600_000 }, async (t) => {
    const s = new Scope(t);
    const env = { SHMKV_PATH: s.p('envregion') };
    const srv = await s.startServer(['-n', '1'], { env });
    assert.match(srv.stderr, /region .*envregion/);
    assert.equal(s.exists('envregion'), true);
    assert.equal(s.exists('shmem_file'), false);
    s.write('w.txt', 'put 7 70\nget 7\n');
    const r = await s.client(['-i', 'w.txt', '-o', 'out.txt'], { env });
    assert.equal(r.code, 0, r.stderr);
    assert.equal(s.read('out.txt'), '70\n');
    // -p wins over SHMKV_PATH.
    const r2 = await s.client(['-i', 'w.txt', '-p', s.p('other')], { env });
    assert.notEqual(r2.code, 0);
    assert.match(r2.stderr, /other/);
    assert.equal((await srv.stop()).code, 0);
    assert.equal(s.exists('envregion'), true, 'a stop keeps the region (the cache)');
  });

  test('a restarted server adopts the table, after SIGTERM and after SIGKILL; --fresh starts empty', { timeout: 600_000 }, async (t) => {
    const s = new Scope(t);
    const region = s.p('region');
    s.write('put.txt', 'put 5 55\n');
    s.write('get.txt', 'get 5\n');
    let srv = await s.startServer(['-p', region]);
    assert.equal((await s.client(['-i', 'put.txt', '-p', region])).code, 0);
    const got = await s.client(['-i', 'get.txt', '-o', 'o1', '-p', region]);
    assert.equal(got.code, 0, got.stderr);
    assert.equal(s.read('o1'), '55\n');
    await srv.stop('SIGKILL');
    assert.equal(s.exists('region'), true, 'SIGKILL cannot clean up');
    const stale = await s.client(['-i', 'get.txt', '-p', region]);
    assert.equal(stale.code, 1);
    assert.equal(lines(stale.stderr).length, 1, stale.stderr);
    assert.match(stale.stderr, /died|stale/);
    assert.ok(stale.stderr.includes(region), stale.stderr);
    srv = await s.startServer(['-p', region]);
    assert.match(srv.stderr, /adopted 1 key\(s\) from /);
    const warm = await s.client(['-i', 'get.txt', '-o', 'o2', '-p', region]);
    assert.equal(warm.code, 0, warm.stderr);
    assert.equal(s.read('o2'), '55\n', 'the put acknowledged before the SIGKILL is there');
    assert.equal((await srv.stop('SIGTERM')).code, 0);
    srv = await s.startServer(['-p', region]);
    assert.equal((await s.client(['-i', 'get.txt', '-o', 'o3', '-p', region])).code, 0);
    assert.equal(s.read('o3'), '55\n', 'and after a SIGTERM restart');
    assert.equal((await srv.stop('SIGINT')).code, 0);
    srv = await s.startServer(['-p', region, '--fresh']);
    assert.match(srv.stderr, /an empty table/);
    assert.equal((await s.client(['-i', 'get.txt', '-o', 'o4', '-p', region])).code, 0);
    assert.equal(s.read('o4'), '0\n');
    assert.equal((await srv.stop('SIGINT')).code, 0);
  });

  test('windows of a SIGKILLed client are reclaimed, even on an otherwise idle server', { timeout: 600_000 }, async (t) => {
    const s = new Scope(t);
    const region = s.p('region');
    const srv = await s.startServer(['-n', '1', '-c', '64', '-p', region]);
    s.write('long.txt', LONG);
    s.write('g.txt', 'get 2\n');
    // The victim holds one window per thread; kill it mid-run.
    const victim = s.spawn(BIN.client, ['-n', '1', '-w', '1', '-i', 'long.txt', '-p', region]);
    await waitUntil('the victim to attach (its pid in the owner table)', () => pidInRegion(region, victim.child.pid!));
    victim.child.kill('SIGKILL');
    const v = await victim.done;
    assert.equal(v.signal, 'SIGKILL', `the victim finished before it was killed: ${v.stdout}`);
    // A client that needs all 64 windows must get them back, with no other
    // traffic needed to push the reaper (the probes fail before sending any
    // request). Bounded generously: a loaded machine may delay the reaper's
    // ticks, and each probe is a node start-up.
    let last = '';
    await waitUntil(
      "the dead client's windows to be reclaimed",
      async () => {
        const r = await s.client(['-n', '1', '-w', '64', '-i', 'g.txt', '-p', region]);
        last = r.stderr;
        if (r.code === 0) return true;
        assert.match(r.stderr, /free consecutive windows|board/, `the probe failed for another reason: ${r.stderr}`);
        return false;
      },
      30_000,
      200,
    ).catch((e: Error) => assert.fail(`${e.message}; last probe: ${last}`));
    assert.equal((await srv.stop()).code, 0);
  });
});
