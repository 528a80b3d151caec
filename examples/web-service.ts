/**
 * A web service on a Node cluster (node:http, no framework needed) whose
 * workers share, through this store, a response cache and a rate limiter:
 *
 *   GET /item/ID   the backend's response for ID, cached (web-caches.ts);
 *                  429 past --limit requests per second per API key
 *                  (x-api-key header, else the client address)
 *   PUT /item/ID   change the item in the backend (its version goes up),
 *                  then write the new response through the cache; answers
 *                  the new response
 *
 * The primary embeds the store's server, runs the backend stub (an HTTP
 * server on loopback that answers after --backend-ms and counts its
 * loads: GET /calls; each item carries a version `v` that POST
 * /item/ID raises) unless --backend names one that another instance runs
 * (several "machines" share one backend), and forks the workers. With
 * --cache tiered it also runs the machine's one pub/sub subscriber
 * (shmkv/tiered). Once every worker listens it prints one JSON line:
 * {"ready":true,"port":...,"backend":...}. SIGTERM/SIGINT: workers close,
 * the server and Redis clients stop, exit 0.
 *
 *   node dist/examples/web-service.js --cache shmkv --workers 2 --port 8080
 *   curl localhost:8080/item/42; curl -X PUT localhost:8080/item/42; curl $(backend)/calls
 */
import * as cluster from 'node:cluster';
import * as fs from 'node:fs';
import * as http from 'node:http';
import * as os from 'node:os';
import * as path from 'node:path';
import { parseArgs } from 'node:util';
import { Redis } from 'ioredis';
import { connect, Server } from '../src/index';
import { TieredCache } from '../src/adapters/tiered';
import { RateLimiter } from './rate-limiter';
import { makeCache, Variant, VARIANTS } from './web-caches';

const cl = cluster as unknown as cluster.Cluster;

const { values: opt } = parseArgs({
  options: {
    cache: { type: 'string', default: 'shmkv' },
    workers: { type: 'string', default: '2' },
    port: { type: 'string', default: '0' },
    redis: { type: 'string' },
    'backend-ms': { type: 'string', default: '5' },
    // Another instance's backend (its ready line's "backend"): machines share one source of truth.
    backend: { type: 'string' },
    limit: { type: 'string', default: '1000000' },
    ttl: { type: 'string', default: '60000' },
    // A directory for the region (default: a fresh temp dir); tests pass theirs.
    dir: { type: 'string' },
  },
});
const variant = opt.cache as Variant;
if (!VARIANTS.includes(variant)) throw new Error(`--cache must be one of ${VARIANTS.join(', ')}`);

/** The backend stub: slow on purpose, counting every load, each item with a version that a POST raises. */
function startBackend(delayMs: number): Promise<{ server: http.Server; url: string }> {
  let calls = 0;
  const versions = new Map<string, number>();
  const body = (url: string): string => JSON.stringify({ path: url, v: versions.get(url) ?? 0, body: 'x'.repeat(512), at: Date.now() });
  const server = http.createServer((req, res) => {
    const url = req.url ?? '';
    if (url === '/calls') {
      res.end(String(calls));
      return;
    }
    if (req.method === 'POST') {
      versions.set(url, (versions.get(url) ?? 0) + 1);
      res.end(body(url));
      return;
    }
    calls++;
    setTimeout(() => res.end(body(url)), delayMs);
  });
  return new Promise((resolve) =>
    server.listen(0, '127.0.0.1', () => resolve({ server, url: `http://127.0.0.1:${(server.address() as { port: number }).port}` })),
  );
}

