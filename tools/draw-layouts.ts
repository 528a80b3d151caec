/**
 * Rewrites the drawings in src/layout/layout.ts's comments (or in FILE, a
 * copy of it) from the records the build lays out. After changing a layout:
 * `make all`, then `node dist/tools/draw-layouts.js [FILE]`, then review the diff
 * (test/unit/layout.test.ts fails until every drawing matches its record).
 *
 * A drawing is a comment line ` * <the record's title>`, the column header,
 * then one row per field; the rows are replaced, the rest of the comment is
 * left alone. A record whose title is not found (or found twice) is one line
 * on stderr and exit code 1.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { DRAWING_HEADER } from '../src/layout/fields';
import { layoutRecords } from '../src/layout/layout';

const HEADER = /^ \*\s+offset\s+bytes\s+field$/;
const ROW = /^ \*\s+\d+\s+\d+\s+\S/;

function main(): number {
  const file = process.argv[2] ?? path.join(__dirname, '..', '..', 'src', 'layout', 'layout.ts');
  const before = fs.readFileSync(file, 'utf8');
  const lines = before.split('\n');
  for (const rec of layoutRecords()) {
    const title = ` * ${rec.title}`;
    const at = lines.indexOf(title);
    if (at < 0 || lines.indexOf(title, at + 1) >= 0 || !HEADER.test(lines[at + 1] ?? '')) {
      process.stderr.write(`draw-layouts: ${file} needs exactly one drawing of "${rec.title}": the line "${title}", then " *${DRAWING_HEADER}"\n`);
      return 1;
    }
    let end = at + 2;
    while (end < lines.length && ROW.test(lines[end])) end++;
    lines.splice(at, end - at, ...rec.draw().split('\n').map((l) => ` * ${l}`.trimEnd()));
  }
  const after = lines.join('\n');
  if (after === before) process.stdout.write('draw-layouts: every drawing is current\n');
  else {
    fs.writeFileSync(file, after);
    process.stdout.write(`draw-layouts: rewrote the drawings in ${path.relative(process.cwd(), file)}\n`);
  }
  return 0;
}

process.exitCode = main();
