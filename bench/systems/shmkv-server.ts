/**
 * This store's server processes for the bench: ./server (or, for wait-policy
 * experiments, bench/systems/server-child.js) forked once per server configuration,
 * plus the bench's own Connection to each.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { spawn, ChildProcess } from 'node:child_process';
import { Connection } from '../../src/client/connection';
import type { WaitPolicy } from '../../src/sync/waiter';
import { REPO } from '../harness/options';

export interface ShmkvServer {
  key: string;
  threads: number;
  coarse: boolean;
  dir: string;
  regionPath: string;
  child: ChildProcess;
  conn: Connection;
}

const SERVER_JS = path.join(REPO, 'dist', 'src', 'cli', 'server.js');

export function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

export function serverKey(threads: number, coarse: boolean): string {
  return `s${threads}/${coarse ? 'coarse' : 'fine'}`;
}

export async function startShmkv(threads: number, coarse: boolean, nodeArgs: string[], policy: WaitPolicy | null): Promise<ShmkvServer> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'shmkv-bench-'));
  const regionPath = path.join(dir, 'region');
  let args: string[];
  if (policy) {
    const locking = coarse ? 'coarse' : 'fine';
    args = [...nodeArgs, path.join(__dirname, 'server-child.js'), regionPath, String(threads), locking, String(policy.spins), String(policy.yields), String(policy.sleepMs)];
  } else {
    // --temporary: the bench's tables go with their servers (a kept cache would outlive the run in /dev/shm).
    args = [...nodeArgs, SERVER_JS, '-n', String(threads), '-s', '1024', '-p', regionPath, '-q', '--temporary'];
    if (coarse) args.push('--coarse');
  }
  const child = spawn(process.execPath, args, { stdio: ['ignore', 'inherit', 'inherit'] });
  let exited = false;
  child.once('exit', () => (exited = true));
  const deadline = Date.now() + 15000;
  for (;;) {
    await sleep(20);
    if (exited) throw new Error(`server (${threads} threads${coarse ? ', coarse' : ''}) exited at start`);
    try {
      const conn = Connection.open({ path: regionPath, ...(policy ? { policy } : {}) });
      return { key: serverKey(threads, coarse), threads, coarse, dir, regionPath, child, conn };
    } catch (e) {
      if (Date.now() > deadline) throw e;
    }
  }
}

export async function stopShmkv(s: ShmkvServer): Promise<void> {
  s.conn.close();
  if (s.child.exitCode === null && s.child.signalCode === null) {
    const gone = new Promise((r) => s.child.once('exit', r));
    s.child.kill('SIGTERM');
    const timer = setTimeout(() => s.child.kill('SIGKILL'), 10000);
    await gone;
    clearTimeout(timer);
  }
  fs.rmSync(s.dir, { recursive: true, force: true });
}
