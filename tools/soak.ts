/**
 * Soak test: record concurrent histories against one server for a while
 * and check every one for linearizability (tools/lincheck.ts); optionally
 * SIGKILL chaos clients at random instants meanwhile.
 *
 *   make && node dist/tools/soak.js --seconds 60 [--chaos]
 *
 * Each round starts `procs` client processes together (each `threads` worker
 * threads with a lane of `width` windows) on `keys` fresh keys, `ops`
 * operations per thread, and checks the merged history. The last line is a
 * one-line summary; exit status 0 when every round was linearizable and the
 * server stopped cleanly, 1 otherwise (the offending history is saved).
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { parseArgs } from 'node:util';
import { checkHistory, summarize } from './lincheck';
import { Proc, Scope, fmtExit, sleep } from '../test/fixtures/faults/harness';
import { crossProcessOverlaps, recordRound } from '../test/fixtures/faults/rounds';

const HELP = `usage: node dist/tools/soak.js [options]

  --seconds S         how long to run (default 60)
  --procs N           client processes per round (default 2)
  --threads N         threads per client process (default 3)
  --width W           requests in flight per thread (default 4)
  --ops N             operations per thread per round (default 2000)
  --keys K            keys per round (default 8)
  --server-threads N  server worker threads (default 3)
  --chaos             also SIGKILL chaos clients at random instants
  --path FILE         region file (default: in a fresh temp dir)
  -h, --help          show this help
`;

function int(v: string | undefined, def: number, name: string, min = 1): number {
  if (v === undefined) return def;
  if (!/^\d+$/.test(v) || Number(v) < min) throw new Error(`--${name} needs an integer >= ${min}, got "${v}"`);
  return Number(v);
}

async function main(): Promise<number> {
  const { values } = parseArgs({
    options: {
      seconds: { type: 'string' },
      procs: { type: 'string' },
      threads: { type: 'string' },
      width: { type: 'string' },
      ops: { type: 'string' },
      keys: { type: 'string' },
      'server-threads': { type: 'string' },
      chaos: { type: 'boolean' },
      path: { type: 'string' },
      help: { type: 'boolean', short: 'h' },
    },
    strict: true,
  });
  if (values.help) {
    process.stdout.write(HELP);
    return 0;
  }
  const seconds = int(values.seconds, 60, 'seconds');
  const procs = int(values.procs, 2, 'procs');
  const threads = int(values.threads, 3, 'threads');
  const width = int(values.width, 4, 'width');
  const ops = int(values.ops, 2000, 'ops');
  const keys = int(values.keys, 8, 'keys');
  const serverThreads = int(values['server-threads'], 3, 'server-threads');
  if (procs > 16 || threads > 64 || ops >= 1 << 22) throw new Error('--procs <= 16, --threads <= 64, --ops < 4194304');

  const scope = new Scope('shmkv-soak-');
  const region = values.path ?? scope.file('region');
  let stop = false;
  process.on('SIGINT', () => {
    if (stop) void scope.cleanup().then(() => process.exit(130));
    stop = true;
    process.stderr.write('soak: stopping after this round (Ctrl-C again to abort)\n');
  });
  const started = Date.now();
  const deadline = started + seconds * 1000;
  let server: Proc | null = null;
  let rounds = 0;
  let totalOps = 0;
  let overlaps = 0;
  let longestCheckMs = 0;
  let kills = 0;
  const chaosError: { e: Error | null } = { e: null };
  try {
    server = await scope.startServer(region, ['-n', String(serverThreads), '-c', String(procs * threads * width + 256)]);
    const chaos = values.chaos
      ? (async () => {
          for (let i = 0; !stop && Date.now() < deadline; i++) {
            const victim = scope.fixture('chaos-client', [region, String(0x80000000 + (i % 65536) * 256), '2', '8'], `chaos client ${i}`);
            if (i % 4 === 3) await sleep(Math.random() * 150);
            else {
              await victim.waitFor(/^ready$/m, 30000);
              await sleep(Math.random() * 40);
            }
            if (!victim.running) throw new Error(`chaos client ${i} exited by itself\n${victim.output()}`);
            victim.kill('SIGKILL');
            await victim.wait(10000);
            kills++;
          }
        })().catch((e: Error) => {
          chaosError.e = e;
          stop = true;
        })
      : Promise.resolve();

    while (!stop && Date.now() < deadline) {
      const history = await recordRound(scope, { region, procs, threads, width, ops, keys, seed: 1 + rounds, timeoutMs: 120000 }, rounds);
      const t0 = Date.now();
      const r = checkHistory(history);
      longestCheckMs = Math.max(longestCheckMs, Date.now() - t0);
      overlaps += crossProcessOverlaps(history, 1e9);
      rounds++;
      totalOps += history.length;
      if (!r.ok) {
        const saved = path.resolve(`soak-history-round${rounds - 1}.json`);
        fs.writeFileSync(saved, JSON.stringify(history));
        process.stdout.write(`soak: round ${rounds - 1}: ${r.failure ? r.failure.description : summarize(r)}\n`);
        process.stdout.write(`soak: FAIL after ${((Date.now() - started) / 1000).toFixed(1)} s: round ${rounds - 1} is not linearizable; history saved to ${saved} (node dist/tools/lincheck.js ${saved})\n`);
        stop = true;
        await chaos;
        return 1;
      }
      if (rounds % 10 === 0) process.stderr.write(`soak: ${rounds} rounds, ${totalOps} ops, ${((Date.now() - started) / 1000).toFixed(0)} s\n`);
    }
    stop = true;
    await chaos;
    if (chaosError.e) throw chaosError.e;
    if (!server.running) throw new Error(`the server died\n${server.output()}`);
    server.kill('SIGTERM');
    const x = await server.wait(15000);
    if (x.code !== 0) throw new Error(`the server exited with ${fmtExit(x)} on SIGTERM\n${server.output()}`);
    process.stdout.write(
      `soak: PASS ${((Date.now() - started) / 1000).toFixed(1)} s, ${rounds} rounds, ${totalOps} ops ` +
        `(${procs} procs x ${threads} threads x window ${width}, ${ops} ops/thread, ${keys} keys/round, ${serverThreads} server threads), ` +
        `all linearizable, ${overlaps} overlapping cross-process pairs, longest check ${longestCheckMs} ms` +
        `${values.chaos ? `, ${kills} chaos clients SIGKILLed` : ''}\n`,
    );
    return 0;
  } catch (e) {
    process.stdout.write(`soak: FAIL after ${((Date.now() - started) / 1000).toFixed(1)} s, ${rounds} rounds: ${(e as Error).message}\n`);
    return 1;
  } finally {
    stop = true;
    await scope.cleanup();
  }
}

main().then(
  (code) => process.exit(code),
  (e: Error) => {
    process.stderr.write(`soak: ${e.message}\n`);
    process.exit(2);
  },
);
