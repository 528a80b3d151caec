/**
 * The scale bench (make bench; issue 26's scale and memory-per-entry table,
 * issue 20's start, restart and snapshot targets): for 1 M, 10 M and 50 M
 * entries of 16-byte keys and 100-byte values, this store and Redis side by
 * side, one size after the other (never both in memory at once).
 *
 *   node dist/bench/scale/run.js [--sizes 1000000,10000000,50000000] [--no-redis] [--out FILE]
 *
 * A size whose data would not fit in the machine's free memory (this
 * store's data file in /dev/shm, or Redis's heap) is not run, and the
 * report says so. Snapshots and BGSAVE are measured up to 10 M entries (a
 * 50 M snapshot is 7 GB written to disk on each side).
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { ensureRedisBinary } from '../systems/redis-server';
import { REPO } from '../harness/options';
import { shmkvScale, ShmkvScale } from './shmkv-scale';
import { redisScale, RedisScale } from './redis-scale';

/** Bytes an entry needs at most in either system, with slack: the memory check. */
const BYTES_PER_ENTRY_BOUND = 320;
const SNAPSHOT_MAX_ENTRIES = 10_000_000;

function log(s: string): void {
  process.stderr.write(`scale: ${s}\n`);
}

function parse(argv: string[]): { sizes: number[]; redis: boolean; out: string } {
  let sizes = [1_000_000, 10_000_000, 50_000_000];
  let redis = true;
  let out = path.join(REPO, 'bench', 'results', 'scale.md');
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === '--sizes') sizes = (argv[++i] ?? '').split(',').map(Number);
    else if (a === '--no-redis') redis = false;
    else if (a === '--out') out = argv[++i] ?? out;
    else throw new Error(`unknown option ${a} (--sizes N,N --no-redis --out FILE)`);
  }
  if (sizes.some((n) => !Number.isInteger(n) || n < 1000)) throw new Error('--sizes: whole numbers of at least 1000');
  return { sizes, redis, out };
}

function fmt(n: number, digits = 0): string {
  return n.toLocaleString('en-US', { maximumFractionDigits: digits, minimumFractionDigits: digits });
}

function report(rows: Array<{ n: number; shmkv: ShmkvScale | string; redis: RedisScale | string | null }>, meta: string): string {
  const out: string[] = [`# Scale (bench/scale/run.ts)`, '', meta, ''];
  out.push('## This store', '');
  out.push('| entries | -m (MiB) | start (ms) | setSync (K/s) | getSync (K/s) | B/entry in use | B/entry in files | server RSS (MiB) | restart after SIGTERM (ms; adoption) | after SIGKILL (ms; adoption) |');
  out.push('|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|');
  for (const { n, shmkv: s } of rows) {
    if (typeof s === 'string') out.push(`| ${fmt(n)} | ${s} |||||||||`);
    else out.push(`| ${fmt(n)} | ${s.budgetMiB} | ${fmt(s.startMs)} | ${fmt(s.setKps)} | ${fmt(s.getKps)} | ${fmt(s.usedPerEntry, 1)} | ${fmt(s.filePerEntry, 1)} | ${fmt(s.serverRssMiB)} | ${fmt(s.restartMs)}; ${s.adoptMs} | ${fmt(s.crashRestartMs)}; ${s.crashAdoptMs} |`);
  }
  out.push('', '## Redis, the same data', '');
  out.push('| entries | start (ms) | SET, pipelined (K/s) | B/entry used_memory | RSS (MiB) | restart loading the dump (ms) |');
  out.push('|---:|---:|---:|---:|---:|---:|');
  for (const { n, redis: r } of rows) {
    if (r === null) continue;
    if (typeof r === 'string') out.push(`| ${fmt(n)} | ${r} |||||`);
    else out.push(`| ${fmt(n)} | ${fmt(r.startMs)} | ${fmt(r.setKps)} | ${fmt(r.usedPerEntry, 1)} | ${fmt(r.rssMiB)} | ${fmt(r.restartMs)} |`);
  }
  out.push('', '## Memory per entry, side by side', '');
  out.push('| entries | this store (in use) | this store (file pages) | Redis used_memory | ratio (in use / Redis) |');
  out.push('|---:|---:|---:|---:|---:|');
  for (const { n, shmkv: s, redis: r } of rows) {
    if (typeof s === 'string' || r === null || typeof r === 'string') continue;
    out.push(`| ${fmt(n)} | ${fmt(s.usedPerEntry, 1)} | ${fmt(s.filePerEntry, 1)} | ${fmt(r.usedPerEntry, 1)} | ${fmt(s.usedPerEntry / r.usedPerEntry, 2)} |`);
  }
  out.push('', '## Snapshot and BGSAVE, while a writer runs', '');
  out.push('| entries | system | time (ms) | bytes | writes before (K/s) | writes during (K/s) | during / before |');
  out.push('|---:|---|---:|---:|---:|---:|---:|');
  for (const { n, shmkv: s, redis: r } of rows) {
    if (typeof s !== 'string' && s.snapshot) {
      const x = s.snapshot;
      out.push(`| ${fmt(n)} | this store, --snapshot-now (setSync) | ${fmt(x.ms)} | ${fmt(x.bytes)} | ${fmt(x.setKpsBefore)} | ${fmt(x.setKpsDuring)} | ${fmt(x.setKpsDuring / x.setKpsBefore, 2)} |`);
    }
    if (r !== null && typeof r !== 'string' && n <= SNAPSHOT_MAX_ENTRIES) {
      const x = r.bgsave;
      out.push(`| ${fmt(n)} | Redis, BGSAVE (SET, pipelined 100) | ${fmt(x.ms)} | ${fmt(x.bytes)} | ${fmt(x.setKpsBefore)} | ${fmt(x.setKpsDuring)} | ${fmt(x.setKpsDuring / x.setKpsBefore, 2)} |`);
    }
  }
  return out.join('\n') + '\n';
}

