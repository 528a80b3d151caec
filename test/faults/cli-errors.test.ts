/**
 * User mistakes on the command line and in input files, against the real
 * CLIs as processes: each must end in exactly one line on stderr (no stack
 * trace), a non-zero exit (2 for usage, 1 for input), and no side effect
 * (no region created, nothing submitted to a server, no process left).
 */
import { test, describe } from 'node:test';
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { BIN, ROOT, Scope, hasStackTrace, lines, pidsMentioning } from '../support/procs';
import { assertOneLineError, assertNoSideEffects, Cli } from '../support/cli-asserts';

// ---- flags ----------------------------------------------------------------------

const FLAG_CASES: Record<Cli, Array<[string, string[]]>> = {
  client: [
    ['unknown short flag', ['-x']],
    ['unknown long flag', ['--bogus']],
    ['unexpected positional argument', ['workload.txt']],
    ['missing value (last)', ['-n']],
    ['missing value (followed by a flag)', ['-n', '-w', '2']],
    ['zero threads', ['-n', '0']],
    ['negative window', ['-w', '-1']],
    ['non-integer threads', ['-n', 'abc']],
    ['fractional threads', ['-n', '1.5']],
    ['exponent notation', ['-w', '1e3']],
    ['empty value', ['-n', '']],
    ['too many threads', ['-n', '100000']],
    ['zero server threads', ['-f', '-t', '0']],
    ['-e without -c', ['-e', 'other.txt']],
  ],
  server: [
    ['unknown short flag', ['-x']],
    ['unknown long flag', ['--bogus']],
    ['unexpected positional argument', ['extra']],
    ['missing value (last)', ['-s']],
    ['missing value (followed by a flag)', ['-n', '-s', '2']],
    ['zero threads', ['-n', '0']],
    ['negative size', ['-s', '-1']],
    ['non-integer threads', ['-n', 'abc']],
    ['fractional threads', ['-n', '1.5']],
    ['zero windows', ['-c', '0']],
    ['zero memory', ['-m', '0']],
    ['empty region path', ['-p', '']],
  ],
  genworkload: [
    ['unknown short flag', ['-x']],
    ['unknown long flag', ['--bogus']],
    ['unexpected positional argument', ['extra']],
    ['missing value (last)', ['-n']],
    ['missing value (followed by a flag)', ['-n', '-k', '10']],
    ['zero count', ['-n', '0']],
    ['negative threads', ['-t', '-1']],
    ['non-integer count', ['-n', 'abc']],
    ['fractional count', ['-n', '1.5']],
    ['put percentage over 100', ['-p', '101']],
    ['zero keys', ['-k', '0']],
    ['bad zipf exponent', ['-z', 'abc']],
    ['zero zipf exponent', ['-z', '0']],
    ['negative zipf exponent', ['-z', '-1']],
  ],
};

for (const cmd of ['client', 'server', 'genworkload'] as const) {
  describe(`${cmd}: bad flags give one usage line and exit 2`, () => {
    for (const [what, args] of FLAG_CASES[cmd]) {
      test(`${cmd} ${args.map((a) => (a === '' ? "''" : a)).join(' ')} (${what})`, { timeout: 600_000 }, async (t) => {
        const s = new Scope(t);
        const before = fs.readdirSync(s.dir).sort();
        // Default region path ./shmem_file and default output files land in the temp dir.
        const r = await s.run(BIN[cmd], args, { timeoutMs: 60_000 });
        assertOneLineError(r, cmd, 2, `${cmd} ${args.join(' ')}`);
        assertNoSideEffects(s, before, `${cmd} ${args.join(' ')}`);
      });
    }
  });
}

test('a negative number after an integer flag is named as out of range, not "argument is ambiguous"', { timeout: 30_000 }, async (t) => {
  const s = new Scope(t);
  const cases: Array<[Cli, string[], RegExp]> = [
    ['server', ['-s', '-5'], /^server: -s must be in 1\.\.\d+, got -5 /],
    ['server', ['--threads', '-2'], /^server: -n must be in 1\.\.\d+, got -2 /],
    ['server', ['-s=-5'], /^server: /],
    ['client', ['-w', '-1'], /^client: -w must be (in 1\.\.\d+|at least 1), got -1 /],
    ['genworkload', ['-n', '-3'], /^genworkload: -n must be (in 1\.\.\d+|at least 1), got -3 /],
  ];
  for (const [cmd, args, re] of cases) {
    const r = await s.run(BIN[cmd], args, { timeoutMs: 15_000 });
    const line = assertOneLineError(r, cmd, 2, `${cmd} ${args.join(' ')}`);
    assert.match(line, re);
    assert.doesNotMatch(line, /ambiguous/);
  }
});

