/**
 * examples/web-service.ts end to end: the cluster starts, its two workers
 * serve, concurrent misses of a key across both workers cost one backend
 * call (counted by the backend stub), the shared rate limiter answers 429
 * past its limit, a PUT (a write) is read back by every worker, and
 * SIGTERM stops every process. Run with this store alone, with it in front
 * of a private Redis, and with Bentocache (memory L1, or this store as its
 * L1) in front of that Redis with its bus.
 */
import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as http from 'node:http';
import * as path from 'node:path';
import { ChildProcess } from 'node:child_process';
import { pidsMentioning, RunResult, Scope, waitFor } from '../support/procs';
import { startRedis } from '../support/redis';

const SERVICE = path.join(__dirname, '..', '..', 'examples', 'web-service.js');
const LIMIT = 20;

interface Reply {
  status: number;
  worker: string;
  body: string;
}

/** One request on its own connection, so that the cluster spreads them over its workers. */
function get(port: number, url: string, apiKey: string, method = 'GET'): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const req = http.request({ host: '127.0.0.1', port, path: url, method, agent: false, headers: { 'x-api-key': apiKey } }, (res) => {
      let body = '';
      res.setEncoding('utf8').on('data', (d: string) => (body += d));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, worker: String(res.headers['x-worker']), body }));
    });
    req.setTimeout(10_000, () => req.destroy(new Error(`${method} ${url} timed out`)));
    req.on('error', reject);
    req.end();
  });
}

/** The item version a reply carries (the backend stub's `v`). */
function version(r: Reply): number {
  return (JSON.parse(r.body) as { v: number }).v;
}

/** Whether every one of the service's 2 workers answers version `v` of `url` (polled on new connections), within `ms`. */
async function everyWorkerSees(port: number, url: string, v: number, ms: number): Promise<boolean> {
  const fresh = new Set<string>();
  const until = Date.now() + ms;
  while (fresh.size < 2 && Date.now() < until) {
    const r = await get(port, url, 'poller');
    if (r.status === 200 && version(r) === v) fresh.add(r.worker);
    else fresh.delete(r.worker);
  }
  return fresh.size === 2;
}

/** Start the service with `args`; its ready line. */
async function serve(s: Scope, args: string[]): Promise<{ info: { port: number; backend: string }; child: ChildProcess; done: Promise<RunResult> }> {
  const { child, done } = s.spawn(process.execPath, [SERVICE, ...args, '--dir', s.dir], { timeoutMs: 100_000 });
  let out = '';
  child.stdout!.on('data', (d: Buffer) => (out += d.toString()));
  assert.ok(await waitFor(() => out.includes('\n'), 30_000), 'the service printed its ready line');
  const info = JSON.parse(out.split('\n')[0]) as { ready: boolean; port: number; backend: string };
  assert.equal(info.ready, true);
  return { info, child, done };
}

async function backendCalls(url: string): Promise<number> {
  const res = await fetch(`${url}/calls`);
  return Number(await res.text());
}

for (const variant of ['shmkv', 'tiered'] as const) {
  test(`web example (${variant}): workers share one backend call per key, a shared rate limit, clean shutdown`, { timeout: 120_000 }, async (t) => {
    const s = new Scope(t, 'shmkv-web-');
    const args = ['--cache', variant, '--workers', '2', '--limit', String(LIMIT), '--backend-ms', '50'];
    if (variant === 'tiered') args.push('--redis', (await startRedis(t)).socket);
    const { info, child, done } = await serve(s, args);

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

    // A write: the backend's version goes up, and both workers answer it at once (one L1 for the machine).
    const put = await get(info.port, '/item/k1', 'writer', 'PUT');
    assert.equal(put.status, 200, put.body);
    assert.equal(version(put), 1);
    for (let i = 0; i < 4; i++) assert.equal(version(await get(info.port, '/item/k1', 'reader')), 1, 'every worker reads the written version');
    assert.equal(await backendCalls(info.backend), 5, 'a write loads nothing');

    child.kill('SIGTERM');
    const r = await done;
    assert.equal(r.code, 0, r.stderr);
    assert.ok(await waitFor(() => pidsMentioning(s.dir).length === 0, 10_000), 'no worker outlives the primary');
    assert.equal(fs.existsSync(path.join(s.dir, 'web.region')), true, 'the region stays: with its data file, the cache the next start adopts');
  });
}

for (const variant of ['bento', 'bento-shmkv'] as const) {
  test(`web example (${variant}): Bentocache with Redis as L2 and its bus serves, writes reach every worker, clean shutdown`, { timeout: 120_000 }, async (t) => {
    const s = new Scope(t, 'shmkv-web-');
    const { info, child, done } = await serve(s, ['--cache', variant, '--workers', '2', '--backend-ms', '50', '--redis', (await startRedis(t)).socket]);
    const replies = await Promise.all(Array.from({ length: 40 }, (_, i) => get(info.port, `/item/k${i % 5}`, `client-${i}`)));
    for (const r of replies) assert.equal(r.status, 200, r.body);
    assert.deepEqual(new Set(replies.map((r) => r.worker)), new Set(['1', '2']), 'both workers served');
    // Bentocache coalesces the misses of one process (an in-process lock per key): at most one load per key per worker.
    const calls = await backendCalls(info.backend);
    assert.ok(calls >= 5 && calls <= 10, `${calls} backend calls for 5 keys on 2 workers`);
    // Both workers hold version 0 of k1, then a write: the bus brings every worker to version 1.
    assert.ok(await everyWorkerSees(info.port, '/item/k1', 0, 10_000), 'both workers cached version 0');
    const put = await get(info.port, '/item/k1', 'writer', 'PUT');
    assert.equal(version(put), 1);
    assert.ok(await everyWorkerSees(info.port, '/item/k1', 1, 10_000), 'both workers answer the written version');
    assert.equal(await backendCalls(info.backend), calls, 'a write loads nothing (the other worker refills from Redis)');

    child.kill('SIGTERM');
    const r = await done;
    assert.equal(r.code, 0, r.stderr);
    assert.ok(await waitFor(() => pidsMentioning(s.dir).length === 0, 10_000), 'no worker outlives the primary');
  });
}
