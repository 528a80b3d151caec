/**
 * End-to-end tests of byte workloads (set/get/del of strings) with the real
 * CLIs as real processes: ./genworkload --key-bytes/--value-bytes/--del
 * writes deterministic workloads, ./client replays them through the ring or
 * with --direct (gets from the shared table) and checks every get with -c
 * and -o. Every test has its own temp dir and region, a timeout, and kills
 * what it started even when it fails. No speed assertions.
 */
import { test, describe } from 'node:test';
import * as assert from 'node:assert/strict';
import { Scope, hasStackTrace, lines, pidsMentioning } from '../support/procs';
import { checkForkedReplay } from '../support/forked-replay';

interface Case {
  n: number;
  w: number;
  t: number;
  count: number;
  seed: number;
  direct: boolean;
  gen: string[];
}

function label(c: Case): string {
  return `n=${c.n} w=${c.w} t=${c.t} count=${c.count} seed=${c.seed} ${c.gen.join(' ')}${c.direct ? ' --direct' : ' (ring)'}`;
}

/** Generate a byte workload deterministic for (n, w), replay it with -f -c -o and check everything. */
async function forkedRun(s: Scope, c: Case): Promise<{ workload: string; expected: string; stderr: string }> {
  const g = await s.gen(['-n', String(c.count), '-t', String(c.n), '-w', String(c.w), '-r', String(c.seed), ...c.gen, '-o', 'w.txt', '-e', 'e.txt']);
  assert.equal(g.code, 0, `genworkload failed: ${g.stderr}`);
  const workload = s.read('w.txt');
  const expected = s.read('e.txt');
  const gets = workload.split('\n').filter((l) => l.startsWith('get ')).length;
  const args = ['-f', '-n', String(c.n), '-w', String(c.w), '-t', String(c.t), '-i', 'w.txt', '-c', '-e', 'e.txt', '-o', 'out.txt', '-p', s.p('region')];
  if (c.direct) args.push('--direct');
  const { stderr } = await checkForkedReplay(s, args, gets, 90_000);
  return { workload, expected, stderr };
}

