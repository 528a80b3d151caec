/**
 * The web example's load test: examples/web-service.ts with each of its
 * response caches (examples/web-caches.ts), on --machines "machines" (one
 * service each: its own cluster and store; one backend stub and one Redis
 * shared by all), driven by autocannon, side by side: the variants are
 * interleaved round by round (a machine whose load drifts hurts them
 * alike) and each figure is the median of --rounds short runs. Every run
 * starts cold: fresh services (their stores are new) and an empty Redis.
 *
 * STALENESS. While the load runs, a writer changes one item at a time: it
 * first reads the item from every worker of every machine (so that each
 * cache holds the old version), then PUTs it on machine 1 (the backend's
 * version goes up, then the service writes through its cache), then reads
 * it on every machine with a new connection per request (the cluster hands
 * them to its workers in turn) until every worker has answered the new
 * version once, or --stale-bound ms have passed. Per write it records the
 * latest stale answer (the start of the last request answered with the old
 * version, in ms after the PUT returned: a lower bound of how long a
 * reader could see it) and when every worker had answered the new one
 * (an upper bound). Caches that no write reaches (lru-cache on the other
 * workers, this store alone on the other machines) stay stale until their
 * ttl: "not within the bound".
 *
 * Prints a Markdown table with the command and the load average.
 *
 *   node dist/bench/tools/web.js [--machines 2] [--duration 5] [--connections 32] [--keys 1000] [--rounds 3]
 *                                [--write-every 200] [--stale-bound 1000] [--only tiered,bento]
 */
import * as http from 'node:http';
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
    machines: { type: 'string', default: '2' },
    duration: { type: 'string', default: '5' },
    connections: { type: 'string', default: '32' },
    keys: { type: 'string', default: '1000' },
    rounds: { type: 'string', default: '3' },
    workers: { type: 'string', default: '2' },
    'backend-ms': { type: 'string', default: '5' },
    // Pause between two writes, ms (0: no writes, no staleness figures).
    'write-every': { type: 'string', default: '200' },
    'stale-bound': { type: 'string', default: '1000' },
    // A comma-separated subset of the variants (default: all).
    only: { type: 'string' },
  },
});
const SERVICE = path.join(__dirname, '..', '..', 'examples', 'web-service.js');
const MACHINES = Number(opt.machines);
const WORKERS = Number(opt.workers);
const KEYS = Number(opt.keys);
const WRITE_EVERY = Number(opt['write-every']);
const STALE_BOUND = Number(opt['stale-bound']);
/** The writer starts once the caches are warm. */
const WRITER_START_MS = 1000;

/** One write's staleness (ms after the PUT returned). */
interface WriteResult {
  /** Start of the last request answered with the old version (0: none). */
  lastStale: number;
  /** When every worker of every machine had answered the new version (Infinity: not within the bound). */
  allFresh: number;
}

interface RunResult {
  rps: number;
  p99: number;
  backendCalls: number;
  errors: number;
  writes: WriteResult[];
}

interface Service {
  port: number;
  backend: string;
  stop(): Promise<void>;
}

