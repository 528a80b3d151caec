/**
 * One size of the scale bench for this store (run.ts): a server started
 * fresh, filled by setSync in one process, read by getSync, stopped and
 * started again (warm restart), killed and started again (crash restart),
 * and snapshotted while a writer runs. Every figure is measured here; none
 * is derived from another run.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { spawn, ChildProcess } from 'node:child_process';
import { connect } from '../../src/index';
import { cacheFiles } from '../../src/layout/data-file';
import { REPO } from '../harness/options';
import { key, value, permuted, rssBytes, allocatedBytes, ratePerSec } from './data';

const SERVER_JS = path.join(REPO, 'dist', 'src', 'cli', 'server.js');

export interface ShmkvScale {
  entries: number;
  budgetMiB: number;
  /** Spawn to the ready line, empty table. */
  startMs: number;
  setKps: number;
  getKps: number;
  /** stats().bytesUsed / entries: heap blocks and indexes in use. */
  usedPerEntry: number;
  /** Pages the data and exchange files hold / entries (what the entries cost in /dev/shm). */
  filePerEntry: number;
  serverRssMiB: number;
  /** Spawn to ready after a SIGTERM stop, and what the server says adoption took. */
  restartMs: number;
  adoptMs: number;
  crashRestartMs: number;
  crashAdoptMs: number;
  snapshot: { ms: number; bytes: number; setKpsBefore: number; setKpsDuring: number } | null;
}

interface Proc {
  child: ChildProcess;
  readyMs: number;
  line: string;
}

async function startServer(args: string[]): Promise<Proc> {
  const t0 = performance.now();
  const child = spawn(process.execPath, [SERVER_JS, ...args], { stdio: ['ignore', 'ignore', 'pipe'] });
  let err = '';
  return new Promise<Proc>((resolve, reject) => {
    child.stderr!.on('data', (d: Buffer) => {
      err += d.toString();
      const m = /^server: ready.*$/m.exec(err);
      if (m) resolve({ child, readyMs: performance.now() - t0, line: m[0] });
    });
    child.once('exit', (code) => reject(new Error(`server exited (${code}) before ready: ${err.trim()}`)));
  });
}

async function stop(p: Proc, signal: NodeJS.Signals): Promise<void> {
  if (p.child.exitCode !== null || p.child.signalCode !== null) return;
  const gone = new Promise((r) => p.child.once('exit', r));
  p.child.kill(signal);
  await gone;
}

function adoptedMs(line: string, entries: number): number {
  const m = /adopted (\d+) key\(s\) from .* in (\d+) ms/.exec(line);
  if (!m || Number(m[1]) !== entries) throw new Error(`the restart did not adopt ${entries} keys: ${line}`);
  return Number(m[2]);
}

/** Sets per second of a setSync loop for `ms` (keys past the filled ones: no eviction at these budgets). */
function setRate(kv: ReturnType<typeof connect>, from: number, ms: number): { kps: number; next: number } {
  const t0 = performance.now();
  let i = from;
  while (performance.now() - t0 < ms) {
    for (let j = 0; j < 1000; j++, i++) kv.setSync(key(i), value(i));
  }
  return { kps: ratePerSec(i - from, performance.now() - t0) / 1000, next: i };
}

