/**
 * ./genworkload at its limits, as a real process: workloads stream to their
 * files (memory does not grow with -n, and its own maximum -n runs), values of
 * 1 MiB, a key space too large for memory, a full file system (RLIMIT_FSIZE),
 * an interrupt; and what ./client does with a workload file too large to read.
 * Every failure is one line, exit 1 or 2, and leaves no half-written file.
 * The generated text itself is pinned by test/unit/workload-gen.test.ts.
 */
import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { BIN, ROOT, Scope, waitUntil } from '../support/procs';
import { assertOneLineError } from '../support/cli-asserts';
import { KEY_BYTES } from '../../src/workload/generate';

const MiB = 1024 * 1024;
/**
 * Peak RSS allowed to a streaming genworkload (measured: 74 MiB at -n 1M and
 * 124 MiB at -n 20M, Node 20). Building the text in memory took 271 MiB at
 * -n 1M and 997 MiB at -n 5M, so a regression cannot stay under it.
 */
const PEAK_RSS_BOUND = 192 * MiB;

/** VmHWM (peak RSS) of a live process, in bytes; null once it is gone. */
function peakRss(pid: number): number | null {
  try {
    const m = /^VmHWM:\s+(\d+) kB$/m.exec(fs.readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? Number(m[1]) * 1024 : null;
  } catch {
    return null;
  }
}

test('genworkload -n 2147483648 (its largest -n) streams: the file grows past 256 MiB with the peak RSS bounded, and SIGINT removes both files', { timeout: 300_000 }, async (t) => {
  const s = new Scope(t);
  const { child, done } = s.spawn(BIN.genworkload, ['-n', '2147483648', '-o', 'w.txt', '-e', 'e.txt']);
  let peak = 0;
  await waitUntil('the workload file to pass 256 MiB', () => {
    peak = Math.max(peak, peakRss(child.pid!) ?? 0);
    return s.exists('w.txt') && fs.statSync(s.p('w.txt')).size > 256 * MiB;
  }, 120_000);
  peak = Math.max(peak, peakRss(child.pid!) ?? 0);
  assert.ok(peak > 0, 'no peak RSS read from /proc');
  assert.ok(peak < PEAK_RSS_BOUND, `peak RSS ${(peak / MiB).toFixed(0)} MiB after 256 MiB written (bound ${PEAK_RSS_BOUND / MiB} MiB)`);
  child.kill('SIGINT');
  const r = await done;
  assert.equal(r.code, 130, `exit after SIGINT: ${r.code ?? r.signal}\n${r.stderr}`);
  assert.equal(r.stderr, 'genworkload: interrupted: removed the partial files\n');
  assert.deepEqual(fs.readdirSync(s.dir), [], 'partial files left');
});

test('genworkload: memory does not grow with -n: complete runs of 1,000,000 and 10,000,000 requests peak within 32 MiB of each other', { timeout: 300_000 }, async (t) => {
  const s = new Scope(t);
  const genJs = path.join(ROOT, 'dist', 'src', 'cli', 'genworkload.js');
  const peaks: number[] = [];
  for (const n of [1_000_000, 10_000_000]) {
    // V8 grows its young generation with the allocation rate, by up to 3 x 16 MiB
    // (measured: peaks of 74 and 121 MiB at these -n); pinned at 1 MiB, what is
    // left to grow is what the run retains.
    const { child, done } = s.spawn(process.execPath, ['--max-semi-space-size=1', genJs, '-n', String(n), '-o', 'w.txt', '-e', 'e.txt']);
    let peak = 0;
    let exited = false;
    void done.then(() => (exited = true));
    // VmHWM only grows: the last read before the exit is within one poll of the peak.
    while (!exited) {
      peak = Math.max(peak, peakRss(child.pid!) ?? 0);
      await new Promise((r) => setTimeout(r, 10));
    }
    const r = await done;
    assert.equal(r.code, 0, r.stderr);
    assert.equal(fs.statSync(s.p('w.txt')).size > n * 8, true, `-n ${n}: the workload is too short`);
    peaks.push(peak);
  }
  t.diagnostic(`peak RSS: ${peaks.map((p) => `${(p / MiB).toFixed(1)} MiB`).join(' at -n 1,000,000, ')} at -n 10,000,000`);
  assert.ok(peaks[0] > 0 && peaks[1] > 0, 'no peak RSS read from /proc');
  assert.ok(peaks[1] - peaks[0] < 32 * MiB, `peak RSS grew by ${((peaks[1] - peaks[0]) / MiB).toFixed(1)} MiB from -n 1,000,000 to 10,000,000`);
});

test('genworkload --value-bytes 1048576: 600 sets of 1 MiB values (629 MB, past the longest string) are written whole', { timeout: 300_000 }, async (t) => {
  const s = new Scope(t);
  const r = await s.gen(['--value-bytes', '1048576', '-n', '600', '-p', '100', '-k', '50', '-o', 'w.txt', '-e', 'e.txt']);
  assert.equal(r.code, 0, r.stderr);
  assert.equal(r.stderr, '');
  // "set " + a 16-byte key + " " + the value + "\n", 600 times.
  const line = 4 + 16 + 1 + 1048576 + 1;
  assert.equal(fs.statSync(s.p('w.txt')).size, 600 * line);
  assert.equal(fs.statSync(s.p('e.txt')).size, 0, 'no gets, no expected lines');
  // The first and the last request, read back: write number 0 and 599 (base 36: "gn").
  const fd = fs.openSync(s.p('w.txt'), 'r');
  const head = Buffer.alloc(30);
  fs.readSync(fd, head, 0, 30, 0);
  const tail = Buffer.alloc(line);
  fs.readSync(fd, tail, 0, line, 599 * line);
  fs.closeSync(fd);
  assert.match(head.toString('latin1'), /^set k\d{15} 0abcdefgh/);
  assert.match(tail.toString('latin1'), /^set k\d{15} gn[a-zA-Z0-9]{1048574}\n$/);
});

test('genworkload: limits that valid flags can reach are one line, and leave no file', { timeout: 300_000 }, async (t) => {
  const s = new Scope(t);
  await t.test('a key space larger than memory', { skip: os.totalmem() / 2 > 2 ** 32 * KEY_BYTES ? 'this machine has room for 2^32 keys' : false }, async () => {
    const line = assertOneLineError(await s.gen(['-n', '10', '-k', '4294967296', '-o', 'w.txt', '-e', 'e.txt'], { timeoutMs: 60_000 }), 'genworkload', 1, '-k 4294967296');
    assert.match(line, /^genworkload: -k 4294967296 needs 32\.0 GiB of memory for its key space .*use a smaller -k$/);
    assert.deepEqual(fs.readdirSync(s.dir), []);
  });
  await t.test('a file system that takes no more (RLIMIT_FSIZE: EFBIG)', async () => {
    // sh ignores SIGXFSZ (inherited), so that the write fails with EFBIG instead of killing.
    const r = await s.run('sh', ['-c', `trap '' XFSZ; ulimit -f 2048; exec "$0" "$@"`, BIN.genworkload, '-n', '1000000', '-o', 'w.txt', '-e', 'e.txt'], { timeoutMs: 60_000 });
    const line = assertOneLineError(r, 'genworkload', 1, 'EFBIG');
    assert.match(line, /^genworkload: cannot write (workload|expected results) \S+: file too large$/);
    assert.deepEqual(fs.readdirSync(s.dir), [], 'half-written files left');
  });
  await t.test('-o and -e naming one file', async () => {
    s.write('same.txt', 'keep me\n');
    fs.symlinkSync(s.p('same.txt'), s.p('link.txt'));
    for (const args of [['-o', 'x.txt', '-e', 'x.txt'], ['-o', 'same.txt', '-e', 'link.txt']]) {
      const line = assertOneLineError(await s.gen(['-n', '10', ...args]), 'genworkload', 2, args.join(' '));
      assert.match(line, /-o and -e name one file/);
    }
    assert.equal(s.read('same.txt'), 'keep me\n');
    assert.equal(s.exists('x.txt'), false);
    fs.rmSync(s.p('same.txt'));
    fs.rmSync(s.p('link.txt'));
  });
});

test('client: a workload file over 2 GiB is refused in one line naming it; -o naming the workload or expected file is a usage error', { timeout: 120_000 }, async (t) => {
  const s = new Scope(t);
  // Sparse: 2 GiB of holes cost no disk.
  fs.closeSync(fs.openSync(s.p('big.txt'), 'w'));
  fs.truncateSync(s.p('big.txt'), 2 ** 31);
  let line = assertOneLineError(await s.client(['-f', '-i', 'big.txt', '-p', s.p('region')]), 'client', 1, '2 GiB workload');
  assert.equal(line, 'client: cannot read workload big.txt: it holds 2147483648 bytes, over the 2147483647 (2 GiB) a file can be read in');
  s.write('w.txt', 'put 1 2\nget 1\n');
  s.write('e.txt', '2\n');
  for (const [args, re] of [
    [['-i', 'w.txt', '-o', 'w.txt'], /-o w\.txt is the workload file/],
    [['-i', 'w.txt', '-c', '-e', 'e.txt', '-o', 'e.txt'], /-o e\.txt is the expected file/],
  ] as const) {
    line = assertOneLineError(await s.client(['-f', ...args, '-p', s.p('region')]), 'client', 2, args.join(' '));
    assert.match(line, re);
  }
  assert.equal(s.read('w.txt'), 'put 1 2\nget 1\n');
  assert.equal(s.read('e.txt'), '2\n');
  assert.equal(s.exists('region'), false);
});
