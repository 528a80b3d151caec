/**
 * Every repository path the manuals name exists. A file that is moved,
 * split or renamed leaves its old name in README.md and docs/ unless
 * something reads them; this test does, in milliseconds, with no build
 * output needed beyond itself.
 *
 * What counts as a path (in prose, code spans and code blocks alike):
 * - a name rooted at a top-level folder (`src/...`, `test/...`, `bench/...`,
 *   `tools/...`, `docs/...`, `native/...`, `examples/...`, `prebuilds/...`,
 *   `.ci/...`): that file or folder exists;
 * - a name under `dist/`: its TypeScript source exists (`dist/x/y.js` is
 *   built from `x/y.ts`);
 * - any other name ending in a source extension (`pause.test.ts`,
 *   `layout/data-meta.ts`, `server.js`): some file's path ends with it
 *   (for `.js`, with the `.ts` it is built from).
 * Names with a placeholder (`<N>`, `*`, `{a,b}`), absolute paths and paths
 * inside node_modules/ are not checked; EXAMPLES lists the few names the
 * manuals use as examples of a user's own files. A generated file is
 * accepted when the Makefile or the bench's options name it (they write
 * it: bench/results/, bench/results/quick/).
 */
import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';

const ROOT = path.join(__dirname, '..', '..', '..');
const MANUALS = ['README.md', 'docs/ARCHITECTURE.md', 'docs/TESTING.md', 'docs/PERFORMANCE.md', 'bench/README.md'];
/** Not repository files: a product name, and a file the user saves. */
const EXAMPLES = new Set(['Node.js', 'history.json']);

const TOP = '(?:src|test|bench|tools|docs|native|examples|prebuilds|dist|\\.ci)';
const EXT = '(?:ts|js|mjs|cjs|md|sh|cc|json|gyp|yml|yaml)';
// A token starts at a word boundary that is not inside a longer path or URL.
const TOKEN = new RegExp(`(?<![\\w./@:<>*{}-])((?:\\./)?(?:${TOP}/[\\w./*<>{}-]*|(?:[\\w.-]+/)*[\\w-]+(?:\\.[\\w-]+)*\\.${EXT}))(?![\\w*<>{}-])`, 'g');

/** The repository's files and folders, relative to ROOT ('/'-separated). */
function repoPaths(): Set<string> {
  const out = new Set<string>();
  const walk = (rel: string): void => {
    for (const d of fs.readdirSync(path.join(ROOT, rel), { withFileTypes: true })) {
      if (d.name === 'node_modules' || d.name === '.git' || d.name === 'dist' || d.name === 'build') continue;
      const p = rel ? `${rel}/${d.name}` : d.name;
      out.add(p);
      if (d.isDirectory()) walk(p);
    }
  };
  walk('');
  return out;
}

/** The path-like names in `text` that name nothing in `paths`, as `line: name`. */
function missingPaths(text: string, paths: Set<string>, generated: string): string[] {
  const files = [...paths];
  const endsWith = (suffix: string): boolean => paths.has(suffix) || files.some((f) => f.endsWith(`/${suffix}`));
  const exists = (raw: string): boolean => {
    const p = raw.replace(/^\.\//, '').replace(/[/.]+$/, '');
    if (p === '' || p === 'dist' || paths.has(p) || generated.includes(p)) return true;
    if (p.startsWith('dist/')) {
      const src = p.slice(5).replace(/\.(d\.ts|js)$/, '');
      return paths.has(src) || paths.has(`${src}.ts`);
    }
    if (new RegExp(`^${TOP}/`).test(p)) return false;
    return endsWith(p) || (p.endsWith('.js') && endsWith(p.replace(/\.js$/, '.ts')));
  };
  const missing: string[] = [];
  text.split('\n').forEach((line, i) => {
    for (const m of line.matchAll(TOKEN)) {
      const name = m[1];
      if (/[*<>{}]/.test(name) || EXAMPLES.has(name) || name.startsWith('node_modules/')) continue;
      if (!exists(name)) missing.push(`${i + 1}: ${name}`);
    }
  });
  return missing;
}

test('doc paths: every file or folder the manuals name exists', () => {
  const paths = repoPaths();
  const generated = ['Makefile', 'bench/harness/options.ts'].map((f) => fs.readFileSync(path.join(ROOT, f), 'utf8')).join('\n');
  const stale = MANUALS.flatMap((doc) => missingPaths(fs.readFileSync(path.join(ROOT, doc), 'utf8'), paths, generated).map((m) => `${doc}:${m}`));
  assert.deepEqual(stale, [], 'the manuals name paths that do not exist (fix the text, or list a user-file example in EXAMPLES)');
});

test('doc paths: the check finds a stale name in each form, and passes the forms that exist', () => {
  const paths = new Set(['src', 'src/layout', 'src/layout/heap.ts', 'src/cli', 'src/cli/server.ts', 'test', 'test/faults', 'test/faults/pause.test.ts']);
  const good = [
    'see `src/layout/heap.ts` and src/layout/, `layout/heap.ts`, pause.test.ts',
    'run `node dist/src/cli/server.js`, require("./dist/src/layout/heap"), a detached `server.js`',
    'prebuilds/linux-x64/shmkv.abi<N>.glibc.node, test/*/x.test.ts, /opt/app/a.ts, node_modules/x/y.ts',
    'Node.js, https://example.com/src/gone.ts, bench/results/policy.md (the Makefile writes it)',
  ].join('\n');
  assert.deepEqual(missingPaths(good, paths, 'x > bench/results/policy.md'), []);
  const bad = ['`src/layout/gone.ts`', 'src/gone/', 'dist/src/cli/gone.js', 'gone.test.ts', 'layout/gone.ts', 'gone.js', './src/gone.ts'];
  assert.deepEqual(missingPaths(bad.join('\n'), paths, ''), ['1: src/layout/gone.ts', '2: src/gone/', '3: dist/src/cli/gone.js', '4: gone.test.ts', '5: layout/gone.ts', '6: gone.js', '7: ./src/gone.ts']);
});
