/**
 * Helpers of the riding-through tests (test/faults/ride-through, pause and
 * start tests): a scope, a server's arguments, pausing a process, counting
 * the windows owned on a region's board.
 */
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import { Region } from '../../src/layout/region';
import { Owners } from '../../src/transport/owners';
import { fmtExit, pollUntil, Proc, Scope, WAIT_MS } from '../fixtures/faults/harness';

export function scoped(t: { after: (fn: () => Promise<void>) => void }): Scope {
  const scope = new Scope('shmkv-ride-');
  t.after(() => scope.cleanup());
  return scope;
}

/** A server on `region`, its data file in the scope's dir. */
export function serverArgs(scope: Scope, extra: string[] = []): string[] {
  return ['-n', '2', '-m', '64', '--data-dir', scope.dir, ...extra];
}

/** The state letter of /proc/PID/stat ('T': stopped), '' when gone. */
export function procState(pid: number): string {
  try {
    const s = fs.readFileSync(`/proc/${pid}/stat`, 'latin1');
    return s.charAt(s.lastIndexOf(')') + 2);
  } catch {
    return '';
  }
}

export async function pause(server: Proc): Promise<void> {
  process.kill(server.pid, 'SIGSTOP');
  assert.ok(await pollUntil(() => procState(server.pid) === 'T', WAIT_MS), `the server did not stop (${procState(server.pid)})`);
}

export async function sigterm(server: Proc): Promise<void> {
  server.kill('SIGTERM');
  const x = await server.wait(WAIT_MS);
  assert.equal(x.code, 0, `server exit after SIGTERM (${fmtExit(x)})\n${server.output()}`);
}

/** Windows owned on the board of the region now at `region` (every owner). */
export function owned(region: string): number {
  return new Owners(Region.open(region)).ownedCount();
}

/** The last stdout line of a fixture, parsed. */
export function figures<T>(p: Proc): T {
  const line = p.stdout.trim().split('\n').pop() ?? '';
  try {
    return JSON.parse(line) as T;
  } catch {
    throw new Error(`${p.label}: no figures\n${p.output()}`);
  }
}