async function main(): Promise<void> {
  const o = parse(process.argv.slice(2));
  const work = fs.mkdtempSync(path.join(os.tmpdir(), 'shmkv-scale-'));
  const dataDir = fs.existsSync('/dev/shm') ? '/dev/shm' : work;
  const bin = o.redis ? ensureRedisBinary(log) : null;
  const meta = `Node ${process.version}, ${os.cpus()[0]?.model ?? '?'} (${os.cpus().length} cores), ${fmt(os.totalmem() / 2 ** 30, 1)} GiB, load average ${os.loadavg()[0].toFixed(1)} at start, ${new Date().toISOString()}. \`node dist/bench/scale/run.js --sizes ${o.sizes.join(',')}${o.redis ? '' : ' --no-redis'}\`. Keys of 16 B, values of 100 B, inserted in a scattered order; this store's server has 2 threads and its data file in ${dataDir}; one client process (setSync, getSync of random filled keys). Redis ${bin ? `(${bin.provenance})` : ''} on a unix socket, filled by pipelines of 10,000 SETs.`;
  const rows: Array<{ n: number; shmkv: ShmkvScale | string; redis: RedisScale | string | null }> = [];
  try {
    for (const n of o.sizes) {
      const need = n * BYTES_PER_ENTRY_BOUND;
      const fits = os.freemem() > need;
      const skip = `not run: ${fmt(need / 2 ** 30, 1)} GiB needed, ${fmt(os.freemem() / 2 ** 30, 1)} GiB free`;
      if (!fits) log(`${n}: ${skip}`);
      const shmkv = fits ? await shmkvScale(n, dataDir, work, log, n <= SNAPSHOT_MAX_ENTRIES) : skip;
      const redis = bin === null ? null : os.freemem() > need ? await redisScale(n, bin.bin, bin.provenance, work, log) : skip;
      rows.push({ n, shmkv, redis });
      fs.mkdirSync(path.dirname(o.out), { recursive: true });
      fs.writeFileSync(o.out, report(rows, meta));
    }
  } finally {
    fs.rmSync(work, { recursive: true, force: true });
  }
  log(`written to ${o.out}`);
}

main().catch((e: Error) => {
  process.stderr.write(`scale: ${e.message}\n`);
  process.exit(1);
});
