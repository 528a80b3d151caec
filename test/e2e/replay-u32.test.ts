/**
 * End-to-end replays of number (u32) workloads by the real CLIs as real
 * processes: ./genworkload writes deterministic workloads, ./client -f forks
 * its own server, replays them and checks every get result (-c) and its
 * output (-o), through the ring and with --direct. Every test has its own
 * temp dir and region path, a timeout, and kills what it started even when
 * it fails. No speed assertions.
 */
import { test, describe } from 'node:test';
import * as assert from 'node:assert/strict';
import { connect } from '../../src/index';
import { Scope, lines } from '../support/procs';
import { checkForkedReplay } from '../support/forked-replay';
import { parseReqs, valuesText } from '../support/workload-text';

function getCount(expectedText: string): number {
  return lines(expectedText).length;
}

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
  await checkForkedReplay(s, args, gets, 600_000);
  return { workload, expected };
}

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
