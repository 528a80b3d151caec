/**
 * Rewrites the drawings in the comments of src/layout/'s files (or of the
 * files and directories given: a copy of them) from the records the build
 * lays out. After changing a layout: `make all`, then `node
 * dist/tools/draw-layouts.js [PATH...]`, then review the diff
 * (test/unit/layout.test.ts fails until every drawing matches its record).
 *
 * A drawing is a comment line ` * <the record's title>`, the column header,
 * then one row per field; the rows are replaced, the rest of the comment is
 * left alone. Each record must have exactly one drawing among the files
 * (in whichever file holds its constants); a record with none or several,
 * or a path that cannot be read, is one line on stderr and exit code 1,
 * and no file is written.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { DRAWING_HEADER } from '../src/layout/fields';
import { layoutRecords } from '../src/layout/layout';

const HEADER = /^ \*\s+offset\s+bytes\s+field$/;
const ROW = /^ \*\s+\d+\s+\d+\s+\S/;

/** The .ts files named, or in the directories named (src/layout/ by default). */
function sourceFiles(paths: string[]): string[] {
  return paths.flatMap((p) =>
    fs.statSync(p).isDirectory()
      ? fs
          .readdirSync(p)
          .filter((n) => n.endsWith('.ts'))
          .sort()
          .map((n) => path.join(p, n))
      : [p],
  );
}

function main(): number {
  const paths = process.argv.length > 2 ? process.argv.slice(2) : [path.join(__dirname, '..', '..', 'src', 'layout')];
  const files = new Map<string, string[]>();
  try {
    for (const f of sourceFiles(paths)) files.set(f, fs.readFileSync(f, 'utf8').split('\n'));
  } catch (e) {
    const err = e as NodeJS.ErrnoException;
    process.stderr.write(`draw-layouts: cannot read ${err.path ?? paths.join(' ')}: ${err.code ?? err.message}\n`);
    return 1;
  }
  const before = new Map([...files].map(([f, lines]) => [f, lines.join('\n')]));
  for (const rec of layoutRecords()) {
    const title = ` * ${rec.title}`;
    const hits = [...files].flatMap(([file, lines]) => lines.flatMap((l, i) => (l === title ? [{ file, lines, at: i }] : [])));
    if (hits.length !== 1 || !HEADER.test(hits[0].lines[hits[0].at + 1] ?? '')) {
      process.stderr.write(`draw-layouts: ${paths.join(' ')} needs exactly one drawing of "${rec.title}" (found ${hits.length}): the line "${title}", then " *${DRAWING_HEADER}"\n`);
      return 1;
    }
    const { lines, at } = hits[0];
    let end = at + 2;
    while (end < lines.length && ROW.test(lines[end])) end++;
    lines.splice(at, end - at, ...rec.draw().split('\n').map((l) => ` * ${l}`.trimEnd()));
  }
  const changed = [...files].filter(([f, lines]) => lines.join('\n') !== before.get(f));
  for (const [f, lines] of changed) fs.writeFileSync(f, lines.join('\n'));
  if (changed.length === 0) process.stdout.write('draw-layouts: every drawing is current\n');
  else process.stdout.write(`draw-layouts: rewrote the drawings in ${changed.map(([f]) => path.relative(process.cwd(), f)).join(', ')}\n`);
  return 0;
}

process.exitCode = main();
