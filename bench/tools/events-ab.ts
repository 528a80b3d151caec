/**
 * What events cost a direct read, side by side in one run: getSync (hits
 * and misses, 16-byte keys, 100-byte values, random keys of 100,000) in
 * this build with no listener, with a hit and a miss listener, and with a
 * listener on 'set' only (any listener makes reads build their event),
 * against older builds without events (tools/events-ab.sh builds them in
 * temporary worktrees). Each build serves its own region (its own server
 * process, prefilled); each measurement is a fresh process
 * (events-child.ts). Rounds interleave every configuration, quiet, then
 * beside one busy loop per core (bench/load/busy-loop.ts), started for
 * each measurement and stopped after it.
 *
 *   node dist/bench/tools/events-ab.js --build this=. --build base=/tmp/x/old [--rounds 5] [--calls 200000] [--batches 5]
 *
 * The first --build is this one (the only one measured with listeners);
 * ratios are to the last --build.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { spawn, execFileSync } from 'node:child_process';
import { parseArgs } from 'node:util';
import { startLoad } from '../load/background-load';

const { values: opt } = parseArgs({
  options: {
    build: { type: 'string', multiple: true },
    rounds: { type: 'string', default: '5' },
    calls: { type: 'string', default: '200000' },
    batches: { type: 'string', default: '5' },
  },
});
const CHILD = path.join(__dirname, 'events-child.js');
const builds = (opt.build ?? []).map((b) => {
  const at = b.indexOf('=');
  if (at < 1) throw new Error(`--build NAME=DIR, got ${b}`);
  const dir = path.resolve(b.slice(at + 1));
  if (!fs.existsSync(path.join(dir, 'dist', 'src', 'index.js'))) throw new Error(`--build ${b}: ${dir} has no built dist/`);
  let rev = '?';
  try {
    rev = execFileSync('git', ['-C', dir, 'rev-parse', '--short', 'HEAD'], { encoding: 'utf8' }).trim();
  } catch {
    // not a checkout
  }
  return { name: b.slice(0, at), dir, rev };
});
if (builds.length < 2) throw new Error('give this build and at least one other: --build this=. --build base=DIR');

interface Config {
  build: (typeof builds)[number];
  mode: 'none' | 'hit' | 'set';
}
const configs: Config[] = [
  { build: builds[0], mode: 'none' },
  { build: builds[0], mode: 'hit' },
  { build: builds[0], mode: 'set' },
  ...builds.slice(1).map((build) => ({ build, mode: 'none' as const })),
];
const label = (c: Config): string =>
  `${c.build.name} (${c.build.rev})${c.mode === 'none' ? ', no listener' : c.mode === 'hit' ? ', hit and miss listeners' : ", a 'set' listener only"}`;

function run(args: string[]): Promise<string> {
  return new Promise((resolve, reject) => {
    const c = spawn(process.execPath, [CHILD, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    c.stdout.on('data', (d: Buffer) => (out += d.toString()));
    c.stderr.on('data', (d: Buffer) => (err += d.toString()));
    c.once('exit', (code) => (code === 0 ? resolve(out) : reject(new Error(`events-child ${args[0]} ${args[1]}: exit ${code}: ${err.trim()}`))));
  });
}

/** Start one server per build; resolves with a stop(). */
async function serveAll(dir: string): Promise<() => Promise<void>> {
  const procs = builds.map((b) => spawn(process.execPath, [CHILD, 'serve', b.dir, path.join(dir, `${b.name}.region`)], { stdio: ['ignore', 'pipe', 'inherit'] }));
  const stop = async (): Promise<void> => {
    await Promise.all(
      procs.map(
        (p) =>
          new Promise<void>((r) => {
            if (p.exitCode !== null || p.signalCode !== null) return r();
            p.once('exit', () => r());
            p.kill('SIGTERM');
          }),
      ),
    );
  };
  try {
    await Promise.all(
      procs.map(
        (p, i) =>
          new Promise<void>((resolve, reject) => {
            const timer = setTimeout(() => reject(new Error(`${builds[i].name}: its server was not ready within 120 s`)), 120_000);
            p.once('exit', (code) => (clearTimeout(timer), reject(new Error(`${builds[i].name}: its server exited (${code})`))));
            p.stdout!.once('data', () => (clearTimeout(timer), resolve()));
          }),
      ),
    );
  } catch (e) {
    await stop();
    throw e;
  }
  return stop;
}

