/**
 * The server's files under a hostile or careless user: a region path
 * replaced by someone else's file, a second server started on the same path
 * after the first one's files were removed, a region file truncated under
 * its server and clients. The server deletes only the inodes it created,
 * and a truncated mapping ends every process in one line naming the file.
 */
import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import { fmtExit, lines, Proc, Scope } from '../fixtures/faults/harness';

function scoped(t: { after: (fn: () => Promise<void>) => void }): Scope {
  const scope = new Scope('shmkv-files-');
  t.after(() => scope.cleanup());
  return scope;
}

async function sigterm(server: Proc, what = 'server'): Promise<void> {
  server.kill('SIGTERM');
  const x = await server.wait(15000);
  assert.equal(x.code, 0, `${what} exit after SIGTERM (${fmtExit(x)})\n${server.output()}`);
}

async function checkedRun(scope: Scope, region: string, label: string): Promise<void> {
  const w = scope.file(`${label.replace(/\W+/g, '-')}.txt`);
  const e = `${w}.expected`;
  await scope.genworkload(['-n', '2000', '-p', '50', '-k', '500', '-t', '1', '-w', '4', '-o', w, '-e', e]);
  const c = scope.client(region, ['-n', '1', '-w', '4', '-i', w, '-c', '-e', e], label);
  const x = await c.wait(60000);
  assert.equal(x.code, 0, `${label} (${fmtExit(x)})\n${c.output()}`);
}

test('a normal stop removes the region and its .lock file', { timeout: 30000 }, async (t) => {
  const scope = scoped(t);
  const region = scope.file('region');
  const server = await scope.startServer(region, ['-n', '1']);
  assert.ok(fs.existsSync(`${region}.lock`));
  await sigterm(server);
  assert.deepEqual(fs.readdirSync(scope.dir), [], 'files left behind by a normal stop');
});

test('a user file put at the region path after the server started is not deleted when the server stops', { timeout: 30000 }, async (t) => {
  const scope = scoped(t);
  const region = scope.file('region');
  const server = await scope.startServer(region, ['-n', '1']);
  fs.renameSync(region, scope.file('moved-away'));
  fs.writeFileSync(region, 'my precious notes\n');
  await sigterm(server);
  assert.equal(fs.readFileSync(region, 'utf8'), 'my precious notes\n', 'the server deleted a file it did not create');
  assert.equal(fs.existsSync(`${region}.lock`), false, 'the server left its own .lock file');
});

test('server A whose files were removed, then server B on the same path: stopping A leaves B\'s region and lock alone, B keeps serving', { timeout: 60000 }, async (t) => {
  const scope = scoped(t);
  const region = scope.file('region');
  const a = await scope.startServer(region, ['-n', '1'], 'server A');
  fs.rmSync(region);
  fs.rmSync(`${region}.lock`);
  const b = await scope.startServer(region, ['-n', '1'], 'server B');
  const ino = fs.statSync(region).ino;
  const lockIno = fs.statSync(`${region}.lock`).ino;
  await sigterm(a, 'server A');
  assert.equal(fs.statSync(region).ino, ino, 'stopping A removed or replaced B\'s region');
  assert.equal(fs.statSync(`${region}.lock`).ino, lockIno, 'stopping A removed B\'s lock file');
  // A third server is still refused: B's lock is intact.
  const c = scope.server(region, ['-n', '1'], 'server C');
  const cx = await c.wait(15000);
  assert.equal(cx.code, 1, `server C (${fmtExit(cx)})\n${c.output()}`);
  assert.match(c.stderr, /another server is already serving/);
  await checkedRun(scope, region, 'client of server B');
  await sigterm(b, 'server B');
  assert.deepEqual(fs.readdirSync(scope.dir).filter((f) => f.startsWith('region')), [], 'server B left its files');
});

test('the region file truncated under a serving server and a client: each exits non-zero with one line naming the file, no silent SIGBUS', { timeout: 60000 }, async (t) => {
  const scope = scoped(t);
  const region = scope.file('region');
  const server = await scope.startServer(region, ['-n', '2', '-c', '64']);
  const client = scope.fixture('chaos-client', [region, '4000000', '2', '4', '0'], 'looping client');
  await client.waitFor(/^ready$/m, 20000);
  fs.truncateSync(region, 0);
  const sx = await server.wait(15000);
  assert.deepEqual([sx.code, sx.signal], [1, null], `server (${fmtExit(sx)})\n${server.output()}`);
  const sl = lines(server.stderr).filter((l) => !/ready/.test(l));
  assert.equal(sl.length, 1, server.output());
  assert.equal(sl[0], `server: the region file ${region} was truncated while mapped (access at byte ${/byte (\d+)/.exec(sl[0])?.[1]} of ${/of (\d+)/.exec(sl[0])?.[1]}): exiting`);
  const cx = await client.wait(15000);
  assert.ok(cx.code !== 0 && cx.signal === null, `client (${fmtExit(cx)})\n${client.output()}`);
  assert.equal(lines(client.stderr).length, 1, client.output());
  // The client meets the truncation itself, or first sees its server gone.
  assert.match(client.stderr, new RegExp(`^(chaos-client: the region file ${region} was truncated while mapped|chaos-client: .*server.*(died|stopped|not responding))`), client.output());
});

test('data files: a normal stop removes the server\'s data file; a new server removes those of dead servers only', { timeout: 60000 }, async (t) => {
  const scope = scoped(t);
  const dataDir = scope.file('data');
  fs.mkdirSync(dataDir);
  const region = scope.file('region');
  // A dead server's file (a pid that just exited), a live one's (ours), a user's.
  const { spawnSync } = await import('node:child_process');
  const deadPid = spawnSync(process.execPath, ['-e', 'process.stdout.write(String(process.pid))']).stdout.toString();
  const dead = `${dataDir}/shmkv-${deadPid}-0123456789ab.data`;
  const live = `${dataDir}/shmkv-${process.pid}-0123456789ab.data`;
  const user = `${dataDir}/shmkv-notes.data`;
  for (const f of [dead, live, user]) fs.writeFileSync(f, 'x');
  const server = await scope.startServer(region, ['-n', '1', '--data-dir', dataDir]);
  const files = fs.readdirSync(dataDir).sort();
  assert.equal(fs.existsSync(dead), false, 'a dead server\'s data file was left');
  assert.ok(fs.existsSync(live) && fs.existsSync(user), 'a live server\'s or a user\'s file was removed');
  const ours = files.filter((f) => f.startsWith(`shmkv-${server.pid}-`));
  assert.equal(ours.length, 1, `the server's own data file: ${files.join(', ')}`);
  await sigterm(server);
  assert.deepEqual(fs.readdirSync(dataDir).sort(), ['shmkv-notes.data', `shmkv-${process.pid}-0123456789ab.data`].sort(), 'the stop removed its data file and nothing else');
});
