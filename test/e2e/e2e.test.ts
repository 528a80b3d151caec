/**
 * End-to-end tests of the real CLIs as real processes: ./genworkload writes
 * deterministic workloads, ./client replays them (forking its own server with
 * -f, or against a ./server started first) and checks every get result.
 * Every test has its own temp dir and region path, a timeout, and kills what
 * it started even when it fails. No speed assertions.
 */
import { test, describe } from 'node:test';
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import { connect } from '../../src/index';
import { BIN, Scope, hasStackTrace, lines, pidInRegion, pidsMentioning, waitUntil } from '../support/procs';

// ---- workload text helpers -----------------------------------------------------

interface Req {
  op: 'put' | 'get';
  key: number;
  value: number;
  /** 1-based line in the file. */
  line: number;
}

function parseReqs(text: string): Req[] {
  const out: Req[] = [];
  text.split('\n').forEach((row, i) => {
    const f = row.trim().split(/\s+/);
    if (f[0] === 'put') out.push({ op: 'put', key: Number(f[1]), value: Number(f[2]), line: i + 1 });
    else if (f[0] === 'get') out.push({ op: 'get', key: Number(f[1]), value: 0, line: i + 1 });
  });
  return out;
}

function formatReqs(reqs: Req[]): string {
  return reqs.map((r) => (r.op === 'put' ? `put ${r.key} ${r.value}` : `get ${r.key}`)).join('\n') + '\n';
}

/** Last value put per key, in workload order (valid when keys never cross threads). */
function finalState(reqs: Req[], into = new Map<number, number>()): Map<number, number> {
  for (const r of reqs) if (r.op === 'put') into.set(r.key, r.value);
  return into;
}

function valuesText(values: number[]): string {
  return values.length ? values.join('\n') + '\n' : '';
}

function getCount(expectedText: string): number {
  return lines(expectedText).length;
}

/** A workload long enough (several seconds at -n 1 -w 1) to be interrupted mid-run. */
const LONG = 'get 1\n'.repeat(3_000_000);

// ---- shared assertions -----------------------------------------------------------

interface Case {
  n: number;
  w: number;
  t: number;
  s: number;
  count: number;
  seed: number;
  gen?: string[];
  coarse?: boolean;
  /** Gets read the shared table in the client thread (--direct). */
  direct?: boolean;
}

function label(c: Case): string {
  return `n=${c.n} w=${c.w} t=${c.t} s=${c.s} count=${c.count} seed=${c.seed}${c.gen?.length ? ' ' + c.gen.join(' ') : ''}${c.coarse ? ' --coarse' : ''}${c.direct ? ' --direct' : ''}`;
}

/** Generate a workload deterministic for (n, w), replay it with -f -c -o and check everything. */
async function forkedRun(s: Scope, c: Case): Promise<{ workload: string; expected: string }> {
  const g = await s.gen(['-n', String(c.count), '-t', String(c.n), '-w', String(c.w), '-r', String(c.seed), ...(c.gen ?? []), '-o', 'w.txt', '-e', 'e.txt']);
  assert.equal(g.code, 0, `genworkload failed: ${g.stderr}`);
  const workload = s.read('w.txt');
  const expected = s.read('e.txt');
  const gets = getCount(expected);
  const region = s.p('region');
  const args = ['-f', '-n', String(c.n), '-w', String(c.w), '-t', String(c.t), '-s', String(c.s), '-i', 'w.txt', '-c', '-e', 'e.txt', '-o', 'out.txt', '-p', region];
  if (c.coarse) args.push('--coarse');
  if (c.direct) args.push('--direct');
  const r = await s.client(args, { timeoutMs: 600_000 });
  assert.equal(r.timedOut, false, 'client timed out');
  assert.equal(r.code, 0, `client exit ${r.code ?? r.signal}; stderr: ${r.stderr}`);
  assert.match(r.stderr, new RegExp(`client: all ${gets} get results match e\\.txt`));
  assert.equal(hasStackTrace(r.stderr), false, r.stderr);
  assert.match(r.stdout, /^Total time: [\d.]+ ms\nThroughput: [\d.]+ K\/s\n$/);
  // -o writes exactly the expected file, byte for byte.
  assert.ok(fs.readFileSync(s.p('out.txt')).equals(fs.readFileSync(s.p('e.txt'))), 'out.txt differs from e.txt');
  // The forked server is gone: region removed, no process left behind.
  assert.equal(s.exists('region'), false, 'the forked server left its region file');
  assert.deepEqual(pidsMentioning(s.dir), [], 'a process started by the client is still running');
  return { workload, expected };
}