describe('e2e bytes: client -f replays deterministic byte workloads exactly', () => {
  const matrix: Case[] = [
    { n: 1, w: 1, t: 1, count: 10_000, seed: 31, direct: false, gen: ['-k', '500', '--key-bytes', '16', '--value-bytes', '100', '--del', '10'] },
    { n: 2, w: 8, t: 1, count: 30_000, seed: 32, direct: false, gen: ['-k', '2000', '--key-bytes', '16', '--value-bytes', '100', '--del', '10'] },
    { n: 2, w: 8, t: 2, count: 30_000, seed: 33, direct: false, gen: ['-k', '2000', '--key-bytes', '24', '--value-bytes', '40', '--del', '20'] },
    { n: 2, w: 8, t: 1, count: 30_000, seed: 34, direct: true, gen: ['-k', '2000', '--key-bytes', '16', '--value-bytes', '100', '--del', '10'] },
    { n: 2, w: 16, t: 2, count: 40_000, seed: 35, direct: true, gen: ['-k', '1000', '--key-bytes', '16', '--value-bytes', '100', '--del', '15', '-z', '0.99'] },
    { n: 3, w: 4, t: 2, count: 30_000, seed: 36, direct: true, gen: ['-k', '300', '--key-bytes', '8', '--value-bytes', '3', '--del', '30', '-p', '40'] },
  ];
  for (const c of matrix) {
    test(label(c), { timeout: 120_000 }, async (t) => {
      const { workload, expected } = await forkedRun(new Scope(t), c);
      // The run exercised what it claims: sets, deletes, and gets both present and absent.
      assert.match(workload, /^del /m);
      assert.match(workload, /^set /m);
      const exp = expected.split('\n').slice(0, -1);
      assert.ok(exp.some((v) => v === ''), 'no get of an absent key');
      assert.ok(exp.some((v) => v !== ''), 'no get of a present key');
    });
  }

  test('big keys and values (4096-byte keys, 200 KB values) grow the staging blocks, ring and --direct', { timeout: 120_000 }, async (t) => {
    for (const direct of [false, true]) {
      const c: Case = { n: 2, w: 4, t: 2, count: 300, seed: 41, direct, gen: ['-k', '60', '--key-bytes', '4096', '--value-bytes', '200000'] };
      const { workload } = await forkedRun(new Scope(t), c);
      const set = workload.split('\n').find((l) => l.startsWith('set '))!.split(' ');
      assert.equal(Buffer.byteLength(set[1]), 4096);
      assert.equal(Buffer.byteLength(set[2]), 200000);
    }
  });

  test('all gets (-p 0): a byte file of gets only is still the byte form; every result line is empty', { timeout: 60_000 }, async (t) => {
    const s = new Scope(t);
    const { expected } = await forkedRun(s, { n: 2, w: 4, t: 1, count: 1000, seed: 42, direct: true, gen: ['-k', '100', '--key-bytes', '6', '-p', '0'] });
    assert.equal(expected, '\n'.repeat(1000));
  });

  test('the same byte workload gives the same output through the ring and with --direct', { timeout: 90_000 }, async (t) => {
    const s = new Scope(t);
    assert.equal((await s.gen(['-n', '20000', '-k', '500', '-t', '2', '-w', '8', '--value-bytes', '20', '--del', '10', '-o', 'w.txt', '-e', 'e.txt'])).code, 0);
    for (const [flag, out] of [[null, 'ring.out'], ['--direct', 'direct.out']] as const) {
      const args = ['-f', '-n', '2', '-w', '8', '-t', '2', '-i', 'w.txt', '-o', out, '-p', s.p('region')];
      if (flag) args.push(flag);
      const r = await s.client(args, { timeoutMs: 60_000 });
      assert.equal(r.code, 0, r.stderr);
    }
    assert.equal(s.read('ring.out'), s.read('e.txt'));
    assert.equal(s.read('direct.out'), s.read('e.txt'));
  });

  test('--direct keeps a thread\'s order when a byte workload reuses keys back to back (sets, deletes and gets of one key in a row)', { timeout: 120_000 }, async (t) => {
    // Through the ring, two writes to one key in one window may run in
    // either order on 3 server threads; --direct settles every request to a
    // key before the next one to it (replay-bytes.ts, ORDER).
    const s = new Scope(t);
    const reqs: string[] = [];
    const want: string[] = [];
    for (let i = 0; i < 3_000; i++) {
      const k = `key${i % 5}`;
      reqs.push(`set ${k} a${i}`, `set ${k} b${i}`, `get ${k}`);
      want.push(`b${i}`);
      if (i % 3 === 0) {
        reqs.push(`del ${k}`, `get ${k}`);
        want.push('');
      }
    }
    s.write('w.txt', reqs.join('\n') + '\n');
    s.write('e.txt', want.join('\n') + '\n');
    const r = await s.client(['-f', '-n', '1', '-w', '16', '-t', '3', '-i', 'w.txt', '-c', '-e', 'e.txt', '--direct', '-p', s.p('region')], { timeoutMs: 90_000 });
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stderr, new RegExp(`client: all ${want.length} get results match e\\.txt`));
  });

  test('genworkload byte form: deterministic for a seed, thread-disjoint keys, no key reuse within W, values name their write', { timeout: 60_000 }, async (t) => {
    const s = new Scope(t);
    const args = ['-n', '6000', '-k', '900', '-t', '3', '-w', '16', '--key-bytes', '12', '--value-bytes', '30', '--del', '20', '-r', '9'];
    assert.equal((await s.gen([...args, '-o', 'a.txt', '-e', 'a.e'])).code, 0);
    assert.equal((await s.gen([...args, '-o', 'b.txt', '-e', 'b.e'])).code, 0);
    assert.equal(s.read('a.txt'), s.read('b.txt'));
    assert.equal(s.read('a.e'), s.read('b.e'));
    const rows = lines(s.read('a.txt')).map((l) => l.split(' '));
    assert.equal(rows.length, 6000);
    // The client's split: 3 contiguous parts of 2000.
    for (let part = 0; part < 3; part++) {
      const mine = rows.slice(part * 2000, (part + 1) * 2000);
      mine.forEach((r, j) => {
        assert.match(r[0], /^(set|get|del)$/);
        assert.match(r[1], /^k\d{11}$/);
        assert.equal(Number(r[1].slice(1)) % 3, part, `key ${r[1]} crosses threads`);
        for (let b = Math.max(0, j - 15); b < j; b++) assert.notEqual(mine[b][1], r[1], `key ${r[1]} reused within 16 requests`);
        if (r[0] === 'set') {
          assert.equal(r[2].length, 30);
          // The value starts with its request number in base 36.
          const i = part * 2000 + j;
          assert.ok(r[2].startsWith(i.toString(36)), `${r[2]} does not name write ${i}`);
        } else {
          assert.equal(r.length, 2);
        }
      });
    }
  });
});

