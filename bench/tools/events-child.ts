/**
 * One side of bench/tools/events-ab.ts, run against any build of this
 * project (BUILD: a checkout whose dist/ is built): it uses only what every
 * build since the library existed offers (Server.start, connect, getSync,
 * setSync, close), plus on() for the modes with listeners.
 *
 *   node events-child.js serve BUILD REGION      start a server there, prefill, print "ready"; SIGTERM stops it
 *   node events-child.js measure BUILD REGION MODE CALLS BATCHES
 *        MODE none | hit (a hit and a miss listener) | set (a listener on 'set' only)
 *        prints {"hit": {"wall": ns, "cpu": ns}, "miss": {...}}: medians over BATCHES timed batches of CALLS getSync calls
 *        (after one untimed batch), random keys of KEYS; every hit's value is checked
 */
import * as path from 'node:path';

const KEYS = 100_000;
const [, , what, build, region, mode, callsArg, batchesArg] = process.argv;

/* eslint-disable @typescript-eslint/no-explicit-any */
const lib = require(path.join(path.resolve(build), 'dist', 'src', 'index.js')) as any;

const key = (prefix: string, i: number): string => prefix + String(i).padStart(15, '0');
const value = (i: number): string => `v${i}`.padEnd(100, '.');

async function serve(): Promise<void> {
  // temporary: builds that keep their cache across restarts remove it at stop (older builds ignore the option).
  const server = await lib.Server.start({ path: region, threads: 1, initialBuckets: 1024, temporary: true });
  const kv = lib.connect({ path: region });
  // In chunks: this thread also beats the embedded server's heartbeat, which clients check.
  for (let i = 0; i < KEYS; i++) {
    kv.setSync(key('k', i), value(i));
    if (i % 1000 === 999) await new Promise((r) => setImmediate(r));
  }
  await kv.close();
  process.stdout.write('ready\n');
  process.once('SIGTERM', () => {
    void server.stop().then(() => process.exit(0));
  });
}

function measure(): void {
  const calls = Number(callsArg);
  const batches = Number(batchesArg);
  const kv = lib.connect({ path: region });
  let heard = 0;
  const listener = (): void => void heard++;
  if (mode === 'hit') {
    kv.on('hit', listener);
    kv.on('miss', listener);
  } else if (mode === 'set') kv.on('set', listener);
  else if (mode !== 'none') throw new Error(`unknown mode ${mode}`);
  const hits = Array.from({ length: KEYS }, (_, i) => key('k', i));
  const misses = Array.from({ length: KEYS }, (_, i) => key('m', i));
  // The same pseudo-random order for every build (xorshift32).
  const order = new Int32Array(1 << 20);
  let x = 2463534242;
  for (let i = 0; i < order.length; i++) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    order[i] = (x >>> 0) % KEYS;
  }
  const mask = order.length - 1;
  // Untimed: V8 optimizes the loop, and every hit's value is checked once.
  for (let i = 0; i < calls; i++) {
    const k = order[i & mask];
    if (kv.getSync(hits[k]) !== value(k)) throw new Error(`getSync(${hits[k]}) did not return its value`);
    if (kv.getSync(misses[k]) !== undefined) throw new Error(`getSync(${misses[k]}) found a value`);
  }
  /** ns per call of each batch: wall clock, and this process's CPU time (what the call costs, whoever else runs). */
  const timed = (keys: string[]): { wall: number; cpu: number } => {
    const wall: number[] = [];
    const cpu: number[] = [];
    let sink = 0;
    for (let b = 0; b < batches; b++) {
      const c0 = process.cpuUsage();
      const t0 = process.hrtime.bigint();
      for (let i = 0; i < calls; i++) sink += kv.getSync(keys[order[(b * calls + i) & mask]]) === undefined ? 0 : 1;
      wall.push(Number(process.hrtime.bigint() - t0) / calls);
      const c = process.cpuUsage(c0);
      cpu.push(((c.user + c.system) * 1000) / calls);
    }
    if (sink < 0) throw new Error('unreachable');
    return { wall: med(wall), cpu: med(cpu) };
  };
  const med = (xs: number[]): number => [...xs].sort((a, b) => a - b)[xs.length >> 1];
  const hit = timed(hits);
  const miss = timed(misses);
  if (mode === 'hit' && heard === 0) throw new Error('the listeners heard nothing');
  if (typeof kv.closeSync === 'function') kv.closeSync();
  process.stdout.write(JSON.stringify({ hit, miss }) + '\n');
  process.exit(0);
}

if (what === 'serve')
  serve().catch((e: Error) => {
    console.error(`events-child serve: ${e.message}`);
    process.exit(1);
  });
else if (what === 'measure') measure();
else {
  console.error('usage: events-child.js serve BUILD REGION | measure BUILD REGION MODE CALLS BATCHES');
  process.exit(2);
}
