/**
 * The checks every `./client -f` replay test makes, u32 and byte workloads
 * alike: the client ran, every get matched e.txt, -o wrote exactly e.txt,
 * and the server it forked left neither its region nor a process behind.
 */
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import { Scope, hasStackTrace, pidsMentioning } from './procs';

/** Run `./client` with `args` (which fork a server: -f, -i w.txt -c -e e.txt -o out.txt) and check its run; `gets`: the workload's gets. */
export async function checkForkedReplay(s: Scope, args: string[], gets: number, timeoutMs: number): Promise<{ stderr: string }> {
  const r = await s.client(args, { timeoutMs });
  assert.equal(r.timedOut, false, 'client timed out');
  assert.equal(r.code, 0, `client exit ${r.code ?? r.signal}; stderr: ${r.stderr}`);
  assert.match(r.stderr, new RegExp(`client: all ${gets} get results match e\\.txt`));
  assert.equal(hasStackTrace(r.stderr), false, r.stderr);
  assert.match(r.stdout, /^Total time: [\d.]+ ms\nThroughput: [\d.]+ K\/s\n$/);
  // -o writes exactly the expected file, byte for byte.
  assert.ok(fs.readFileSync(s.p('out.txt')).equals(fs.readFileSync(s.p('e.txt'))), 'out.txt differs from e.txt');
  // The forked server is gone: region removed, no process left behind.
  assert.equal(s.exists('region'), false, 'the forked server left its region file');
  assert.deepEqual(pidsMentioning(s.dir), [], 'a process started by the client is still running');
  return { stderr: r.stderr };
}