async function primary(): Promise<void> {
  const ownDir = opt.dir === undefined;
  const dir = opt.dir ?? fs.mkdtempSync(path.join(os.tmpdir(), 'shmkv-web-'));
  const region = path.join(dir, 'web.region');
  const server = await Server.start({ path: region, threads: 1, initialBuckets: 1024 });
  const backend = opt.backend === undefined ? await startBackend(Number(opt['backend-ms'])) : { server: null, url: opt.backend };
  let subscriber: { cache: TieredCache; kv: ReturnType<typeof connect>; redis: Redis } | null = null;
  if (variant === 'tiered') {
    const kv = connect({ path: region });
    const redis = new Redis({ path: opt.redis! });
    const cache = new TieredCache({ l1: kv, redis, l1Ttl: Number(opt.ttl) });
    await cache.ready;
    subscriber = { cache, kv, redis };
  }
  const env = { SHMKV_PATH: region, WEB_BACKEND: backend.url };
  const workers = Array.from({ length: Number(opt.workers) }, () => cl.fork(env));
  const exits = workers.map((w) => new Promise<number>((resolve) => w.once('exit', (code) => resolve(code ?? 1))));

  let stopping = false;
  const stop = async (code: number): Promise<void> => {
    if (stopping) return;
    stopping = true;
    for (const w of workers) if (!w.isDead()) w.process.kill('SIGTERM');
    const killer = setTimeout(() => workers.forEach((w) => w.isDead() || w.process.kill('SIGKILL')), 5000);
    await Promise.all(exits);
    clearTimeout(killer);
    if (subscriber) {
      await subscriber.cache.close();
      await subscriber.kv.close();
      subscriber.redis.disconnect();
    }
    await server.stop();
    backend.server?.close();
    if (ownDir) fs.rmSync(dir, { recursive: true, force: true });
    process.exit(code);
  };
  process.on('SIGTERM', () => void stop(0));
  process.on('SIGINT', () => void stop(0));
  // A worker that dies on its own takes the service down: loudly.
  exits.forEach((p, i) =>
    void p.then((code) => {
      if (stopping) return;
      console.error(`web-service: worker ${i + 1} exited (${code})`);
      void stop(1);
    }),
  );

  const ports = await Promise.all(
    workers.map((w) => new Promise<number>((resolve) => w.on('message', (m: { port?: number }) => m.port !== undefined && resolve(m.port)))),
  );
  console.log(JSON.stringify({ ready: true, port: ports[0], backend: backend.url, variant, workers: workers.length }));
}

async function worker(): Promise<void> {
  const kv = connect({ path: process.env.SHMKV_PATH, window: 64 });
  const ttl = Number(opt.ttl);
  const cache = makeCache(variant, { kv, redisSocket: opt.redis, ttl });
  const limiter = new RateLimiter(kv, Number(opt.limit), 1000);
  const agent = new http.Agent({ keepAlive: true, maxSockets: 64 });
  const backend = process.env.WEB_BACKEND!;

  const call = (method: 'GET' | 'POST', id: string): Promise<string> =>
    new Promise((resolve, reject) => {
      http
        .request(`${backend}/item/${id}`, { agent, method }, (res) => {
          let body = '';
          res.setEncoding('utf8').on('data', (d: string) => (body += d));
          res.on('end', () => resolve(body));
        })
        .on('error', reject)
        .end();
    });
  const load = (id: string) => (): Promise<string> => call('GET', id);
  /** The item changed: the backend first, then the cache. */
  const update = async (id: string): Promise<string> => {
    const body = await call('POST', id);
    await cache.write(`item:${id}`, body);
    return body;
  };

  const server = http.createServer((req, res) => {
    const m = /^\/item\/([\w-]{1,64})$/.exec(req.url ?? '');
    if (!m) {
      res.statusCode = 404;
      res.end('not found\n');
      return;
    }
    const who = String(req.headers['x-api-key'] ?? req.socket.remoteAddress ?? '?');
    res.setHeader('x-worker', String(cl.worker!.id));
    limiter
      .hit(who)
      .then(async ({ allowed }) => {
        if (!allowed) {
          res.statusCode = 429;
          res.end('too many requests\n');
          return;
        }
        res.setHeader('content-type', 'application/json');
        res.end(await (req.method === 'PUT' ? update(m[1]) : cache.fetch(`item:${m[1]}`, load(m[1]))));
      })
      .catch((e: Error) => {
        res.statusCode = 500;
        res.end(`${e.message}\n`);
      });
  });
  // Port 0 in a cluster: every worker shares the one port the primary picks.
  server.listen(Number(opt.port), '127.0.0.1', () => process.send!({ port: (server.address() as { port: number }).port }));

  let quitting = false;
  const quit = async (): Promise<void> => {
    if (quitting) return;
    quitting = true;
    server.close();
    server.closeAllConnections();
    agent.destroy();
    await cache.close();
    await kv.close();
    // The IPC channel keeps a cluster worker alive: leave explicitly.
    process.exit(0);
  };
  process.on('SIGTERM', () => void quit());
  // The primary is gone (even SIGKILLed): do not outlive it.
  process.on('disconnect', () => void quit());
}

if (cl.isPrimary)
  primary().catch((e: Error) => {
    console.error(`web-service: ${e.message}`);
    process.exit(1);
  });
else
  worker().catch((e: Error) => {
    console.error(`web-service worker: ${e.message}`);
    process.exit(1);
  });
