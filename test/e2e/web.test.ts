/**
 * examples/web-service.ts end to end: the cluster starts, its two workers
 * serve, concurrent misses of a key across both workers cost one backend
 * call (counted by the backend stub), the shared rate limiter answers 429
 * past its limit, and SIGTERM stops every process and removes the region.
 * Run with this store alone and with it in front of a private Redis.
 */
import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as http from 'node:http';
import * as path from 'node:path';
import { pidsMentioning, Scope, waitFor } from '../support/procs';
import { startRedis } from '../support/redis';

const SERVICE = path.join(__dirname, '..', '..', 'examples', 'web-service.js');
const LIMIT = 20;

interface Reply {
  status: number;
  worker: string;
  body: string;
}

/** One request on its own connection, so that the cluster spreads them over its workers. */
function get(port: number, url: string, apiKey: string): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const req = http.get({ host: '127.0.0.1', port, path: url, agent: false, headers: { 'x-api-key': apiKey } }, (res) => {
      let body = '';
      res.setEncoding('utf8').on('data', (d: string) => (body += d));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, worker: String(res.headers['x-worker']), body }));
    });
    req.setTimeout(10_000, () => req.destroy(new Error(`GET ${url} timed out`)));
    req.on('error', reject);
  });
}

async function backendCalls(url: string): Promise<number> {
  const res = await fetch(`${url}/calls`);
  return Number(await res.text());
}

for (const variant of ['shmkv', 'tiered'] as const) {
  test(`web example (${variant}): workers share one backend call per key, a shared rate limit, clean shutdown`, { timeout: 120_000 }, async (t) => {
    const s = new Scope(t, 'shmkv-web-');
    const args = [SERVICE, '--cache', variant, '--workers', '2', '--limit', String(LIMIT), '--backend-ms', '50', '--dir', s.dir];
    if (variant === 'tiered') args.push('--redis', (await startRedis(t)).socket);
    const { child, done } = s.spawn(process.execPath, args, { timeoutMs: 100_000 });
    let out = '';
    child.stdout!.on('data', (d: Buffer) => (out += d.toString()));
    assert.ok(await waitFor(() => out.includes('\n'), 30_000), 'the service printed its ready line');
    const info = JSON.parse(out.split('\n')[0]) as { ready: boolean; port: number; backend: string };
    assert.equal(info.ready, true);

    // 5 keys x 8 concurrent requests, each with its own API key (no limit hit).
    const replies = await Promise.all(
      Array.from({ length: 40 }, (_, i) => get(info.port, `/item/k${i % 5}`, `client-${i}`)),
    );
    for (const r of replies) assert.equal(r.status, 200, r.body);
    for (let k = 0; k < 5; k++) {
      const bodies = new Set(replies.filter((_, i) => i % 5 === k).map((r) => r.body));
      assert.equal(bodies.size, 1, `every request of key k${k} got the same cached response`);
    }
    assert.deepEqual(new Set(replies.map((r) => r.worker)), new Set(['1', '2']), 'both workers served');
    assert.equal(await backendCalls(info.backend), 5, 'one backend call per key for the whole machine');

    // One API key past the limit: counted across both workers.
    const burst = await Promise.all(Array.from({ length: 3 * LIMIT }, () => get(info.port, '/item/k0', 'burst')));
    const allowed = burst.filter((r) => r.status === 200).length;
    assert.ok(burst.every((r) => r.status === 200 || r.status === 429));
    // A burst may straddle two one-second windows.
    assert.ok(allowed >= LIMIT && allowed <= 2 * LIMIT, `${allowed} of ${3 * LIMIT} allowed with a limit of ${LIMIT}/s`);
    assert.equal(await backendCalls(info.backend), 5, 'cached: no more backend calls');

    child.kill('SIGTERM');
    const r = await done;
    assert.equal(r.code, 0, r.stderr);
    assert.ok(await waitFor(() => pidsMentioning(s.dir).length === 0, 10_000), 'no worker outlives the primary');
    assert.equal(fs.existsSync(path.join(s.dir, 'web.region')), true, 'the region stays: with its data file, the cache the next start adopts');
  });
}
