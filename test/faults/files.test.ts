/**
 * The server's files under a hostile or careless user: what a stop keeps (the
 * cache) and what --drop removes, a region path replaced by someone else's
 * file, a second server started on the same path after the first one's files
 * were removed, a region file truncated under its server and clients, and
 * which data files a starting server removes (orphans only). The server
 * deletes only the inodes it created, and a truncated mapping ends every
 * process in one line naming the file.
 */
import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { fmtExit, lines, Proc, Scope } from '../fixtures/faults/harness';
import { cacheFiles } from '../../src/layout/data-file';

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

/** A checked replay of a fresh workload (`genArgs`: e.g. a byte form whose keys no u32 replay used). */
async function checkedRun(scope: Scope, region: string, label: string, genArgs: string[] = []): Promise<void> {
  const w = scope.file(`${label.replace(/\W+/g, '-')}.txt`);
  const e = `${w}.expected`;
  await scope.genworkload(['-n', '2000', '-p', '50', '-k', '500', '-t', '1', '-w', '4', '-o', w, '-e', e, ...genArgs]);
  const c = scope.client(region, ['-n', '1', '-w', '4', '-i', w, '-c', '-e', e], label);
  const x = await c.wait(60000);
  assert.equal(x.code, 0, `${label} (${fmtExit(x)})\n${c.output()}`);
}

test('a normal stop keeps the region (STOPPED) and the data file, the cache, and removes the lock and exchange files; --drop removes the rest', { timeout: 30000 }, async (t) => {
  const scope = scoped(t);
  const region = scope.file('region');
  const server = await scope.startServer(region, ['-n', '1']);
  assert.ok(fs.existsSync(`${region}.lock`));
  const data = cacheFiles(region, scope.dir);
  assert.ok(fs.existsSync(data.data) && fs.existsSync(data.xchg), 'the cache is in the data directory ($SHMKV_DATA_DIR)');
  await sigterm(server);
  assert.deepEqual(fs.readdirSync(scope.dir).sort(), ['region', path.basename(data.data)].sort(), 'what a normal stop leaves');
  const drop = scope.server(region, ['--drop'], 'server --drop');
  assert.equal((await drop.wait(15000)).code, 0, drop.output());
  assert.deepEqual(fs.readdirSync(scope.dir), [], 'files left behind by --drop');
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

test('server A whose region and lock files were removed, then server B on the same path: B refuses while A holds the cache, then adopts it once A stopped; stopping A leaves B\'s files alone', { timeout: 60000 }, async (t) => {
  const scope = scoped(t);
  const region = scope.file('region');
  const a = await scope.startServer(region, ['-n', '1'], 'server A');
  await checkedRun(scope, region, 'client of server A');
  fs.rmSync(region);
  fs.rmSync(`${region}.lock`);
  // A still serves its cache (a data file holds one server at a time): B says so in one line.
  const early = scope.server(region, ['-n', '1'], 'server B, early');
  const ex = await early.wait(15000);
  assert.equal(ex.code, 1, `server B while A serves (${fmtExit(ex)})\n${early.output()}`);
  assert.equal(lines(early.stderr).length, 1, early.output());
  assert.match(early.stderr, /^server: another server is serving from .*\.data$/m);
  assert.equal(fs.existsSync(region), false, 'the refused server left a region file');
  await sigterm(a, 'server A');
  const b = await scope.startServer(region, ['-n', '1'], 'server B');
  assert.match(b.stderr, /adopted \d+ key\(s\)/, 'B adopted the cache A served');
  const ino = fs.statSync(region).ino;
  const lockIno = fs.statSync(`${region}.lock`).ino;
  // A third server is refused: B's lock is intact.
  const c = scope.server(region, ['-n', '1'], 'server C');
  const cx = await c.wait(15000);
  assert.equal(cx.code, 1, `server C (${fmtExit(cx)})\n${c.output()}`);
  assert.match(c.stderr, /another server is already serving/);
  assert.equal(fs.statSync(region).ino, ino, 'the refused server C touched B\'s region');
  assert.equal(fs.statSync(`${region}.lock`).ino, lockIno, 'the refused server C touched B\'s lock file');
  // B holds A's u32 keys: its own run uses string keys.
  await checkedRun(scope, region, 'client of server B', ['--key-bytes', '16']);
  await sigterm(b, 'server B');
  assert.deepEqual(fs.readdirSync(scope.dir).filter((f) => f.startsWith('region')), ['region'], 'server B kept its region and removed its lock');
  assert.equal(fs.statSync(region).ino, ino, 'the region is B\'s');
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
  assert.equal(sl[0], `server: the mapped file ${region} has no memory behind byte ${/byte (\d+)/.exec(sl[0])?.[1]} of ${/of (\d+)/.exec(sl[0])?.[1]} (truncated while mapped, or its filesystem is full): exiting`);
  const cx = await client.wait(15000);
  assert.ok(cx.code !== 0 && cx.signal === null, `client (${fmtExit(cx)})\n${client.output()}`);
  assert.equal(lines(client.stderr).length, 1, client.output());
  // The client meets the truncation itself, or first sees its server gone.
  assert.match(client.stderr, new RegExp(`^(chaos-client: the mapped file ${region} has no memory behind byte|chaos-client: .*server.*(died|stopped|not responding))`), client.output());
});

test('data files: a server removes orphans only (no live server holds them and their region is gone), never a live one\'s, a user\'s or its own', { timeout: 60000 }, async (t) => {
  const scope = scoped(t);
  const dataDir = scope.file('data');
  fs.mkdirSync(dataDir);
  const region = scope.file('region');
  // Earlier versions' names: a dead server's file (a pid that just exited), a live one's (ours).
  const { spawnSync } = await import('node:child_process');
  const deadPid = spawnSync(process.execPath, ['-e', 'process.stdout.write(String(process.pid))']).stdout.toString();
  const dead = `${dataDir}/shmkv-${deadPid}-0123456789ab.data`;
  const live = `${dataDir}/shmkv-${process.pid}-0123456789ab.data`;
  const user = `${dataDir}/shmkv-notes.data`;
  for (const f of [dead, live, user]) fs.writeFileSync(f, 'x');
  // This version's: caches of two other regions, one of them gone.
  const gone = scope.file('gone-region');
  const kept = scope.file('kept-region');
  for (const r of [gone, kept]) {
    const s = await scope.startServer(r, ['-n', '1', '--data-dir', dataDir], `server of ${path.basename(r)}`);
    await sigterm(s);
  }
  fs.rmSync(gone);
  const server = await scope.startServer(region, ['-n', '1', '--data-dir', dataDir]);
  assert.equal(fs.existsSync(dead), false, 'a dead server\'s data file (old name) was left');
  assert.equal(fs.existsSync(cacheFiles(gone, dataDir).data), false, 'the cache of a region that is gone was left');
  assert.ok(fs.existsSync(live) && fs.existsSync(user), 'a live server\'s or a user\'s file was removed');
  assert.ok(fs.existsSync(cacheFiles(kept, dataDir).data), 'the cache of a region that is there was removed');
  const own = cacheFiles(region, dataDir);
  assert.ok(fs.existsSync(own.data) && fs.existsSync(own.xchg), 'the server\'s own data and exchange files');
  await sigterm(server);
  assert.deepEqual(fs.readdirSync(dataDir).sort(), [path.basename(own.data), path.basename(cacheFiles(kept, dataDir).data), 'shmkv-notes.data', `shmkv-${process.pid}-0123456789ab.data`].sort(), 'the stop kept its data file and removed its exchange file, and nothing else');
});
