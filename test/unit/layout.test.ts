/**
 * The drawings in the comments of src/layout/'s files, held to the
 * constants that src/layout/layout.ts exports. Each drawing is parsed from
 * the source as a reader sees it (title, column header, rows of `offset
 * bytes name note`) and checked three ways:
 * - each row's offset is the value of the constant it names (or of the
 *   RegionLayout field, at the default geometry), so a drawing cannot show
 *   a field where the code does not put it;
 * - the rows follow one another without overlap, in file order;
 * - the drawing is exactly what its record draws (no field missing, no note
 *   stale), and every record of the shared files has one drawing.
 * And every exported offset of a shared record is in some drawing.
 * `node dist/tools/draw-layouts.js` rewrites the drawings after a change.
 * Also the shape of src/layout/ itself: no import circles among its files,
 * and code outside it takes each constant from its record file.
 */
import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { spawnSync } from 'node:child_process';
import * as L from '../../src/layout/layout';

const ROOT = path.join(__dirname, '..', '..', '..');
const LAYOUT_DIR = path.join(ROOT, 'src', 'layout');
/** Every source file of src/layout/, by name. */
const SOURCES = fs.readdirSync(LAYOUT_DIR).filter((n) => n.endsWith('.ts')).sort();
const read = (name: string): string => fs.readFileSync(path.join(LAYOUT_DIR, name), 'utf8');
const FIX = 'run `node dist/tools/draw-layouts.js` after `make all`';

interface Row {
  offset: number;
  bytes: number;
  name: string;
  file: string;
  line: number;
}
interface Drawing {
  title: string;
  rows: Row[];
  text: string;
}

/** Every drawing in a source text: a comment line with a title, the column header, then rows. */
function parseDrawings(source: string, file: string): Drawing[] {
  const lines = source.split('\n');
  const out: Drawing[] = [];
  for (let i = 1; i < lines.length; i++) {
    if (!/^ \*\s+offset\s+bytes\s+field\s*$/.test(lines[i])) continue;
    const title = lines[i - 1].replace(/^ \* /, '');
    const rows: Row[] = [];
    let j = i + 1;
    for (; j < lines.length; j++) {
      const m = /^ \*\s+(\d+)\s+(\d+)\s+(\S+)/.exec(lines[j]);
      if (m === null) break;
      rows.push({ offset: Number(m[1]), bytes: Number(m[2]), name: m[3], file, line: j + 1 });
    }
    out.push({ title, rows, text: lines.slice(i - 1, j).map((l) => l.replace(/^ \* ?/, '')).join('\n') });
  }
  return out;
}

/** Every drawing in src/layout/. */
function allDrawings(): Drawing[] {
  return SOURCES.flatMap((name) => parseDrawings(read(name), name));
}

/** The file of src/layout/ that draws WINDOW (where its constants are). */
function windowFile(): string {
  const name = SOURCES.find((n) => parseDrawings(read(n), n).some((d) => d.title.startsWith('WINDOW')));
  assert.ok(name, 'a file of src/layout/ draws WINDOW');
  return name;
}

const constants = new Map(Object.entries(L).filter((e): e is [string, number] => typeof e[1] === 'number'));
const region = L.computeLayout({ ringCapacity: L.DEFAULT_RING_CAPACITY, windowCount: L.DEFAULT_WINDOW_COUNT, windowBytes: L.WINDOW_BYTES }) as unknown as Record<string, number>;

/** Why a drawing does not match the constants, one line per problem (empty: it matches). */
function drawingProblems(d: Drawing): string[] {
  const bad: string[] = [];
  let end = 0;
  for (const r of d.rows) {
    const at = `${r.file}:${r.line} (${d.title.split(' (')[0]})`;
    if (r.name !== '-') {
      const value = constants.has(r.name) ? constants.get(r.name) : region[r.name];
      if (value === undefined) bad.push(`${at}: ${r.name} is no exported constant nor RegionLayout field`);
      else if (value !== r.offset) bad.push(`${at}: drawn at ${r.offset}, but ${r.name} = ${value}`);
    }
    if (r.offset < end) bad.push(`${at}: ${r.name} at ${r.offset} overlaps the field before it (which ends at ${end})`);
    end = Math.max(end, r.offset + r.bytes);
  }
  if (d.rows.length === 0) bad.push(`${d.title}: a drawing with no rows`);
  return bad;
}

test('layout drawings: each row sits where its constant says, and no two rows overlap', () => {
  const drawings = allDrawings();
  assert.ok(drawings.length >= 12, `found only ${drawings.length} drawings in ${LAYOUT_DIR}`);
  const bad = drawings.flatMap(drawingProblems);
  assert.deepEqual(bad, [], FIX);
});