// ---- 1. randomized deterministic workloads, forked server ----------------------

describe('e2e: client -f replays deterministic workloads exactly', () => {
  const matrix: Case[] = [
    { n: 1, w: 1, t: 1, s: 1, count: 30_000, seed: 11 },
    { n: 1, w: 1, t: 3, s: 1, count: 30_000, seed: 12 },
    { n: 2, w: 4, t: 2, s: 1, count: 50_000, seed: 13 },
    { n: 3, w: 16, t: 2, s: 64, count: 60_000, seed: 14 },
    { n: 4, w: 8, t: 1, s: 1024, count: 100_000, seed: 15 },
    { n: 2, w: 32, t: 3, s: 1, count: 80_000, seed: 16 },
    { n: 2, w: 8, t: 2, s: 1, count: 40_000, seed: 17, coarse: true },
    // --direct: gets from the shared table, puts through the ring.
    { n: 1, w: 1, t: 1, s: 1, count: 30_000, seed: 18, direct: true },
    { n: 2, w: 16, t: 2, s: 1, count: 80_000, seed: 19, direct: true },
    { n: 3, w: 8, t: 3, s: 64, count: 60_000, seed: 20, direct: true, gen: ['-z', '0.99', '-k', '5000'] },
  ];
  for (const c of matrix) {
    test(`uniform keys: ${label(c)}`, { timeout: 1_800_000 }, async (t) => {
      await forkedRun(new Scope(t), c);
    });
  }

  test('zipf 0.99 keys are deterministic too (n=2 w=8 t=2, and n=3 w=4 t=3)', { timeout: 1_800_000 }, async (t) => {
    await forkedRun(new Scope(t), { n: 2, w: 8, t: 2, s: 1, count: 50_000, seed: 21, gen: ['-z', '0.99'] });
    await forkedRun(new Scope(t), { n: 3, w: 4, t: 3, s: 16, count: 30_000, seed: 22, gen: ['-z', '0.99', '-k', '5000'] });
  });

  test('--spread keys cover the u32 range, 0 and 4294967295 included', { timeout: 1_800_000 }, async (t) => {
    const { workload } = await forkedRun(new Scope(t), { n: 2, w: 4, t: 2, s: 1, count: 40_000, seed: 23, gen: ['--spread', '-k', '1000'] });
    const keys = new Set(parseReqs(workload).map((r) => r.key));
    assert.ok(keys.has(0), 'key 0 never used');
    assert.ok(keys.has(4294967295), 'key 4294967295 never used');
    assert.ok([...keys].some((k) => k > 2 ** 31), 'no key above 2^31');
  });

  test('95% gets (-p 5) and 5% gets (-p 95)', { timeout: 1_800_000 }, async (t) => {
    const a = await forkedRun(new Scope(t), { n: 3, w: 8, t: 2, s: 1, count: 40_000, seed: 24, gen: ['-p', '5'] });
    assert.ok(getCount(a.expected) > 0.9 * 40_000, 'expected ~95% gets');
    const b = await forkedRun(new Scope(t), { n: 2, w: 16, t: 2, s: 1, count: 40_000, seed: 25, gen: ['-p', '95', '-k', '2000'] });
    assert.ok(getCount(b.expected) < 0.1 * 40_000 && getCount(b.expected) > 0, 'expected ~5% gets');
    // With 95% puts on 2000 keys most gets must see a put value, not 0.
    assert.ok(lines(b.expected).filter((v) => v !== '0').length > getCount(b.expected) / 2);
  });

  test('request count not divisible by the thread count (remainder split)', { timeout: 1_800_000 }, async (t) => {
    await forkedRun(new Scope(t), { n: 3, w: 4, t: 2, s: 1, count: 20_003, seed: 26 });
    await forkedRun(new Scope(t), { n: 4, w: 2, t: 3, s: 1, count: 10_001, seed: 27 });
    await forkedRun(new Scope(t), { n: 7, w: 1, t: 2, s: 1, count: 1_000, seed: 28 });
  });

  test('all puts (no gets: empty expected and output) and all gets (all zero)', { timeout: 1_800_000 }, async (t) => {
    const a = await forkedRun(new Scope(t), { n: 2, w: 4, t: 2, s: 1, count: 5_000, seed: 29, gen: ['-p', '100'] });
    assert.equal(a.expected, '');
    const b = await forkedRun(new Scope(t), { n: 2, w: 4, t: 2, s: 1, count: 5_000, seed: 30, gen: ['-p', '0'] });
    assert.ok(lines(b.expected).every((v) => v === '0'));
  });

  test('more client threads than requests: idle threads are harmless', { timeout: 600_000 }, async (t) => {
    const s = new Scope(t);
    s.write('w.txt', 'get 1\nget 4294967295\n');
    const r = await s.client(['-f', '-n', '4', '-w', '3', '-i', 'w.txt', '-o', 'out.txt', '-p', s.p('region')]);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(s.read('out.txt'), '0\n0\n');
  });

  test('--direct keeps a thread\'s order when a workload reuses keys back to back (puts and gets of one key in a row)', { timeout: 600_000 }, async (t) => {
    // Not genworkload's rule (no key reused within W requests): through
    // the ring, two puts to one key in one window may run in either order
    // on 3 server threads. --direct settles every request to a key before
    // the next one to it, so the sequential answers are the only ones.
    const s = new Scope(t);
    const reqs: string[] = [];
    const want: number[] = [];
    for (let i = 0; i < 4_000; i++) {
      const k = i % 7;
      reqs.push(`put ${k} ${3 * i + 1}`, `put ${k} ${3 * i + 2}`, `get ${k}`, `get ${k + 100}`);
      want.push(3 * i + 2, 0);
    }
    s.write('w.txt', reqs.join('\n') + '\n');
    s.write('e.txt', valuesText(want));
    const r = await s.client(['-f', '-n', '1', '-w', '16', '-t', '3', '-i', 'w.txt', '-c', '-e', 'e.txt', '--direct', '-p', s.p('region')], { timeoutMs: 300_000 });
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stderr, new RegExp(`client: all ${want.length} get results match e\\.txt`));
  });

  test('--direct: a number key holding a string answers 0 as through the ring (the u32 get of a non-u32 value)', { timeout: 600_000 }, async (t) => {
    const s = new Scope(t);
    const region = s.p('region');
    const srv = await s.startServer(['-n', '2', '-p', region]);
    // A byte workload's "7" is a string key: the library stores a string under the number 7.
    const c = connect({ path: region });
    c.setSync(7, 'seven');
    c.setSync(8, 8);
    await c.close();
    // get 8 first: a reader that took any value found for a u32 would answer 8 again for 7.
    s.write('w.txt', 'get 8\nget 7\nput 9 9\nget 9\n');
    for (const direct of [false, true]) {
      const r = await s.client(['-n', '1', '-w', '4', '-i', 'w.txt', '-o', 'out.txt', '-p', region, ...(direct ? ['--direct'] : [])]);
      assert.equal(r.code, 0, r.stderr);
      assert.equal(s.read('out.txt'), '8\n0\n9\n', direct ? '--direct' : 'ring');
    }
    assert.equal((await srv.stop()).code, 0, srv.stderr);
  });

  test('the same workload gives the same output at 1 and 3 server threads', { timeout: 1_800_000 }, async (t) => {
    const s = new Scope(t);
    assert.equal((await s.gen(['-n', '30000', '-t', '2', '-w', '8', '-r', '31', '-o', 'w.txt', '-e', 'e.txt'])).code, 0);
    for (const st of ['1', '3']) {
      const r = await s.client(['-f', '-n', '2', '-w', '8', '-t', st, '-s', '1', '-i', 'w.txt', '-o', `out${st}.txt`, '-p', s.p('region')]);
      assert.equal(r.code, 0, r.stderr);
    }
    assert.equal(s.read('out1.txt'), s.read('e.txt'));
    assert.equal(s.read('out3.txt'), s.read('e.txt'));
  });
});

// ---- 2. a server started first, several clients -------------------------------

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

// ---- 3. server lifecycle ---------------------------------------------------------

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
