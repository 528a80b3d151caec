/**
 * shmkv/bentocache under Bentocache's own API and test suite:
 *   - Bentocache's driver suite (registerCacheDriverTestSuite, run by
 *     Japa in a child process: test/fixtures/bentocache/) passes as L1 and
 *     as L2, 42 of 42;
 *   - the bus: two "machines" (two servers on two region paths) sharing a
 *     private redis-server (L2 and bus). Machine A runs two Bentocache
 *     instances (a writer and a sibling: distinct clients, so distinct L1
 *     handles and buses, on one shared table), machine B one. With
 *     Bentocache's stock Redis bus, the sibling expires the writer's fresh
 *     L1 entries (the same entries) and the writer's next reads go to
 *     Redis; with shmkvBus none do, and machine B still sees every change.
 */
import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import * as path from 'node:path';
import { connect, Client } from '../../src/index';
import { shmkvBus, shmkvDriver, MachineBus } from '../../src/adapters/bentocache';
import { ROOT, Scope, sleep, waitUntil } from '../support/procs';
import { startRedis, TestRedis } from '../support/redis';

test("Bentocache's own driver suite passes against shmkv/bentocache as L1 and as L2", { timeout: 180_000 }, async (t) => {
  const s = new Scope(t, 'shmkv-bento-');
  const region = s.p('region');
  await s.startServer(['-n', '1', '-p', region]);
  const r = await s.run(process.execPath, [path.join(ROOT, 'test', 'fixtures', 'bentocache', 'suite.mjs')], { env: { ...process.env, SHMKV_PATH: region, FORCE_COLOR: '0', NO_COLOR: '1' }, timeoutMs: 150_000 });
  t.diagnostic(r.stdout.trim().split('\n').slice(-3).join(' | '));
  assert.equal(r.code, 0, r.stdout + r.stderr);
  assert.match(r.stdout, /Tests\s+42 passed \(42\)/);
});

interface Instance {
  cache: { getOrSet(o: { key: string; factory: () => unknown; ttl?: string | number }): Promise<unknown>; set(o: { key: string; value: unknown }): Promise<boolean>; get(o: { key: string }): Promise<unknown>; disconnect(): Promise<void> };
  l2Hits: number;
  bus?: MachineBus;
}

/* eslint-disable @typescript-eslint/no-explicit-any */
/** An ES module of Bentocache's world (require(esm); typed loosely: its .d.ts need a newer moduleResolution). */
function esm(name: string): any {
  return require(name);
}

async function bento(kv: Client, redis: TestRedis, stock: boolean): Promise<Instance> {
  const { BentoCache, bentostore } = esm('bentocache');
  const { redisDriver, redisBusDriver } = esm('bentocache/drivers/redis');
  const { RedisTransport } = esm('@boringnode/bus/transports/redis');
  const { EventEmitter } = await import('node:events');
  const emitter = new EventEmitter();
  const inst: Instance = { cache: null as unknown as Instance['cache'], l2Hits: 0 };
  let bus: unknown;
  if (stock) bus = redisBusDriver({ connection: redis.client() });
  else {
    const made = shmkvBus({ client: kv, transport: new RedisTransport(redis.client()) });
    bus = { options: made.options, factory: () => (inst.bus = made.factory()) };
  }
  // Redis calls of the L2, counted at the client: every GET the L2 driver sends.
  const l2 = redis.client();
  const get = l2.get.bind(l2);
  (l2 as any).get = (...a: unknown[]) => (inst.l2Hits++, (get as any)(...a));
  const store = bentostore()
    .useL1Layer(shmkvDriver({ client: kv }))
    .useL2Layer(redisDriver({ connection: l2 }))
    .useBus(bus);
  const bc = new BentoCache({ default: 'app', stores: { app: store }, emitter, ttl: '1m' });
  inst.cache = bc;
  await bc.get({ key: 'warm-up' }); // Bentocache builds a store (and subscribes its bus) at its first use
  return inst;
}

for (const stock of [true, false]) {
  test(`the bus with a machine-wide L1: ${stock ? "Bentocache's stock Redis bus (the problem)" : 'shmkvBus (the fix)'}`, { timeout: 120_000 }, async (t) => {
    const s = new Scope(t, 'shmkv-bento-');
    const redis = await startRedis();
    await s.startServer(['-n', '1', '-p', s.p('a')]);
    await s.startServer(['-n', '1', '-p', s.p('b')]);
    const clients = [connect({ path: s.p('a') }), connect({ path: s.p('a') }), connect({ path: s.p('b') })];
    const [writer, sibling, remote] = await Promise.all(clients.map((kv) => bento(kv, redis, stock)));
    t.after(async () => {
      for (const i of [writer, sibling, remote]) await i.cache.disconnect();
      for (const kv of clients) await kv.close();
      await redis.stop();
    });
    await sleep(300); // the buses subscribed
    const keys = ['k0', 'k1', 'k2', 'k3', 'k4'];
    for (const k of keys) assert.equal(await remote.cache.getOrSet({ key: k, factory: () => 'v0' }), 'v0', 'machine B caches the old value');
    // Machine B's loads were published on the bus too (Set messages): let them land before the writes.
    if (stock) await sleep(500);
    else await waitUntil('machine B\'s messages reached machine A once', () => writer.bus!.counts.delivered + sibling.bus!.counts.delivered === 5 && writer.bus!.counts.claimedBySibling + sibling.bus!.counts.claimedBySibling === 5);
    for (const k of keys) await writer.cache.set({ key: k, value: 'v1' });
    await waitUntil('machine B sees every change', async () => {
      for (const k of keys) if ((await remote.cache.get({ key: k })) !== 'v1') return false;
      return true;
    });
    await sleep(300); // any bus message has been delivered by now
    const before = writer.l2Hits;
    for (const k of keys) assert.equal(await writer.cache.get({ key: k }), 'v1');
    const l2Reads = writer.l2Hits - before;
    t.diagnostic(`reads of 5 just-written keys by the writer that went to Redis: ${l2Reads}`);
    if (stock) assert.equal(l2Reads, 5, 'the stock bus: the sibling expired the shared L1 entries');
    else {
      assert.equal(l2Reads, 0, 'shmkvBus: the writer reads its fresh L1 entries');
      const [w, sib, rem] = [writer.bus!, sibling.bus!, remote.bus!];
      t.diagnostic(`messages: published ${w.counts.published}, dropped on the writer's machine ${sib.counts.ownMachine}, delivered on machine B ${rem.counts.delivered}`);
      assert.equal(w.counts.published, 5);
      assert.equal(sib.counts.ownMachine, 5, "the writer's messages are never delivered on its machine");
      assert.equal(rem.counts.delivered, 5, 'once on the other machine');
      assert.equal(w.counts.claimedBySibling + sib.counts.claimedBySibling, 5, "machine B's 5 messages were delivered once on machine A, not twice");
    }
  });
}