test('layout drawings: each is exactly what its record draws, one per record', () => {
  const drawings = allDrawings();
  const records = L.layoutRecords();
  for (const rec of records) {
    const mine = drawings.filter((d) => d.title === rec.title);
    assert.equal(mine.length, 1, `${rec.title}: ${mine.length} drawings in src/layout/; ${FIX}`);
    assert.equal(mine[0].text, rec.draw(), `${rec.title}: the drawing is stale; ${FIX}`);
  }
  const titles = new Set(records.map((r) => r.title));
  assert.deepEqual(drawings.filter((d) => !titles.has(d.title)).map((d) => d.title), [], 'drawings of no record');
});

/** Exported numbers with a record's prefix that are not offsets in it (flags, states, magic values, derived sizes). */
const NOT_OFFSETS = new Set(['CS_IN_USE', 'CS_RELEASED', 'ENTRY_INLINE', 'BLOCK_FREE', 'BLOCK_PREV_FREE', 'BLOCK_FLAG_MASK', 'BLOCK_MIN_PAYLOAD', 'IX_WORDS']);

test('layout drawings: every offset of a shared record is drawn', () => {
  const drawn = new Set(allDrawings().flatMap((d) => d.rows.map((r) => r.name)));
  const missing = [...constants.keys()].filter((k) => /^(HDR|WIN|CS|D|C|SEG|IX|ENTRY|X|BLOCK|SH|SB|SR)_/.test(k) && !NOT_OFFSETS.has(k) && !drawn.has(k));
  assert.deepEqual(missing, [], 'give these a row in their record (a field() of its Fields)');
});

test('layout drawings: the checks catch a row moved, renamed, overlapping, or missing', () => {
  const file = windowFile();
  const source = read(file);
  const win = parseDrawings(source, file).find((d) => d.title.startsWith('WINDOW'));
  assert.ok(win, 'the WINDOW drawing');
  const tag = win.rows.find((r) => r.name === 'WIN_TAG');
  assert.ok(tag);
  // WIN_TAG drawn 4 bytes later than it is (and so on top of WIN_FLAGS).
  const moved = { ...win, rows: win.rows.map((r) => (r === tag ? { ...r, offset: r.offset + 4 } : r)) };
  const p1 = drawingProblems(moved);
  assert.ok(p1.some((p) => p.includes(`but WIN_TAG = ${L.WIN_TAG}`)), p1.join('\n'));
  assert.ok(p1.some((p) => p.includes('overlaps')), p1.join('\n'));
  const renamed = { ...win, rows: win.rows.map((r) => (r === tag ? { ...r, name: 'WIN_TAGS' } : r)) };
  assert.ok(drawingProblems(renamed).some((p) => p.includes('WIN_TAGS is no exported constant')));
  // A drawing that lost a row reads fine on its own, but is not what the record draws.
  const text = source.split('\n').filter((l) => !/^ \*\s+\d+\s+\d+\s+WIN_TAG\b/.test(l)).join('\n');
  const lost = parseDrawings(text, file).find((d) => d.title.startsWith('WINDOW'));
  assert.ok(lost);
  assert.deepEqual(drawingProblems(lost), []);
  assert.notEqual(lost.text, L.layoutRecords().find((r) => r.title === lost.title)?.draw());
});

