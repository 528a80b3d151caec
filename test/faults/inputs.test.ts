/**
 * Paths that are not regular files, given to the real CLIs as processes:
 * character devices, FIFOs, sockets and directories as the server's region,
 * lock or data file, as ./stat's and ./client's region, and as the client's
 * workload (-i), expected (-e) and results (-o) files. Each must end in one
 * line on stderr and exit 1, promptly (opening a FIFO blocks until its other
 * end is opened, and a device such as /dev/zero never ends), and nothing that
 * is not a regular file is ever unlinked or replaced.
 *
 * The device is a character device made in the test's own directory with
 * mknod (a copy of /dev/null's numbers) when running as root, who could
 * unlink the real one; otherwise /dev/null itself, which nobody else can
 * unlink.
 */
import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as path from 'node:path';
import { spawnSync } from 'node:child_process';
import { ROOT, Scope, pidsMentioning } from '../support/procs';
import { assertOneLineError, Cli } from '../support/cli-asserts';
import { cacheFiles } from '../../src/layout/data-file';

const STAT = path.join(ROOT, 'stat');
/** Every case here fails at once when it works; this only bounds a hang. */
const HANG_MS = 20_000;

type Kind = 'device' | 'FIFO' | 'socket' | 'directory';
const KINDS: Kind[] = ['device', 'FIFO', 'socket', 'directory'];

/**
 * Make a special file of `kind` at `file`: a socket listens until the test
 * ends (closing it would unlink it). A device as root is a copy of
 * /dev/null's numbers (see the header).
 */
async function makeSpecial(kind: Kind, file: string, t: { after(fn: () => void | Promise<void>): void }): Promise<void> {
  if (kind === 'device') {
    const r = spawnSync('mknod', [file, 'c', '1', '3']);
    assert.equal(r.status, 0, `mknod ${file} c 1 3: ${r.stderr}`);
  } else if (kind === 'FIFO') {
    assert.equal(spawnSync('mkfifo', [file]).status, 0, `mkfifo ${file}`);
  } else if (kind === 'socket') {
    const server = net.createServer();
    await new Promise<void>((resolve) => server.listen(file, resolve));
    t.after(() => new Promise<void>((resolve) => server.close(() => resolve())));
  } else {
    fs.mkdirSync(file);
  }
}

const ROOT_USER = process.getuid?.() === 0;

/** A special file of `kind` in the test's dir (non-root: the device is /dev/null itself). */
async function special(s: Scope, kind: Kind, t: { after(fn: () => void | Promise<void>): void }, name: string = kind): Promise<string> {
  if (kind === 'device' && !ROOT_USER) return '/dev/null';
  const file = s.p(name);
  await makeSpecial(kind, file, t);
  return file;
}

/** What a special path is, so that a test can see it was left exactly as it was. */
function identity(file: string): string {
  const st = fs.lstatSync(file, { bigint: true });
  return `${st.mode}:${st.ino}:${st.rdev}`;
}

/** The words the one line uses for `kind`. */
const SAYS: Record<Kind, RegExp> = { device: /it is a device/, FIFO: /it is a FIFO/, socket: /it is a socket/, directory: /it is a directory/ };

async function oneLine(s: Scope, cli: Cli | 'stat', args: string[], what: string): Promise<string> {
  const bin = cli === 'stat' ? STAT : path.join(ROOT, cli);
  const r = await s.run(bin, args, { timeoutMs: HANG_MS });
  // assertOneLineError checks the prefix against the command's name.
  return assertOneLineError(r, cli as Cli, 1, what);
}

test('server: a region path that is a device, FIFO, socket or directory is refused in one line and left as it was (start, --temporary, --drop)', { timeout: 300_000 }, async (t) => {
  const s = new Scope(t);
  for (const kind of KINDS) {
    const file = await special(s, kind, t);
    const before = identity(file);
    for (const extra of [[], ['--temporary'], ['--drop']]) {
      const what = `server ${extra.join(' ')} -p <${kind}>`;
      const line = await oneLine(s, 'server', [...extra, '-p', file, '--data-dir', s.dir], what);
      assert.match(line, SAYS[kind], what);
      assert.ok(line.includes(file), `${what}: the line does not name the path: ${line}`);
      assert.equal(identity(file), before, `${what}: the path was replaced or removed`);
    }
  }
  assert.deepEqual(pidsMentioning(s.dir), []);
});

