/**
 * The crash bench (make bench; issue 20's target "a crash with start: true
 * clients costs writes <= 1 s of waiting and loses 0 acknowledged writes"):
 * 4 writer processes (crash-writer.ts) connected with start: true write
 * without pause; the server is killed with SIGKILL 5 times, 2 s apart; the
 * next server is started by whichever writer finds it dead first, and
 * adopts the table. Each kill waits until the server killed before was
 * replaced and the new one is READY (on a loaded machine a start can take
 * seconds: kills on a fixed clock would pile up on one start). Reported:
 * each writer's longest wait between two writes, the writes that threw
 * (and why), and every acknowledged write checked afterwards.
 *
 *   node dist/bench/scale/crash.js [--out FILE]
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { spawn, ChildProcess } from 'node:child_process';
import { connect } from '../../src/index';
import { Region } from '../../src/layout/region';
import { ServerState } from '../../src/layout/region-header';
import { processAlive } from '../../src/sync/lock';
import { REPO } from '../harness/options';

const WRITERS = 4;
const CRASHES = 5;
const WRITER_JS = path.join(__dirname, 'crash-writer.js');
const SERVER_JS = path.join(REPO, 'dist', 'src', 'cli', 'server.js');

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** Whether a server other than `not` is READY at `region`. */
function readyServer(region: string, not: number): boolean {
  try {
    const r = Region.open(region);
    return r.serverPid() !== not && r.serverState() === ServerState.Ready;
  } catch {
    return false;
  }
}

function serverPid(region: string): number {
  try {
    const r = Region.open(region);
    return r.serverPid();
  } catch {
    return 0;
  }
}

async function main(): Promise<void> {
  const outIx = process.argv.indexOf('--out');
  const out = outIx > 0 ? process.argv[outIx + 1]! : path.join(REPO, 'bench', 'results', 'crash.md');
  const work = fs.mkdtempSync(path.join(os.tmpdir(), 'shmkv-crash-'));
  const dataDir = fs.existsSync('/dev/shm') ? '/dev/shm' : work;
  const region = path.join(work, 'region');
  const stop = path.join(work, 'STOP');
  const children: ChildProcess[] = [];
  try {
    const writers = Array.from({ length: WRITERS }, (_, w) => {
      const child = spawn(process.execPath, [WRITER_JS, region, `w${w}`, stop, dataDir], { stdio: ['ignore', 'pipe', 'inherit'] });
      let text = '';
      child.stdout!.on('data', (d: Buffer) => (text += d.toString()));
      const done = new Promise<{ written: number; failed: number[]; errors: Record<string, number>; maxGapMs: number; gaps: number[] }>((resolve, reject) =>
        child.once('exit', (code) => (code === 0 ? resolve(JSON.parse(text.trim())) : reject(new Error(`writer ${w} exited ${code}`)))),
      );
      children.push(child);
      return { child, done };
    });
    const deadline = Date.now() + 60_000;
    while (serverPid(region) === 0) {
      if (Date.now() > deadline) throw new Error('no server started');
      await sleep(50);
    }
    const pids: number[] = [];
    for (let c = 0; c < CRASHES; c++) {
      const until = Date.now() + 60_000;
      while (!readyServer(region, pids[pids.length - 1] ?? 0)) {
        if (Date.now() > until) throw new Error(`no server replaced pid ${pids[pids.length - 1]} within 60 s`);
        await sleep(20);
      }
      await sleep(2000);
      const pid = serverPid(region);
      pids.push(pid);
      process.kill(pid, 'SIGKILL');
      process.stderr.write(`crash: killed server ${pid}\n`);
    }
    await sleep(2000);
    fs.writeFileSync(stop, '');
    const results = await Promise.all(writers.map((w) => w.done));
    // Every acknowledged write is there, with its value.
    const kv = connect({ path: region });
    let lost = 0;
    let acked = 0;
    results.forEach((r, w) => {
      const failed = new Set(r.failed);
      for (let i = 0; i < r.written; i++) {
        if (failed.has(i)) continue;
        acked++;
        if (kv.getSync(`w${w}:${i}`) !== i) lost++;
      }
    });
    kv.closeSync();
    const lines = [
      '# Crash with start: true clients (bench/scale/crash.ts)',
      '',
      `Node ${process.version}, load average ${os.loadavg()[0].toFixed(1)}, ${new Date().toISOString()}. \`node dist/bench/scale/crash.js\`: ${WRITERS} writer processes (setSync without pause, connect({ start: true })), the server killed with SIGKILL ${CRASHES} times 2 s apart (pids ${pids.join(', ')}), each next server started by a writer.`,
      '',
      '| writer | writes | writes that threw | longest wait for a write (ms) | waits over 50 ms (ms) |',
      '|---:|---:|---|---:|---|',
      ...results.map((r, w) => `| ${w} | ${r.written.toLocaleString('en-US')} | ${r.failed.length === 0 ? '0' : Object.entries(r.errors).map(([k, n]) => `${n} ${k}`).join(', ')} | ${r.maxGapMs.toFixed(0)} | ${r.gaps.join(', ')} |`),
      '',
      `Acknowledged writes checked afterwards: ${acked.toLocaleString('en-US')}, missing or wrong: ${lost}.`,
    ];
    fs.mkdirSync(path.dirname(out), { recursive: true });
    fs.writeFileSync(out, lines.join('\n') + '\n');
    process.stderr.write(`crash: written to ${out}\n`);
  } finally {
    // Writers still running (a failed run) would spin on for ever.
    for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
    // The last server was started detached by a writer: stop it, then drop its cache.
    const pid = serverPid(region);
    if (pid > 0 && processAlive(pid)) {
      process.kill(pid, 'SIGTERM');
      const until = Date.now() + 30_000;
      while (processAlive(pid) && Date.now() < until) await sleep(50);
      if (processAlive(pid)) process.kill(pid, 'SIGKILL');
    }
    const dropped = spawn(process.execPath, [SERVER_JS, '--drop', '-p', region, '--data-dir', dataDir], { stdio: 'ignore' });
    await new Promise((r) => dropped.once('exit', r));
    fs.rmSync(work, { recursive: true, force: true });
  }
}

main().catch((e: Error) => {
  process.stderr.write(`crash: ${e.message}\n`);
  process.exit(1);
});