test('-h prints usage on stdout and exits 0 for every CLI', { timeout: 600_000 }, async (t) => {
  const s = new Scope(t);
  for (const cmd of ['client', 'server', 'genworkload'] as const) {
    const r = await s.run(BIN[cmd], ['-h']);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, new RegExp(`^usage: ${cmd} `));
    assert.equal(r.stderr, '');
  }
  assert.deepEqual(fs.readdirSync(s.dir), []);
});

// ---- server / genworkload non-flag errors ----------------------------------------------

describe('server and genworkload: bad values and paths give one line and exit 1', () => {
  test('server: ring capacity not a power of two, region in a missing dir, region is a directory', { timeout: 600_000 }, async (t) => {
    const s = new Scope(t);
    fs.mkdirSync(s.p('adir'));
    const cases: Array<[string, string[]]> = [
      ['ring capacity 3', ['-r', '3', '-p', s.p('region')]],
      ['region in a missing directory', ['-p', s.p('missing/region')]],
      ['region is a directory', ['-p', s.p('adir')]],
    ];
    for (const [what, args] of cases) {
      const r = await s.server(args, { timeoutMs: 60_000 });
      assertOneLineError(r, 'server', 1, what);
      assert.equal(s.exists('region'), false, what);
    }
    assert.deepEqual(pidsMentioning(s.dir), []);
  });

  test('server: a worker that fails before serving (its warm-up throws) stops the server with one line, no file left', { timeout: 600_000 }, async (t) => {
    const s = new Scope(t);
    const before = fs.readdirSync(s.dir).sort();
    const serverJs = path.join(ROOT, 'dist', 'src', 'cli', 'server.js');
    const preload = path.join(ROOT, 'dist', 'test', 'fixtures', 'faults', 'fail-warmup.js');
    const r = await s.run(process.execPath, ['--require', preload, serverJs, '-n', '2', '-p', s.p('region'), '--data-dir', s.dir], { timeoutMs: 120_000 });
    const line = assertOneLineError(r, 'server', 1, 'failing warm-up');
    assert.match(line, /^server: a server worker failed to start: injected warm-up failure$/);
    assertNoSideEffects(s, before, 'failing warm-up');
  });

  test('genworkload: impossible deterministic workload, unwritable output', { timeout: 600_000 }, async (t) => {
    const s = new Scope(t);
    const r1 = await s.gen(['-n', '100', '-t', '4', '-w', '100', '-k', '100']);
    const m1 = assertOneLineError(r1, 'genworkload', 1, 'too few keys');
    assert.match(m1, /-k/);
    const r2 = await s.gen(['-n', '100', '-o', s.p('missing/w.txt'), '-e', s.p('e.txt')]);
    const m2 = assertOneLineError(r2, 'genworkload', 1, 'unwritable output');
    assert.ok(m2.includes(s.p('missing/w.txt')), m2);
    assert.deepEqual(fs.readdirSync(s.dir), []);
  });
});

// ---- workload files ---------------------------------------------------------------

/** Bad line (at line 4 of the file, after valid puts and a blank line) and a snippet the message must hold. */
const MALFORMED: Array<[string, string]> = [
  ['bad verb', 'fetch 1'],
  ['upper-case verb', 'GET 1'],
  ['verb glued to key', 'get1'],
  ['get without key', 'get'],
  ['put without value', 'put 5'],
  ['put without key', 'put'],
  ['extra token after get', 'get 1 2'],
  ['extra token after put', 'put 1 2 3'],
  ['trailing comment', 'put 1 2 # note'],
  ['key out of range', 'get 4294967296'],
  ['value out of range', 'put 1 4294967296'],
  ['huge key', 'get 99999999999999999999999'],
  ['negative key', 'get -1'],
  ['negative value', 'put 1 -2'],
  ['hex key', 'get 0x10'],
  ['hex value', 'put 1 0xff'],
  ['fractional key', 'get 1.5'],
  ['plus sign', 'get +1'],
];

