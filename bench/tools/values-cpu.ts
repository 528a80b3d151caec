// CPU time per read call for issue 22's objects, for a machine that cannot
// be had quiet: the rate of a call moves with whatever else runs, the CPU it
// takes much less (process.cpuUsage(), which counts only this process's time
// on a core). Each measurement is its own process (200,000 calls of warm-up,
// then 15 slices of 20,000 calls; the median slice), the systems alternate
// round after round, and the table gives the median over rounds.
//
//   node dist/bench/tools/values-cpu.js [--rounds 5] [--keys 100000]
//
// Calls (bench/report/library-data.ts data: objectOf, ~200 B, and 100 B
// strings, 16-byte keys): this store's getSync (a ./server -n 2 -s 1024 it
// starts), with and without connect({ localCache: true }); lmdb-js get
// (default options, a temp dir); lru-cache get in the measuring process.
// Only in-process, synchronous calls: a write's cost is partly the server's.
// Last, setSync's object encode alone (in this process, no server): straight
// into a staging block (RecordCodec.encodeInto, what setSync does) against
// encoding into msgpackr's own buffer and copying (what a queued write does).
import { spawn, execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { HOT_KEYS, headlineData, keyOf, objectData, objectOf, valueOf } from '../report/library-data';
import { RecordCodec } from '../../src/codec/records';
import { MemoryStructures } from '../../src/codec/memory-structures';

const REPO = path.resolve(__dirname, '..', '..', '..');

const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[xs.length >> 1];

function arg(name: string, dflt: number): number {
  const i = process.argv.indexOf(name);
  return i > 0 ? Number(process.argv[i + 1]) : dflt;
}

/** One measurement in this process: the median CPU ns per call, printed. */
async function one(system: string, op: string, target: string, keys: number): Promise<void> {
  const obj = objectData(keys);
  const str = headlineData(keys);
  const okeys = Array.from({ length: keys }, (_, i) => keyOf(obj, i));
  const skeys = Array.from({ length: keys }, (_, i) => keyOf(str, i));
  let x = 12345;
  const rnd = (n: number): number => {
    x ^= x << 13;
    x >>>= 0;
    x ^= x >>> 17;
    x ^= x << 5;
    x >>>= 0;
    return x % n;
  };
  let get: () => unknown;
  if (system === 'shmkv') {
    const { connect } = await import('../../src/index');
    const kv = connect({ path: target, waitMs: 10_000, localCache: op === 'hot' });
    if (op === 'fill') {
      for (let i = 0; i < keys; i++) kv.setSync(okeys[i], objectOf(i)), kv.setSync(skeys[i], valueOf(str, i));
      return;
    }
    get = op === 'str' ? () => kv.getSync(skeys[rnd(keys)]) : op === 'hot' ? () => kv.getSync(okeys[rnd(HOT_KEYS)]) : () => kv.getSync(okeys[rnd(keys)]);
  } else if (system === 'lmdb') {
    const { open } = await import('lmdb');
    const db = open<unknown, string>({ path: target });
    if (op === 'fill') {
      db.transactionSync(() => {
        for (let i = 0; i < keys; i++) db.putSync(okeys[i], objectOf(i)), db.putSync(skeys[i], valueOf(str, i));
      });
      return;
    }
    get = op === 'str' ? () => db.get(skeys[rnd(keys)]) : () => db.get(okeys[rnd(keys)]);
  } else {
    const { LRUCache } = await import('lru-cache');
    const c = new LRUCache<string, object>({ max: keys });
    for (let i = 0; i < keys; i++) c.set(okeys[i], objectOf(i));
    get = op === 'hot' ? () => c.get(okeys[rnd(HOT_KEYS)]) : () => c.get(okeys[rnd(keys)]);
  }
  for (let j = 0; j < 200_000; j++) get();
  const r: number[] = [];
  for (let w = 0; w < 15; w++) {
    const c = process.cpuUsage();
    for (let j = 0; j < 20_000; j++) get();
    const d = process.cpuUsage(c);
    r.push(((d.user + d.system) * 1000) / 20_000);
  }
  r.sort((a, b) => a - b);
  process.stdout.write(`${r[7]}\n`);
}

/** CPU ns per call of f (median of 15 slices of 20,000 calls, after a warm-up). */
function cpu(f: (i: number) => unknown): number {
  for (let j = 0; j < 200_000; j++) f(j);
  const r: number[] = [];
  for (let w = 0; w < 15; w++) {
    const c = process.cpuUsage();
    for (let j = 0; j < 20_000; j++) f(j);
    const d = process.cpuUsage(c);
    r.push(((d.user + d.system) * 1000) / 20_000);
  }
  return median(r);
}

/** The object encode of a setSync: in place, or into msgpackr's buffer and copied. */
function encodes(rounds: number): void {
  const codec = new RecordCodec(new MemoryStructures().host(), 1 << 20);
  const block = Buffer.from(new SharedArrayBuffer(4096));
  const objs = Array.from({ length: 1024 }, (_, i) => objectOf(i));
  const inPlace: number[] = [];
  const copied: number[] = [];
  for (let r = 0; r < rounds; r++) {
    inPlace.push(cpu((i) => codec.encodeInto(objs[i & 1023], block, 17)));
    copied.push(cpu((i) => block.set(codec.encode(objs[i & 1023]), 17)));
  }
  console.log('');
  console.log(`setSync's object encode, CPU ns (median of ${rounds} rounds): into the staging block ${median(inPlace).toFixed(0)} (${inPlace.map((v) => v.toFixed(0)).join(', ')}); ` +
    `into msgpackr's buffer, then copied ${median(copied).toFixed(0)} (${copied.map((v) => v.toFixed(0)).join(', ')})`);
}

function run(args: string[]): number {
  return Number(execFileSync(process.execPath, [__filename, '--one', ...args], { encoding: 'utf8' }).trim().split('\n').pop());
}


async function main(): Promise<void> {
  const keys = arg('--keys', 100_000);
  if (process.argv[2] === '--one') return one(process.argv[3], process.argv[4], process.argv[5], keys);
  const rounds = arg('--rounds', 5);
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'shmkv-values-cpu-'));
  const region = path.join(dir, 'region');
  const lmdbDir = path.join(dir, 'lmdb');
  fs.mkdirSync(lmdbDir);
  const server = spawn(process.execPath, [path.join(REPO, 'dist', 'src', 'cli', 'server.js'), '-q', '-n', '2', '-s', '1024', '-p', region], { stdio: 'ignore' });
  try {
    const k = String(keys);
    execFileSync(process.execPath, [__filename, '--one', 'shmkv', 'fill', region, '--keys', k]);
    execFileSync(process.execPath, [__filename, '--one', 'lmdb', 'fill', lmdbDir, '--keys', k]);
    const calls: Array<[string, string, string, string]> = [
      ['getSync obj', 'shmkv', 'obj', region],
      ['lmdb-js get obj', 'lmdb', 'obj', lmdbDir],
      ['getSync 100 B string', 'shmkv', 'str', region],
      ['lmdb-js get 100 B string', 'lmdb', 'str', lmdbDir],
      [`getSync obj, ${HOT_KEYS} hot keys, localCache`, 'shmkv', 'hot', region],
      [`lru-cache get obj, ${HOT_KEYS} hot keys`, 'lru', 'hot', '-'],
      ['lru-cache get obj', 'lru', 'obj', '-'],
    ];
    const got = new Map<string, number[]>(calls.map(([name]) => [name, []]));
    for (let r = 0; r < rounds; r++) {
      for (const [name, system, op, target] of r % 2 ? [...calls].reverse() : calls) got.get(name)!.push(run([system, op, target, '--keys', k]));
      process.stderr.write(`round ${r + 1}/${rounds}\n`);
    }
    const m = (name: string): number => median(got.get(name)!);
    console.log(`CPU ns per call, median over ${rounds} rounds (each the median of 15 slices of 20,000 calls), ${keys} keys; node ${process.version}\n`);
    console.log('| call | CPU ns | rounds |');
    console.log('| --- | ---: | --- |');
    for (const [name] of calls) console.log(`| ${name} | ${m(name).toFixed(0)} | ${got.get(name)!.map((v) => v.toFixed(0)).join(', ')} |`);
    console.log('');
    console.log(`lmdb-js get obj / getSync obj: ${(m('lmdb-js get obj') / m('getSync obj')).toFixed(2)}x; strings: ${(m('lmdb-js get 100 B string') / m('getSync 100 B string')).toFixed(2)}x; ` +
      `lru-cache hot / getSync hot with localCache: ${(m(calls[5][0]) / m(calls[4][0])).toFixed(2)}x (higher: this store cheaper)`);
    encodes(rounds);
  } finally {
    server.kill('SIGTERM');
    await new Promise((r) => server.once('exit', r));
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

main().catch((e: Error) => {
  process.stderr.write(`values-cpu: ${e.stack ?? e.message}\n`);
  process.exit(1);
});