describe('e2e bytes: hand-written workloads against one ./server', () => {
  test('UTF-8 strings, string keys that look like numbers, deletes, and u32 keys kept apart', { timeout: 60_000 }, async (t) => {
    const s = new Scope(t);
    const region = s.p('region');
    const srv = await s.startServer(['-n', '2', '-p', region]);
    // The u32 key 5 and the string key "5" are different keys.
    s.write('u.txt', 'put 5 77\nget 5\n');
    const u = await s.client(['-i', 'u.txt', '-o', 'u.out', '-p', region]);
    assert.equal(u.code, 0, u.stderr);
    assert.equal(s.read('u.out'), '77\n');
    // Twelve requests: with -n 2 each thread's six touch their own keys.
    s.write(
      'b.txt',
      ['get 5', 'set 5 five', 'get 5', '', 'del 5', '  get\t5  ', 'del never-set', 'set clé été→☃', 'get clé', 'set k v1', 'set k v2', 'get k', 'get clé'].join('\r\n') + '\r\n',
    );
    const want = ['', 'five', '', 'été→☃', 'v2', 'été→☃'].join('\n') + '\n';
    for (const flag of [[], ['--direct']]) {
      // Every pass ends as it began for "5" (absent); k and clé are set again to the same values.
      const r = await s.client(['-n', '1', '-w', '1', '-i', 'b.txt', '-o', 'b.out', '-p', region, ...flag]);
      assert.equal(r.code, 0, r.stderr);
      assert.equal(s.read('b.out'), want, `results with ${flag.join(' ') || 'the ring'}`);
      s.write('b.e', want);
      const c = await s.client(['-n', '2', '-w', '1', '-i', 'b.txt', '-c', '-e', 'b.e', '-p', region, ...flag]);
      assert.equal(c.code, 0, c.stderr);
      assert.match(c.stderr, /all 6 get results match b\.e/);
    }
    // The u32 key is untouched by the string key's set and delete.
    const u2 = await s.client(['-i', 'u.txt', '-o', 'u.out', '-p', region]);
    assert.equal(u2.code, 0, u2.stderr);
    assert.equal(s.read('u.out'), '77\n');
    assert.equal((await srv.stop()).code, 0, srv.stderr);
  });

  test('-c mismatch in a byte workload: one line with file:line, the key, what came and what was expected', { timeout: 60_000 }, async (t) => {
    const s = new Scope(t);
    s.write('w.txt', 'set a 1\nset b 2\n\nget a\ndel b\nget b\nget a\n');
    s.write('good.e', '1\n\n1\n');
    const good = await s.client(['-f', '-i', 'w.txt', '-c', '-e', 'good.e', '-p', s.p('region')]);
    assert.equal(good.code, 0, good.stderr);
    s.write('wrong.e', '1\n2\n1\n');
    const r = await s.client(['-f', '-i', 'w.txt', '-c', '-e', 'wrong.e', '-o', 'out.txt', '-p', s.p('region')]);
    assert.equal(r.code, 1, r.stderr);
    assert.equal(hasStackTrace(r.stderr), false, r.stderr);
    const errLines = lines(r.stderr);
    assert.equal(errLines.length, 1, r.stderr);
    assert.match(errLines[0], /^client: mismatch at w\.txt:6 \(get b\): got \(absent\), wrong\.e line 2 expects "2"$/);
    assert.equal(s.read('out.txt'), '1\n\n1\n');
    assert.deepEqual(pidsMentioning(s.dir), []);
  });
});
