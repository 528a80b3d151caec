/**
 * Processes that start together: each prints "ready" when attached, and all
 * go at once when the table's key `go` is set (the fixtures in
 * test/fixtures/api wait for it), so that their calls race.
 */
import * as assert from 'node:assert/strict';
import { ChildProcess } from 'node:child_process';
import { connect } from '../../src/index';
import { RunResult, Scope, waitFor } from './procs';

/** Lines a child has printed so far (a live array, filled as it prints). */
export function linesOf(child: ChildProcess): string[] {
  const out: string[] = [];
  let buf = '';
  child.stdout!.on('data', (d: Buffer) => {
    buf += d.toString();
    const parts = buf.split('\n');
    buf = parts.pop()!;
    out.push(...parts);
  });
  return out;
}

/** Spawn `node script ...args` for each argument list, wait until all print "ready", then set `go`. */
export async function together(s: Scope, region: string, script: string, argLists: string[][]): Promise<{ done: Array<Promise<RunResult>>; out: string[][]; children: ChildProcess[] }> {
  const runs = argLists.map((args) => s.spawn(process.execPath, [script, ...args], { timeoutMs: 90_000 }));
  const out = runs.map((r) => linesOf(r.child));
  assert.ok(await waitFor(() => out.every((o) => o.includes('ready')), 30_000), `every process of ${script} attached`);
  const kv = connect({ path: region });
  kv.setSync('go', 1);
  await kv.close();
  return { done: runs.map((r) => r.done), out, children: runs.map((r) => r.child) };
}

/** The last line of a process that exited 0, as JSON. */
export function lastJsonLine<T>(r: RunResult): T {
  assert.equal(r.code, 0, r.stderr);
  return JSON.parse(r.stdout.trim().split('\n').pop()!) as T;
}
