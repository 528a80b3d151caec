/**
 * The web example's load test: examples/web-service.ts with each of its
 * four response caches (per-worker lru-cache, Redis alone, this store, this
 * store in front of Redis), driven by autocannon, side by side: the
 * variants are interleaved round by round (a machine whose load drifts hurts
 * them alike) and each figure is the median of --rounds short runs. Every
 * run starts cold: a fresh service (its store is new) and an empty Redis.
 * Prints a Markdown table with the command and the load average.
 *
 *   node dist/bench/web.js [--duration 5] [--connections 32] [--keys 1000] [--rounds 3] [--only shmkv,tiered]
 */
import * as os from 'node:os';
import * as path from 'node:path';
import { spawn } from 'node:child_process';
import { parseArgs } from 'node:util';
import autocannon = require('autocannon');
import { Redis } from 'ioredis';
import { ensureRedisBinary, startRedis } from '../systems/redis-server';
import { VARIANTS, Variant } from '../../examples/web-caches';

const { values: opt } = parseArgs({
  options: {
    duration: { type: 'string', default: '5' },
    connections: { type: 'string', default: '32' },
    keys: { type: 'string', default: '1000' },
    rounds: { type: 'string', default: '3' },
    workers: { type: 'string', default: '2' },
    'backend-ms': { type: 'string', default: '5' },
    // A comma-separated subset of the variants (default: all four).
    only: { type: 'string' },
  },
});
const SERVICE = path.join(__dirname, '..', '..', 'examples', 'web-service.js');

interface RunResult {
  rps: number;
  p99: number;
  backendCalls: number;
  errors: number;
}

interface Service {
  port: number;
  backend: string;
  stop(): Promise<void>;
}

function startService(variant: Variant, redisSocket: string): Promise<Service> {
  const args = [SERVICE, '--cache', variant, '--workers', opt.workers!, '--redis', redisSocket, '--backend-ms', opt['backend-ms']!];
  const child = spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'inherit'] });
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  return new Promise((resolve, reject) => {
    let out = '';
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`${variant}: the service was not ready within 30 s`));
    }, 30_000);
    void exited.then((code) => {
      clearTimeout(timer);
      reject(new Error(`${variant}: the service exited (${code}) before it was ready`));
    });
    child.stdout!.on('data', (d: Buffer) => {
      out += d.toString();
      if (!out.includes('\n')) return;
      clearTimeout(timer);
      const info = JSON.parse(out.split('\n')[0]) as { port: number; backend: string };
      resolve({
        ...info,
        async stop() {
          child.kill('SIGTERM');
          const killer = setTimeout(() => child.kill('SIGKILL'), 10_000);
          const code = await exited;
          clearTimeout(killer);
          if (code !== 0) throw new Error(`${variant}: the service exited ${code}`);
        },
      });
    });
  });
}

async function runOnce(variant: Variant, redisSocket: string, redis: Redis): Promise<RunResult> {
  await redis.flushall(); // cold: what an earlier run stored must not help this one
  const svc = await startService(variant, redisSocket);
  try {
    const keys = Number(opt.keys);
    const result = await autocannon({
      url: `http://127.0.0.1:${svc.port}`,
      connections: Number(opt.connections),
      duration: Number(opt.duration),
      requests: [{ setupRequest: (req) => ({ ...req, path: `/item/${Math.floor(Math.random() * keys)}` }) }],
    });
    const backendCalls = Number(await (await fetch(`${svc.backend}/calls`)).text());
    return { rps: result.requests.average, p99: result.latency.p99, backendCalls, errors: result.errors + result.non2xx };
  } finally {
    await svc.stop();
  }
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
}

const LABEL: Record<Variant, string> = {
  lru: 'lru-cache in each worker',
  redis: 'Redis alone (GET, SET on a miss)',
  shmkv: 'shmkv (`fetch`)',
  tiered: 'shmkv in front of Redis (shmkv/tiered)',
};

async function main(): Promise<void> {
  const { bin, provenance } = ensureRedisBinary((s) => console.error(s));
  const server = await startRedis(bin, provenance);
  const redis = new Redis({ path: server.socket });
  const loadBefore = os.loadavg();
  const chosen = opt.only ? (opt.only.split(',') as Variant[]) : [...VARIANTS];
  for (const v of chosen) if (!VARIANTS.includes(v)) throw new Error(`--only: unknown variant ${v} (${VARIANTS.join(', ')})`);
  const runs = new Map<Variant, RunResult[]>(chosen.map((v) => [v, []]));
  try {
    const rounds = Number(opt.rounds);
    for (let r = 0; r < rounds; r++) {
      // Rotate the order each round: no variant always runs first.
      const order = chosen.map((_, i) => chosen[(i + r) % chosen.length]);
      for (const v of order) {
        const res = await runOnce(v, server.socket, redis);
        runs.get(v)!.push(res);
        console.error(`round ${r + 1}/${rounds} ${v}: ${res.rps.toFixed(0)} req/s, p99 ${res.p99} ms, ${res.backendCalls} backend calls, ${res.errors} errors`);
      }
    }
  } finally {
    redis.disconnect();
    await server.stop();
  }
  const loadAfter = os.loadavg();
  const argv = process.argv.slice(2).join(' ');
  console.log(`\`node dist/bench/web.js${argv ? ' ' + argv : ''}\`: ${opt.workers} workers, ${opt.connections} connections, ` +
    `${opt.duration} s per run, uniform keys over ${opt.keys}, backend ${opt['backend-ms']} ms; Redis ${server.version} on a unix socket; ` +
    `medians of ${opt.rounds} interleaved runs; load average ${loadBefore[0].toFixed(2)} before, ${loadAfter[0].toFixed(2)} after (${os.cpus().length} cores).\n`);
  // The best run too: on a shared machine, other work only ever slows a run down.
  console.log('| response cache | requests/s (median) | best run | p99 latency (ms) | backend calls | errors |');
  console.log('|---|---:|---:|---:|---:|---:|');
  for (const v of chosen) {
    const rs = runs.get(v)!;
    console.log(`| ${LABEL[v]} | ${median(rs.map((x) => x.rps)).toFixed(0)} | ${Math.max(...rs.map((x) => x.rps)).toFixed(0)} | ${median(rs.map((x) => x.p99))} | ` +
      `${median(rs.map((x) => x.backendCalls))} | ${rs.reduce((a, x) => a + x.errors, 0)} |`);
  }
}

main().catch((e: Error) => {
  console.error(`bench/web: ${e.message}`);
  process.exitCode = 1;
});