describe('client: bad workload files give one line naming file and line, exit 1, nothing submitted', () => {
  test('missing, directory, empty and blank workload files', { timeout: 600_000 }, async (t) => {
    const s = new Scope(t);
    fs.mkdirSync(s.p('adir'));
    s.write('empty.txt', '');
    s.write('blank.txt', '\n   \n\t\n\n');
    const cases: Array<[string, string]> = [
      ['nope.txt', 'missing file'],
      ['adir', 'a directory'],
      ['empty.txt', 'empty file'],
      ['blank.txt', 'only blank lines'],
    ];
    const before = fs.readdirSync(s.dir).sort();
    for (const [file, what] of cases) {
      // -f: a parse failure must come before forking a server.
      const r = await s.client(['-f', '-i', file, '-p', s.p('region')]);
      const msg = assertOneLineError(r, 'client', 1, what);
      assert.ok(msg.includes(file), `${what}: message does not name ${file}: ${msg}`);
      assertNoSideEffects(s, before, what);
    }
    if (process.getuid && process.getuid() !== 0) {
      s.write('locked.txt', 'get 1\n');
      fs.chmodSync(s.p('locked.txt'), 0o000);
      const r = await s.client(['-i', 'locked.txt', '-p', s.p('region')]);
      const msg = assertOneLineError(r, 'client', 1, 'unreadable file');
      assert.ok(msg.includes('locked.txt'), msg);
    }
  });

  test('malformed lines: file:line in one stderr line, and the valid lines before them are never submitted', { timeout: 1_800_000 }, async (t) => {
    const s = new Scope(t);
    const region = s.p('region');
    const srv = await s.startServer(['-n', '2', '-p', region]);
    const keys: number[] = [];
    for (const [i, [what, bad]] of MALFORMED.entries()) {
      await t.test(`${what}: ${JSON.stringify(bad)}`, async () => {
        const k1 = 1000 + 2 * i;
        const k2 = k1 + 1;
        keys.push(k1, k2);
        const file = `bad${i}.txt`;
        s.write(file, `put ${k1} 111\n\nput ${k2} 222\n${bad}\nget ${k1}\n`);
        const r = await s.client(['-n', '1', '-w', '4', '-i', file, '-p', region]);
        const msg = assertOneLineError(r, 'client', 1, what);
        assert.ok(msg.includes(`${file}:4`), `${what}: message does not name ${file}:4: ${msg}`);
      });
    }
    // A CRLF workload is fine (and proves the server still serves).
    s.write('crlf.txt', 'put 1 2\r\nget 1\r\n');
    const ok = await s.client(['-i', 'crlf.txt', '-o', 'crlf.out', '-p', region]);
    assert.equal(ok.code, 0, ok.stderr);
    assert.equal(s.read('crlf.out'), '2\n');
    // None of the puts before a bad line reached the table.
    s.write('q.txt', keys.map((k) => `get ${k}`).join('\n') + '\n');
    const q = await s.client(['-n', '2', '-w', '8', '-i', 'q.txt', '-o', 'q.out', '-p', region]);
    assert.equal(q.code, 0, q.stderr);
    assert.equal(s.read('q.out'), keys.map(() => '0\n').join(''), 'a request from a malformed workload was submitted');
    assert.equal((await srv.stop()).code, 0, srv.stderr);
  });
});

// ---- expected files and -c --------------------------------------------------------

