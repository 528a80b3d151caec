/**
 * The test suite's reporter (npm test): node's own TAP output, unchanged,
 * with the failing tests named once more just before the closing summary,
 * so that the tail of a CI log says what failed:
 *
 *   FAILED: dist/test/e2e/server-lifecycle.test.js > e2e: server lifecycle > SIGINT makes ...
 *   # tests 154
 *   # ...
 *   # pass 153
 *   # fail 1
 *   ...
 *
 * The summary lines stay last (CI judges the run by them), and the exit code
 * is node's. A test that failed only because a subtest did is not listed
 * (its failing subtest is, under its full name).
 */
import * as path from 'node:path';
import { tap } from 'node:test/reporters';

interface Ev {
  type: string;
  data: {
    name?: string;
    nesting?: number;
    file?: string;
    message?: string;
    details?: { error?: { failureType?: string; cause?: unknown } };
  };
}

async function* reporter(source: AsyncIterable<Ev>): AsyncGenerator<string> {
  /** Per nesting level: paths of failing tests whose parent has not been reported yet. */
  const open: string[][][] = [];
  const failed: string[] = [];
  let summary = false;

  async function* events(): AsyncGenerator<Ev> {
    for await (const ev of source) {
      const d = ev.data ?? {};
      if ((ev.type === 'test:pass' || ev.type === 'test:fail') && typeof d.nesting === 'number') {
        // A test is reported after its subtests: collect their failing paths under its name.
        const n = d.nesting;
        const mine = (open[n + 1] ?? []).map((p) => [d.name ?? '?', ...p]);
        open[n + 1] = [];
        const onlySubtests = d.details?.error?.failureType === 'subtestsFailed';
        if (ev.type === 'test:fail' && !(onlySubtests && mine.length > 0)) mine.push([d.name ?? '?']);
        if (n === 0) {
          const file = d.file ? path.relative(process.cwd(), d.file) : '';
          // A file whose process failed outside any test is reported under its own path.
          for (const p of mine) failed.push(d.file && path.resolve(p[0]) !== d.file ? [file, ...p].join(' > ') : file || p.join(' > '));
        } else (open[n] ??= []).push(...mine);
      }
      // node's closing summary starts with "tests N" at nesting 0.
      if (ev.type === 'test:diagnostic' && (d.nesting ?? 0) === 0 && /^tests \d+$/.test(d.message ?? '')) summary = true;
      yield ev;
    }
  }

  let listed = false;
  // tap pulls the next event only once its previous output was taken, so the
  // first chunk after `summary` is set is the summary's first line.
  for await (const chunk of tap(events() as unknown as Parameters<typeof tap>[0])) {
    if (summary && !listed) {
      listed = true;
      if (failed.length > 0) yield `# ${failed.length} failing test(s):\n${failed.map((f) => `FAILED: ${f}\n`).join('')}`;
    }
    yield chunk;
  }
  // No summary seen (the run was cut short): still name what failed.
  if (!listed && failed.length > 0) yield `# ${failed.length} failing test(s):\n${failed.map((f) => `FAILED: ${f}\n`).join('')}`;
}

export = reporter;