test('server: a lock path, data file or exchange file that is a device, FIFO, socket or directory is refused in one line and left as it was', { timeout: 300_000 }, async (t) => {
  const s = new Scope(t);
  for (const kind of KINDS) {
    // Only root makes device nodes, and /dev/null cannot sit at these paths.
    const skip = kind === 'device' && !ROOT_USER ? 'only root can make a device node' : false;
    await t.test(kind, { skip }, async () => {
      const region = s.p(`r-${kind}`);
      const lock = await special(s, kind, t, `r-${kind}.lock`);
      const id = identity(lock);
      for (const extra of [[], ['--drop']]) {
        const what = `server ${extra.join(' ')} with its lock file a ${kind}`;
        const line = await oneLine(s, 'server', [...extra, '-p', region, '--data-dir', s.dir], what);
        assert.match(line, SAYS[kind], what);
        assert.ok(line.includes(lock), `${what}: ${line}`);
        assert.equal(identity(lock), id, `${what}: the lock path was replaced`);
        assert.equal(fs.existsSync(region), false, `${what}: a region file was made`);
      }
      for (const which of ['data', 'xchg'] as const) {
        const dataDir = s.p(`d-${kind}-${which}`);
        fs.mkdirSync(dataDir);
        const region2 = s.p(`r2-${kind}-${which}`);
        const target = cacheFiles(region2, dataDir)[which];
        await makeSpecial(kind, target, t);
        const tid = identity(target);
        for (const extra of [[], ['--drop']]) {
          const what = `server ${extra.join(' ')} with its ${which} file a ${kind}`;
          const line = await oneLine(s, 'server', [...extra, '-p', region2, '--data-dir', dataDir], what);
          assert.ok(line.includes(target), `${what}: ${line}`);
          assert.equal(identity(target), tid, `${what}: the path was replaced`);
          assert.equal(fs.existsSync(region2), false, `${what}: a region file was left`);
          assert.equal(fs.existsSync(`${region2}.lock`), false, `${what}: a lock file was left`);
        }
      }
    });
  }
  assert.deepEqual(pidsMentioning(s.dir), []);
});

test('stat and client: a region path that is a device, FIFO, socket or directory is one line (no hang)', { timeout: 300_000 }, async (t) => {
  const s = new Scope(t);
  s.write('w.txt', 'put 1 2\nget 1\n');
  for (const kind of KINDS) {
    const file = await special(s, kind, t);
    for (const [cli, args] of [
      ['stat', ['-p', file]],
      ['client', ['-i', 'w.txt', '-p', file]],
      // -f: the forked server refuses the path, and the client says why.
      ['client', ['-f', '-i', 'w.txt', '-p', file]],
    ] as const) {
      const what = `${cli} ${args.join(' ')}`;
      const line = await oneLine(s, cli, [...args], what);
      assert.ok(line.includes(file) && /not a regular file/.test(line), `${what}: ${line}`);
    }
  }
  assert.deepEqual(pidsMentioning(s.dir), []);
});

test('client: a workload (-i) or expected file (-e) that is a device, FIFO, socket or directory is one line, before anything starts (no hang)', { timeout: 300_000 }, async (t) => {
  const s = new Scope(t);
  s.write('w.txt', 'put 1 2\nget 1\n');
  const region = s.p('region');
  const cases: Array<[string, string, RegExp]> = [];
  for (const kind of KINDS) cases.push([kind, await special(s, kind, t), SAYS[kind]]);
  cases.push(['/dev/zero (endless)', '/dev/zero', SAYS.device]);
  for (const [kind, file, re] of cases) {
    for (const [flag, args] of [
      ['-i', ['-f', '-i', file, '-p', region]],
      ['-e', ['-f', '-i', 'w.txt', '-c', '-e', file, '-p', region]],
    ] as const) {
      const what = `client ${flag} <${kind}>`;
      const line = await oneLine(s, 'client', [...args], what);
      assert.ok(line.startsWith(`client: cannot read ${flag === '-i' ? 'workload' : 'expected file'} ${file}: `), `${what}: ${line}`);
      assert.match(line, re, what);
      assert.equal(fs.existsSync(region), false, `${what}: a server was forked`);
    }
  }
  assert.deepEqual(pidsMentioning(s.dir), []);
});

test('client -o and genworkload -o/-e naming a device, FIFO, socket or directory: one line before anything runs (no hang), the path left as it was', { timeout: 300_000 }, async (t) => {
  const s = new Scope(t);
  s.write('w.txt', 'put 1 2\nget 1\n');
  const region = s.p('region');
  for (const kind of KINDS) {
    const file = await special(s, kind, t);
    const id = identity(file);
    let what = `client -o <${kind}>`;
    let line = await oneLine(s, 'client', ['-f', '-i', 'w.txt', '-o', file, '-p', region], what);
    assert.ok(line.startsWith(`client: cannot write results ${file}: `), `${what}: ${line}`);
    assert.match(line, SAYS[kind], what);
    assert.equal(fs.existsSync(region), false, `${what}: a server was forked`);
    for (const flag of ['-o', '-e']) {
      what = `genworkload ${flag} <${kind}>`;
      const args = flag === '-o' ? ['-o', file, '-e', s.p('g.e')] : ['-o', s.p('g.txt'), '-e', file];
      line = await oneLine(s, 'genworkload', ['-n', '100', ...args], what);
      assert.ok(line.startsWith(`genworkload: cannot write ${flag === '-o' ? 'workload' : 'expected results'} ${file}: `), `${what}: ${line}`);
      assert.match(line, SAYS[kind], what);
      assert.equal(s.exists('g.txt') || s.exists('g.e'), false, `${what}: the other file was written`);
    }
    assert.equal(identity(file), id, `${kind}: the path was replaced`);
  }
  assert.deepEqual(pidsMentioning(s.dir), []);
});
