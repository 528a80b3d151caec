/**
 * Helpers of the process-fault tests (test/faults/client-kills, signals and
 * region-files tests): a scope cleaned up after each test, the windows owned
 * on a region's board, one-line and exact-result assertions, and a small
 * deterministic workload.
 */
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import { Connection } from '../../src/client/connection';
import { Exit, fmtExit, LONG_MS, lines, Proc, Scope } from '../fixtures/faults/harness';

export function scoped(t: { after: (fn: () => Promise<void>) => void }, prefix?: string): Scope {
  const scope = new Scope(prefix);
  t.after(() => scope.cleanup());
  return scope;
}

const views = new Map<string, { ino: number; conn: Connection }>();
function view(region: string): Connection {
  const ino = fs.statSync(region).ino;
  let v = views.get(region);
  if (!v || v.ino !== ino) views.set(region, (v = { ino, conn: Connection.open({ path: region }) }));
  return v.conn;
}

/** Windows owned by anyone on the region's board (one mapping per region file). */
export function ownedWindows(region: string): number {
  return view(region).owners.ownedCount();
}

/**
 * Windows owned by process `pid`. Attach waits must name the process: a
 * total count can be reached without it (a chaos client holds one extra
 * window now and then).
 */
export function ownedBy(region: string, pid: number): number {
  return view(region).owners.ownedBy(pid);
}

export function assertOneLine(p: Proc, re: RegExp, what: string): void {
  const l = lines(p.stderr);
  assert.equal(l.length, 1, `${what}: expected one line on stderr, got ${l.length}\n${p.output()}`);
  assert.match(l[0], re, `${what}\n${p.output()}`);
}

export function assertExact(p: Proc, e: Exit, what: string): void {
  assert.equal(e.code, 0, `${what} failed (${fmtExit(e)})\n${p.output()}`);
  assert.match(p.stderr, /all \d+ get results match/, `${what}\n${p.output()}`);
}

export async function checkedClient(scope: Scope, region: string, workload: string, expected: string, args: string[], label: string): Promise<void> {
  const c = scope.client(region, [...args, '-i', workload, '-c', '-e', expected], label);
  assertExact(c, await c.wait(LONG_MS), label);
}

/** A small deterministic workload in the scope's dir; returns [workload, expected]. */
export async function smallWorkload(scope: Scope, name: string, threads = 2, window = 4, n = 5000): Promise<[string, string]> {
  const w = scope.file(`${name}.txt`);
  const e = scope.file(`${name}.expected`);
  await scope.genworkload(['-n', String(n), '-p', '50', '-k', '2000', '-t', String(threads), '-w', String(window), '-o', w, '-e', e]);
  return [w, e];
}

/** ownedWindows, or 0 while the region is not ready. */
export function ownedWindowsSafe(region: string): number {
  try {
    return ownedWindows(region);
  } catch {
    return 0;
  }
}