export async function shmkvScale(entries: number, dataDir: string, work: string, log: (s: string) => void, withSnapshot: boolean): Promise<ShmkvScale> {
  // A power of two of MiB with room for ~256 B per entry: no eviction.
  let budgetMiB = 64;
  while (budgetMiB * 2 ** 20 < entries * 256) budgetMiB *= 2;
  const region = path.join(work, `region-${entries}`);
  const base = ['-n', '2', '-m', String(budgetMiB), '-p', region, '--data-dir', dataDir, '-s', '1024'];
  const files = cacheFiles(region, dataDir);
  let srv = await startServer([...base, '--fresh']);
  const startMs = srv.readyMs;
  log(`shmkv ${entries}: ready in ${startMs.toFixed(0)} ms (-m ${budgetMiB}); filling`);
  let kv = connect({ path: region });
  let t0 = performance.now();
  for (const i of permuted(entries)) kv.setSync(key(i), value(i));
  const setKps = ratePerSec(entries, performance.now() - t0) / 1000;
  const st = kv.stats();
  if (st.keys !== entries || st.evictions !== 0) throw new Error(`after the fill: ${st.keys} keys, ${st.evictions} evictions`);
  const gets = Math.min(2_000_000, 2 * entries);
  let x = 12345;
  t0 = performance.now();
  for (let n = 0; n < gets; n++) {
    x = (Math.imul(x, 1103515245) + 12345) >>> 0;
    if (kv.getSync(key(x % entries)) === undefined) throw new Error('a filled key is missing');
  }
  const getKps = ratePerSec(gets, performance.now() - t0) / 1000;
  const usedPerEntry = st.bytesUsed / entries;
  const filePerEntry = (allocatedBytes(files.data) + allocatedBytes(files.xchg)) / entries;
  const serverRssMiB = rssBytes(srv.child.pid!) / 2 ** 20;
  log(`shmkv ${entries}: set ${setKps.toFixed(0)} K/s, get ${getKps.toFixed(0)} K/s, ${usedPerEntry.toFixed(1)} B/entry used, ${filePerEntry.toFixed(1)} B/entry in files, server RSS ${serverRssMiB.toFixed(0)} MiB`);
  kv.closeSync();

  await stop(srv, 'SIGTERM');
  srv = await startServer(base);
  const restartMs = srv.readyMs;
  const adoptMs = adoptedMs(srv.line, entries);
  await stop(srv, 'SIGKILL');
  srv = await startServer(base);
  const crashRestartMs = srv.readyMs;
  const crashAdoptMs = adoptedMs(srv.line, entries);
  log(`shmkv ${entries}: restart ${restartMs.toFixed(0)} ms (adoption ${adoptMs} ms), after SIGKILL ${crashRestartMs.toFixed(0)} ms (${crashAdoptMs} ms)`);
  kv = connect({ path: region });
  for (let n = 0; n < 10_000; n++) {
    const i = (n * 7919) % entries;
    if (kv.getSync(key(i)) !== value(i)) throw new Error(`after the restarts, ${key(i)} is not its value`);
  }

  let snapshot: ShmkvScale['snapshot'] = null;
  if (withSnapshot) {
    kv.closeSync();
    await stop(srv, 'SIGTERM');
    const file = path.join(work, `table-${entries}.snapshot`);
    srv = await startServer([...base, '--snapshot', file]);
    kv = connect({ path: region });
    const before = setRate(kv, entries, 2000);
    let said = '';
    srv.child.stderr!.on('data', (d: Buffer) => (said += d.toString()));
    const asked = spawn(process.execPath, [SERVER_JS, '--snapshot-now', '-p', region], { stdio: 'ignore' });
    const done = new Promise<number | null>((r) => asked.once('exit', r));
    let finished = false;
    void done.then(() => (finished = true));
    // The writer runs until the snapshot is written (at least one round).
    let next = before.next;
    let sets = 0;
    t0 = performance.now();
    do {
      for (let j = 0; j < 1000; j++, next++, sets++) kv.setSync(key(next), value(next));
      await new Promise((r) => setImmediate(r)); // let the exit event in
    } while (!finished);
    const during = ratePerSec(sets, performance.now() - t0) / 1000;
    if ((await done) !== 0) throw new Error('--snapshot-now failed');
    const m = /snapshot of (\d+) key\(s\) written to .* in (\d+) ms \((\d+) bytes\)/.exec(said);
    if (!m) throw new Error(`no snapshot line: ${said}`);
    snapshot = { ms: Number(m[2]), bytes: Number(m[3]), setKpsBefore: before.kps, setKpsDuring: during };
    log(`shmkv ${entries}: snapshot ${m[1]} keys in ${m[2]} ms, ${m[3]} bytes; setSync ${before.kps.toFixed(0)} K/s before, ${during.toFixed(0)} K/s during`);
    fs.rmSync(file, { force: true });
  }
  kv.closeSync();
  await stop(srv, 'SIGKILL');
  const dropped = spawn(process.execPath, [SERVER_JS, '--drop', '-p', region, '--data-dir', dataDir], { stdio: 'ignore' });
  await new Promise((r) => dropped.once('exit', r));
  return { entries, budgetMiB, startMs, setKps, getKps, usedPerEntry, filePerEntry, serverRssMiB, restartMs, adoptMs, crashRestartMs, crashAdoptMs, snapshot };
}
