/** Assertions shared by the CLI error tests (cli-errors.test.ts, cli-errors-bytes.test.ts). */
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import { RunResult, Scope, hasStackTrace, lines, pidsMentioning } from './procs';

export type Cli = 'client' | 'server' | 'genworkload';

/** Exactly one stderr line `${cmd}: ...`, the exit code, no stack trace, nothing on stdout. */
export function assertOneLineError(r: RunResult, cmd: Cli, code: number, what: string): string {
  const ctx = `${what}: exit ${r.code ?? r.signal}, stderr:\n${r.stderr}`;
  assert.equal(r.timedOut, false, `${what}: timed out`);
  assert.equal(r.code, code, ctx);
  assert.equal(hasStackTrace(r.stderr), false, `${what}: stack trace on stderr:\n${r.stderr}`);
  assert.equal(lines(r.stderr).length, 1, `${what}: expected exactly one stderr line, got:\n${r.stderr}`);
  assert.match(r.stderr, new RegExp(`^${cmd}: \\S`), ctx);
  assert.equal(r.stdout, '', `${what}: stdout: ${r.stdout}`);
  return r.stderr.trim();
}

/** Nothing created in the test's dir besides what it wrote itself. */
export function assertNoSideEffects(s: Scope, before: string[], what: string): void {
  assert.deepEqual(fs.readdirSync(s.dir).sort(), before, `${what}: files appeared`);
  assert.deepEqual(pidsMentioning(s.dir), [], `${what}: a process was left running`);
}
