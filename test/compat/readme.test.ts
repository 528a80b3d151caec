/**
 * The README as a manual: every JavaScript and TypeScript snippet in it
 * runs as written and exits by itself, and the client has the `...Sync`
 * twin of every call its table lists.
 *
 * Each snippet is saved as a module inside the repository
 * (dist/readme-snippets-<pid>/, so that 'shmkv' resolves to this package by
 * its own name, and keyv, ioredis, cache-manager and cacheable to its
 * node_modules), its TypeScript stripped by the compiler
 * (ts.transpileModule: syntax only, no type check), then run by node in a
 * directory where a server serves ./shmem_file and REDIS_URL names a
 * private redis-server. A snippet that throws, or that keeps its process
 * alive (a client or a Redis connection left open), fails.
 */
import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as ts from 'typescript';
import { connect } from '../../src/index';
import { ROOT, Scope } from '../support/procs';
import { startRedis } from '../support/redis';

interface Snippet {
  line: number;
  lang: string;
  code: string;
}

/** The fenced js/ts blocks of README.md, with the line each starts on. */
function snippets(): Snippet[] {
  const out: Snippet[] = [];
  const lines = fs.readFileSync(path.join(ROOT, 'README.md'), 'utf8').split('\n');
  for (let i = 0; i < lines.length; i++) {
    const open = /^```(\w*)\s*$/.exec(lines[i]!);
    if (!open) continue;
    const start = i;
    const body: string[] = [];
    while (++i < lines.length && !lines[i]!.startsWith('```')) body.push(lines[i]!);
    if (['js', 'ts', 'mjs', 'cjs'].includes(open[1]!)) out.push({ line: start + 1, lang: open[1]!, code: body.join('\n') + '\n' });
  }
  return out;
}

test('every js/ts snippet of the README runs as written against a server (and Redis) and exits by itself', { timeout: 600_000 }, async (t) => {
  const found = snippets();
  assert.ok(found.length >= 9, `README snippets found: ${found.length}`);
  const s = new Scope(t, 'shmkv-readme-');
  const redis = await startRedis(t);
  await s.startServer(['-n', '2', '-p', 'shmem_file', '--data-dir', s.dir]);
  const dir = path.join(ROOT, 'dist', `readme-snippets-${process.pid}`);
  fs.mkdirSync(dir, { recursive: true });
  t.after(() => fs.rmSync(dir, { recursive: true, force: true }));
  const failures: string[] = [];
  for (const sn of found) {
    const esm = sn.lang !== 'cjs' && !(sn.lang === 'js' && /\brequire\(/.test(sn.code));
    const js =
      sn.lang === 'ts'
        ? ts.transpileModule(sn.code, { compilerOptions: { module: ts.ModuleKind.ESNext, target: ts.ScriptTarget.ES2022 } }).outputText
        : sn.code;
    const file = path.join(dir, `line-${sn.line}.${esm ? 'mjs' : 'cjs'}`);
    fs.writeFileSync(file, js);
    const r = await s.run(process.execPath, [file], { cwd: s.dir, env: { REDIS_URL: redis.socket }, timeoutMs: 60_000 });
    if (r.timedOut) failures.push(`README.md:${sn.line}: still running after 60 s (something keeps the process alive)`);
    else if (r.code !== 0) failures.push(`README.md:${sn.line}: exit ${r.code ?? r.signal}: ${r.stderr.trim().split('\n').slice(0, 6).join(' | ')}`);
  }
  assert.deepEqual(failures, [], failures.join('\n'));
});

test("the client has a ...Sync twin of every call in the README's table, and they work", { timeout: 60_000 }, async (t) => {
  const readme = fs.readFileSync(path.join(ROOT, 'README.md'), 'utf8');
  const table = readme.split('\n').filter((l) => l.startsWith('| `') && readme.indexOf(l) > readme.indexOf('| call (promise form; each has a `...Sync` twin)'));
  const rows = table.slice(0, table.findIndex((l) => l.startsWith('| `close()`')) + 1);
  const names = [...new Set(rows.flatMap((r) => [...r.split('|')[1]!.matchAll(/`(\w+)[(`]/g)].map((m) => m[1]!)))];
  assert.deepEqual(names, ['get', 'has', 'set', 'put', 'delete', 'getMany', 'setMany', 'putMany', 'incr', 'close'], "the calls of the README's table");

  const s = new Scope(t, 'shmkv-twins-');
  const region = s.p('region');
  // Room for exactly one client of window 8 at a time (8 + the sync
  // window + the shared structures' window).
  await s.startServer(['-n', '1', '-c', '10', '-p', region, '--data-dir', s.dir]);
  const kv = connect({ path: region, window: 8 });
  const api = kv as unknown as Record<string, unknown>;
  for (const n of names) {
    assert.equal(typeof api[n], 'function', `client.${n}`);
    assert.equal(typeof api[`${n}Sync`], 'function', `client.${n}Sync`);
  }
  kv.setManySync([['a', 1], ['b', 'two']]);
  kv.putManySync([[7, 7]]);
  assert.deepEqual(kv.getManySync(['a', 'b', 'c', 7]), [1, 'two', undefined, 7]);
  assert.deepEqual(await kv.getMany(['a', 'b']), [1, 'two']);
  // Integer ms, as Redis's PTTL (a live key never reports 0).
  kv.setSync('ttl', 1, { ttl: 30_000 });
  for (const left of [kv.ttlSync('ttl')!, (await kv.ttl('ttl'))!, (await kv.getRemainingTTL('ttl'))!]) {
    assert.ok(Number.isInteger(left) && left > 0 && left <= 30_000, `whole ms left: ${left}`);
  }
  // closeSync with promise requests outstanding (more than the window holds:
  // some are still queued) refuses and closes nothing.
  const pending = Array.from({ length: 100 }, (_, i) => kv.set(`p${i}`, i));
  assert.throws(() => kv.closeSync(), /closeSync\(\): \d+ promise request\(s\) still outstanding; await close\(\) instead/);
  assert.deepEqual(new Set(await Promise.all(pending)), new Set([true]));
  // The board holds one such client: another connects only once closeSync released the windows.
  assert.throws(() => connect({ path: region, window: 8 }), { name: 'BoardFullError' });
  kv.closeSync();
  assert.throws(() => kv.getSync('a'), /the client is closed/);
  kv.closeSync(); // again: nothing to do
  await kv.close(); // and close() after it resolves
  const next = connect({ path: region, window: 8 });
  assert.equal(next.getSync('b'), 'two');
  next.closeSync();
});
