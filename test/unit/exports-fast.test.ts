/**
 * Every module's exports object keeps V8's fast properties. Compiled to
 * CommonJS, a constant such as IX_ENTRY is loaded as `layout_1.IX_ENTRY`
 * at each use: from a fast object, a constant the optimizer folds; from a
 * dictionary, a hash lookup at every key encoded, slot probed and entry
 * written. One `export { CACHE_LINE }` of an imported name made layout.ts's
 * exports a dictionary (tsc declares the name as data, then redefines it as
 * a getter), and reads and writes ran at 0.60x and 0.56x
 * (bench/tools/rw-ab.sh, docs/PERFORMANCE.md). A module that must pass a
 * value on takes it from its home instead, or declares a const of its own.
 *
 * The two package facades (src/index.ts, src/client/client.ts) re-export
 * the API by name and are exempt: a program loads connect() and the
 * classes from them once, and calls methods on instances after that.
 */
import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as path from 'node:path';

const ROOT = path.resolve(__dirname, '../../src');
const CHILD = path.resolve(__dirname, '../fixtures/unit/exports-fast-child.js');
const FACADES = ['client/client.js', 'index.js'];
/** Entry points, never loaded: each starts a CLI or a worker thread's loop. */
const ENTRIES = ['cli/client.js', 'cli/genworkload.js', 'cli/replay-worker.js', 'cli/server.js', 'cli/stat.js', 'client/notifier-worker.js', 'server/worker.js'];

test('every module but the two facades keeps a fast exports object', () => {
  const r = spawnSync(process.execPath, ['--allow-natives-syntax', CHILD, ROOT], { encoding: 'utf8', timeout: 60_000 });
  assert.equal(r.status, 0, r.stderr);
  const { loaded, entries, slow } = JSON.parse(r.stdout) as { loaded: string[]; entries: string[]; slow: string[] };
  assert.deepEqual(entries, ENTRIES, 'a new entry point: list it here (it is skipped, not loaded)');
  assert.ok(loaded.includes('layout/layout.js') && loaded.length > 100, `loaded only ${loaded.length} modules`);
  assert.deepEqual(slow.filter((m) => !FACADES.includes(m)), []);
});