test('layout drawings: draw-layouts redraws a stale drawing, and names one it cannot find', () => {
  const tool = path.join(__dirname, '..', '..', 'tools', 'draw-layouts.js');
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'shmkv-draw-'));
  const copies = (): string[] => SOURCES.map((n) => fs.readFileSync(path.join(dir, n), 'utf8'));
  try {
    for (const n of SOURCES) fs.copyFileSync(path.join(LAYOUT_DIR, n), path.join(dir, n));
    const originals = copies();
    const file = windowFile();
    const copy = path.join(dir, file);
    const source = read(file);
    // A stale row (WIN_TAG drawn at 36): redrawn to what the source holds, that file only.
    fs.writeFileSync(copy, source.replace(/^( \*\s+)32(\s+4\s+WIN_TAG\b)/m, '$136$2'));
    assert.notEqual(fs.readFileSync(copy, 'utf8'), source);
    const fixed = spawnSync(process.execPath, [tool, dir], { encoding: 'utf8' });
    assert.equal(fixed.status, 0, fixed.stderr);
    assert.match(fixed.stdout, new RegExp(`^draw-layouts: rewrote the drawings in [^,]*${file.replace('.', '\\.')}\n$`));
    assert.deepEqual(copies(), originals);
    // Nothing stale: nothing written.
    const current = spawnSync(process.execPath, [tool, dir], { encoding: 'utf8' });
    assert.equal(current.status, 0, current.stderr);
    assert.equal(current.stdout, 'draw-layouts: every drawing is current\n');
    // A record whose drawing is gone: one line naming it, exit 1, no file touched.
    const gone = source.replace(/^ \* WINDOW \(.*\n/m, '');
    fs.writeFileSync(copy, gone);
    const failed = spawnSync(process.execPath, [tool, dir], { encoding: 'utf8' });
    assert.equal(failed.status, 1);
    assert.match(failed.stderr, /^draw-layouts: .* needs exactly one drawing of "WINDOW \(.*\(found 0\)/);
    assert.equal(failed.stderr.trim().split('\n').length, 1);
    assert.equal(fs.readFileSync(copy, 'utf8'), gone);
    // A record drawn twice (in two files) is refused the same way.
    fs.writeFileSync(copy, source);
    fs.writeFileSync(path.join(dir, 'zz-twice.ts'), source);
    const twice = spawnSync(process.execPath, [tool, dir], { encoding: 'utf8' });
    assert.equal(twice.status, 1);
    assert.match(twice.stderr, /^draw-layouts: .* needs exactly one drawing of "WINDOW \(.*\(found 2\)/);
    assert.equal(twice.stderr.trim().split('\n').length, 1);
    // A path that does not exist: one line, exit 1.
    const missing = spawnSync(process.execPath, [tool, path.join(dir, 'no-such-dir')], { encoding: 'utf8' });
    assert.equal(missing.status, 1);
    assert.match(missing.stderr, /^draw-layouts: cannot read .*no-such-dir: ENOENT\n$/);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

/** The files of src/layout/ that `name`'s source imports (./x), by file name. */
function localImports(name: string): string[] {
  return [...read(name).matchAll(/^(?:import|export)\b[^;]*?from '\.\/([\w-]+)';/gms)].map((m) => `${m[1]}.ts`);
}

/** An import circle among `files` (each a name -> the names it imports), or null. */
function findCircle(files: Map<string, string[]>): string[] | null {
  const done = new Set<string>();
  const walk = (name: string, trail: string[]): string[] | null => {
    const at = trail.indexOf(name);
    if (at >= 0) return [...trail.slice(at), name];
    if (done.has(name)) return null;
    for (const next of files.get(name) ?? []) {
      const c = walk(next, [...trail, name]);
      if (c) return c;
    }
    done.add(name);
    return null;
  };
  for (const name of files.keys()) {
    const c = walk(name, []);
    if (c) return c;
  }
  return null;
}

test('src/layout/: no import circles among its files', () => {
  const graph = new Map(SOURCES.map((n) => [n, localImports(n)]));
  for (const [n, deps] of graph) for (const d of deps) assert.ok(graph.has(d), `${n} imports ./${d}, which is no file of src/layout/`);
  assert.ok((graph.get('layout.ts') ?? []).length >= 10, 'layout.ts re-exports the record files');
  assert.equal(findCircle(graph), null, `import circle: ${findCircle(graph)?.join(' -> ')}`);
  // The check finds a circle when there is one: the entry point imported back by a record.
  const withCircle = new Map(graph);
  withCircle.set('heap.ts', [...(graph.get('heap.ts') ?? []), 'layout.ts']);
  const circle = findCircle(withCircle);
  assert.ok(circle && circle[0] === circle[circle.length - 1] && circle.includes('heap.ts') && circle.includes('layout.ts'), String(circle));
});

/** Every .ts file under `dir` (no node_modules, no build output). */
function tsFiles(dir: string): string[] {
  return fs.readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const p = path.join(dir, e.name);
    if (e.isDirectory()) return e.name === 'node_modules' || e.name === 'dist' ? [] : tsFiles(p);
    return e.name.endsWith('.ts') ? [p] : [];
  });
}

// layout.ts re-exports the record files through getters (`export *`): a
// constant loaded through it is a call, and a hot path pays it at every use
// (gets and sets ran at ~0.5x: docs/PERFORMANCE.md, issue 25). So code
// imports each constant from its record file, and only the layout tests and
// the redraw tool, which want every record at once, import layout.ts.
test('src/layout/: code outside it imports each constant from its record file, never through layout.ts', () => {
  const WHOLE = new Set(['test/unit/layout.test.ts', 'test/unit/layout-values.test.ts', 'tools/draw-layouts.ts']);
  const outside = ['src', 'test', 'bench', 'tools', 'examples'].flatMap((d) => tsFiles(path.join(ROOT, d))).filter((f) => path.dirname(f) !== LAYOUT_DIR);
  assert.ok(outside.length > 100, `found only ${outside.length} source files`);
  const bad: string[] = [];
  let direct = 0;
  for (const f of outside)
    for (const m of fs.readFileSync(f, 'utf8').matchAll(/from '([^']*\/layout\/([\w-]+))'/g)) {
      if (m[2] !== 'layout') direct++;
      else if (!WHOLE.has(path.relative(ROOT, f))) bad.push(`${path.relative(ROOT, f)}: ${m[1]}`);
    }
  assert.ok(direct > 100, `only ${direct} imports of record files`);
  assert.deepEqual(bad, [], 'import these from the record file that defines them');
});