const median = (xs: number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};

async function main(): Promise<void> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'shmkv-events-ab-'));
  const stopServers = await serveAll(dir);
  type Sample = { wall: number; cpu: number };
  const results = new Map<string, { hit: Sample[]; miss: Sample[] }>();
  const loadBefore = os.loadavg()[0];
  try {
    for (const loaded of [false, true])
      for (let r = 0; r < Number(opt.rounds); r++)
        for (let i = 0; i < configs.length; i++) {
          const c = configs[(i + r) % configs.length]; // rotated: no configuration always runs first
          const load = loaded ? await startLoad(os.cpus().length) : null;
          let out: string;
          try {
            out = await run(['measure', c.build.dir, path.join(dir, `${c.build.name}.region`), c.mode, opt.calls!, opt.batches!]);
          } finally {
            await load?.stop();
          }
          const { hit, miss } = JSON.parse(out) as { hit: Sample; miss: Sample };
          const id = `${loaded}|${label(c)}`;
          if (!results.has(id)) results.set(id, { hit: [], miss: [] });
          results.get(id)!.hit.push(hit);
          results.get(id)!.miss.push(miss);
          console.error(`${loaded ? 'loaded' : 'quiet'} round ${r + 1}: ${label(c)}: hit ${hit.cpu.toFixed(1)} ns CPU (${hit.wall.toFixed(1)} wall), miss ${miss.cpu.toFixed(1)} ns CPU (${miss.wall.toFixed(1)} wall)`);
        }
  } finally {
    await stopServers();
    fs.rmSync(dir, { recursive: true, force: true });
  }
  const base = configs[configs.length - 1];
  console.log(`\`node dist/bench/tools/events-ab.js ${process.argv.slice(2).join(' ')}\`: getSync, 16-byte keys, 100-byte string values, random keys of 100,000 (misses: 100,000 absent keys); ` +
    `ns per call, median over ${opt.rounds} interleaved rounds of the median of ${opt.batches} batches of ${opt.calls} calls; loaded: beside ${os.cpus().length} busy loops; ` +
    `load average ${loadBefore.toFixed(2)} before, ${os.loadavg()[0].toFixed(2)} after (${os.cpus().length} cores).`);
  const cell = (loaded: boolean, c: Config, what: 'hit' | 'miss', kind: keyof Sample): string => {
    const v = median(results.get(`${loaded}|${label(c)}`)![what].map((x) => x[kind]));
    const b = median(results.get(`${loaded}|${label(base)}`)![what].map((x) => x[kind]));
    return `${v.toFixed(0)} | ${(v / b).toFixed(2)}x`;
  };
  for (const kind of ['cpu', 'wall'] as const) {
    console.log(`\n${kind === 'cpu' ? "CPU time of the measuring process per call (what a call costs, whatever else runs)" : 'Wall-clock time per call'}:\n`);
    console.log(`| build | quiet: hit ns | vs ${base.build.name} | quiet: miss ns | vs ${base.build.name} | loaded: hit ns | vs ${base.build.name} | loaded: miss ns | vs ${base.build.name} |`);
    console.log('|---|---:|---:|---:|---:|---:|---:|---:|---:|');
    for (const c of configs) console.log(`| ${label(c)} | ${cell(false, c, 'hit', kind)} | ${cell(false, c, 'miss', kind)} | ${cell(true, c, 'hit', kind)} | ${cell(true, c, 'miss', kind)} |`);
  }
}

main().catch((e: Error) => {
  console.error(`bench/events-ab: ${e.message}`);
  process.exitCode = 1;
});