function startService(variant: Variant, redisSocket: string, backend?: string): Promise<Service> {
  const args = [SERVICE, '--cache', variant, '--workers', String(WORKERS), '--redis', redisSocket, '--backend-ms', opt['backend-ms']!];
  if (backend) args.push('--backend', backend);
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

/** One request on a new connection (the cluster hands each to its next worker): status, worker, the item's version. */
function request(port: number, method: 'GET' | 'PUT', id: number): Promise<{ worker: string; v: number }> {
  return new Promise((resolve, reject) => {
    const req = http.request({ host: '127.0.0.1', port, path: `/item/${id}`, method, agent: false, headers: { 'x-api-key': 'writer' } }, (res) => {
      let body = '';
      res.setEncoding('utf8').on('data', (d: string) => (body += d));
      res.on('end', () => {
        if (res.statusCode !== 200) reject(new Error(`${method} /item/${id}: ${res.statusCode} ${body.trim()}`));
        else resolve({ worker: String(res.headers['x-worker']), v: (JSON.parse(body) as { v: number }).v });
      });
    });
    req.setTimeout(10_000, () => req.destroy(new Error(`${method} /item/${id} timed out`)));
    req.on('error', reject);
    req.end();
  });
}

/** Read item `id` on `port` until every worker answered `accept`; per answer, `seen`. Bounded by `untilMs` (performance.now()). */
async function everyWorker(port: number, id: number, accept: (v: number) => boolean, untilMs: number, seen: (t0: number, t1: number, ok: boolean) => void): Promise<boolean> {
  const done = new Set<string>();
  while (done.size < WORKERS) {
    if (performance.now() > untilMs) return false;
    const t0 = performance.now();
    const r = await request(port, 'GET', id);
    const ok = accept(r.v);
    seen(t0, performance.now(), ok);
    if (ok) done.add(r.worker);
  }
  return true;
}

/** One write and its staleness on every machine. */
async function writeOnce(ports: number[]): Promise<WriteResult> {
  const id = Math.floor(Math.random() * KEYS);
  // Every worker of every machine holds the current version first.
  for (const port of ports) if (!(await everyWorker(port, id, () => true, performance.now() + 10_000, () => undefined))) throw new Error('priming reads: a worker never answered');
  const v = (await request(ports[0], 'PUT', id)).v;
  const wrote = performance.now();
  const res: WriteResult = { lastStale: 0, allFresh: 0 };
  const fresh = await Promise.all(
    ports.map((port) =>
      everyWorker(port, id, (got) => got >= v, wrote + STALE_BOUND, (t0, t1, ok) => {
        if (!ok) res.lastStale = Math.max(res.lastStale, t0 - wrote);
        else res.allFresh = Math.max(res.allFresh, t1 - wrote);
      }),
    ),
  );
  if (!fresh.every(Boolean)) res.allFresh = Infinity;
  return res;
}

async function runOnce(variant: Variant, redisSocket: string, redis: Redis): Promise<RunResult> {
  await redis.flushall(); // cold: what an earlier run stored must not help this one
  const first = await startService(variant, redisSocket);
  const services = [first];
  try {
    for (let m = 1; m < MACHINES; m++) services.push(await startService(variant, redisSocket, first.backend));
    const ports = services.map((s) => s.port);
    let running = true;
    const writes: WriteResult[] = [];
    const writer = (async () => {
      if (WRITE_EVERY <= 0) return;
      await new Promise((r) => setTimeout(r, WRITER_START_MS));
      while (running) {
        writes.push(await writeOnce(ports));
        await new Promise((r) => setTimeout(r, WRITE_EVERY));
      }
    })();
    const loads = await Promise.all(
      ports.map((port) =>
        autocannon({
          url: `http://127.0.0.1:${port}`,
          connections: Math.max(1, Math.round(Number(opt.connections) / MACHINES)),
          duration: Number(opt.duration),
          requests: [{ setupRequest: (req) => ({ ...req, path: `/item/${Math.floor(Math.random() * KEYS)}` }) }],
        }),
      ),
    );
    running = false;
    await writer;
    const backendCalls = Number(await (await fetch(`${first.backend}/calls`)).text());
    return {
      rps: loads.reduce((a, l) => a + l.requests.average, 0),
      p99: Math.max(...loads.map((l) => l.latency.p99)),
      backendCalls,
      errors: loads.reduce((a, l) => a + l.errors + l.non2xx, 0),
      writes,
    };
  } finally {
    // Machines share the first one's backend: stop it last.
    for (const s of services.reverse()) await s.stop();
  }
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
}

const LABEL: Record<Variant, string> = {
  lru: 'lru-cache in each worker',
  redis: 'Redis alone (GET, SET on a miss)',
  shmkv: 'shmkv (`fetch`), no tier between machines',
  tiered: 'shmkv in front of Redis (shmkv/tiered)',
  bento: 'Bentocache: memory L1 per worker, Redis L2, Redis bus',
  'bento-shmkv': 'Bentocache: shmkv L1 (shmkv/bentocache), Redis L2, shmkvBus',
};

function ms(x: number): string {
  return x === Infinity ? '-' : x < 10 ? x.toFixed(1) : x.toFixed(0);
}

/** The staleness cells of a variant's writes. */
function staleness(ws: WriteResult[]): string {
  if (ws.length === 0) return '- | - | -';
  const stale = ws.filter((w) => w.lastStale > 0);
  const within = ws.filter((w) => w.allFresh !== Infinity);
  const lastStale = stale.length ? `${ms(median(stale.map((w) => w.lastStale)))} / ${ms(Math.max(...stale.map((w) => w.lastStale)))}` : '-';
  const allFresh = within.length ? `${ms(median(within.map((w) => w.allFresh)))} / ${ms(Math.max(...within.map((w) => w.allFresh)))}` : '-';
  const late = ws.length - within.length;
  return `${stale.length} of ${ws.length}: ${lastStale} | ${allFresh} | ${late === 0 ? 'none' : `${late} of ${ws.length}`}`;
}

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
        console.error(`round ${r + 1}/${rounds} ${v}: ${res.rps.toFixed(0)} req/s, p99 ${res.p99} ms, ${res.backendCalls} backend calls, ${res.errors} errors; staleness ${staleness(res.writes)}`);
      }
    }
  } finally {
    redis.disconnect();
    await server.stop();
  }
  const loadAfter = os.loadavg();
  const argv = process.argv.slice(2).join(' ');
  console.log(`\`node dist/bench/tools/web.js${argv ? ' ' + argv : ''}\`: ${MACHINES} machine(s) x ${WORKERS} workers, ${opt.connections} connections, ` +
    `${opt.duration} s per run, uniform keys over ${KEYS}, backend ${opt['backend-ms']} ms; a write every ${WRITE_EVERY} ms from ${WRITER_START_MS} ms on, ` +
    `staleness bound ${STALE_BOUND} ms; Redis ${server.version} on a unix socket; medians of ${opt.rounds} interleaved runs; ` +
    `load average ${loadBefore[0].toFixed(2)} before, ${loadAfter[0].toFixed(2)} after (${os.cpus().length} cores).\n`);
  // The best run too: on a shared machine, other work only ever slows a run down.
  console.log('| response cache | requests/s (median) | best run | p99 latency (ms, worse machine) | backend calls | errors | writes with a stale answer after the PUT returned: latest stale answer, ms (median / max) | every worker fresh after, ms (median / max) | not fresh within the bound |');
  console.log('|---|---:|---:|---:|---:|---:|---:|---:|---:|');
  for (const v of chosen) {
    const rs = runs.get(v)!;
    console.log(`| ${LABEL[v]} | ${median(rs.map((x) => x.rps)).toFixed(0)} | ${Math.max(...rs.map((x) => x.rps)).toFixed(0)} | ${median(rs.map((x) => x.p99))} | ` +
      `${median(rs.map((x) => x.backendCalls))} | ${rs.reduce((a, x) => a + x.errors, 0)} | ${staleness(rs.flatMap((x) => x.writes))} |`);
  }
}

main().catch((e: Error) => {
  console.error(`bench/web: ${e.message}`);
  process.exitCode = 1;
});