describe('client: expected files and -c', () => {
  test('wrong number of expected values, malformed or missing expected file: one line, exit 1, nothing left behind', { timeout: 600_000 }, async (t) => {
    const s = new Scope(t);
    s.write('w.txt', 'put 1 5\nget 1\n\nget 2\n');
    s.write('few.e', '5\n');
    s.write('many.e', '5\n0\n0\n');
    s.write('bad.e', '5\nzero\n');
    s.write('neg.e', '5\n-1\n');
    s.write('big.e', '5\n4294967296\n');
    const cases: Array<[string, string, RegExp]> = [
      ['few.e', 'too few values', /1 .*2 gets|2 gets.*1/],
      ['many.e', 'too many values', /3 .*2 gets|2 gets.*3/],
      ['bad.e', 'a word', /bad\.e:2/],
      ['neg.e', 'a negative number', /neg\.e:2/],
      ['big.e', 'out of range', /big\.e:2/],
      ['nope.e', 'missing', /nope\.e/],
    ];
    const before = fs.readdirSync(s.dir).sort();
    for (const [file, what, re] of cases) {
      const r = await s.client(['-f', '-i', 'w.txt', '-c', '-e', file, '-p', s.p('region')]);
      // The run may or may not have happened; the error is what counts.
      const errLines = lines(r.stderr);
      assert.equal(r.code, 1, `${what}: ${r.stderr}`);
      assert.equal(hasStackTrace(r.stderr), false, r.stderr);
      assert.equal(errLines.length, 1, `${what}: ${r.stderr}`);
      assert.match(errLines[0], /^client: /);
      assert.ok(errLines[0].includes(file), `${what}: ${errLines[0]}`);
      assert.match(errLines[0], re, what);
      assertNoSideEffects(s, before, what);
    }
  });

  test('-c mismatch: exit 1, one line with the workload file:line and key of the first wrong get', { timeout: 600_000 }, async (t) => {
    const s = new Scope(t);
    assert.equal((await s.gen(['-n', '3000', '-k', '500', '-r', '7', '-o', 'gen.txt', '-e', 'e.txt'])).code, 0);
    // Blank lines every 50 rows: reported lines must be real file lines.
    const rows = s.read('gen.txt').split('\n').filter((l) => l !== '');
    const out: string[] = [];
    const getLine: number[] = [];
    const getKey: number[] = [];
    rows.forEach((row, i) => {
      if (i % 50 === 49) out.push('');
      out.push(row);
      if (row.startsWith('get ')) {
        getLine.push(out.length);
        getKey.push(Number(row.split(' ')[1]));
      }
    });
    s.write('w.txt', out.join('\n') + '\n');
    const expected = lines(s.read('e.txt')).map(Number);
    assert.equal(expected.length, getLine.length);
    // Sanity: the unmodified expectation matches.
    const good = await s.client(['-f', '-i', 'w.txt', '-c', '-e', 'e.txt', '-p', s.p('region')]);
    assert.equal(good.code, 0, good.stderr);
    // Corrupt the g-th expected value (0-based), a get well inside the file.
    const g = Math.floor(expected.length * 0.6);
    const wrong = expected.slice();
    wrong[g] = (wrong[g] + 1) >>> 0;
    s.write('wrong.e', wrong.join('\n') + '\n');
    const r = await s.client(['-f', '-i', 'w.txt', '-c', '-e', 'wrong.e', '-o', 'out.txt', '-p', s.p('region')]);
    assert.equal(r.code, 1, r.stderr);
    assert.equal(hasStackTrace(r.stderr), false, r.stderr);
    const errLines = lines(r.stderr);
    assert.equal(errLines.length, 1, r.stderr);
    assert.ok(errLines[0].includes(`w.txt:${getLine[g]} `), `expected w.txt:${getLine[g]} in: ${errLines[0]}`);
    assert.ok(errLines[0].includes(`get ${getKey[g]}`), errLines[0]);
    assert.ok(errLines[0].includes(`got ${expected[g]}`), errLines[0]);
    assert.ok(errLines[0].includes(`expects ${wrong[g]}`), errLines[0]);
    assert.ok(errLines[0].includes(`line ${g + 1} `), errLines[0]);
    // -o still holds the true results.
    assert.equal(s.read('out.txt'), s.read('e.txt'));
    assert.deepEqual(pidsMentioning(s.dir), []);
  });

  test('-c mismatch names the real line of an expected file that has blank lines', { timeout: 600_000 }, async (t) => {
    const s = new Scope(t);
    s.write('w.txt', 'put 1 5\nget 1\nget 2\n');
    // Blank lines are skipped when reading; the wrong value 7 sits on line 4.
    s.write('e.txt', '5\n\n\n7\n');
    const r = await s.client(['-f', '-i', 'w.txt', '-c', '-e', 'e.txt', '-p', s.p('region')]);
    assert.equal(r.code, 1, r.stderr);
    assert.equal(lines(r.stderr).length, 1, r.stderr);
    assert.match(r.stderr, /w\.txt:3 \(get 2\)/);
    assert.match(r.stderr, /e\.txt line 4 expects 7/, r.stderr);
  });

  test('-o into a missing directory: one line, exit 1', { timeout: 600_000 }, async (t) => {
    const s = new Scope(t);
    s.write('w.txt', 'get 1\n');
    const r = await s.client(['-f', '-i', 'w.txt', '-o', s.p('missing/out.txt'), '-p', s.p('region')]);
    assert.equal(r.code, 1, r.stderr);
    assert.equal(hasStackTrace(r.stderr), false, r.stderr);
    assert.equal(lines(r.stderr).length, 1, r.stderr);
    assert.ok(r.stderr.includes(s.p('missing/out.txt')), r.stderr);
    assert.equal(s.exists('region'), false);
    assert.deepEqual(pidsMentioning(s.dir), []);
  });
});
