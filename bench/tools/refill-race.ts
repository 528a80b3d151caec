/**
 * A refill that races a write, side by side: shmkv/tiered against
 * Bentocache (a memory L1, Redis as L2, its Redis bus), the two set-ups of
 * the web example's comparison (README, "The web example"). Two
 * "machines" A and B share one Redis. Each round:
 *
 *   1. A writes `old`; B reads the key, misses its L1 and reads Redis;
 *      Redis's reply to B is held (the read is in flight);
 *   2. A writes `new`, and waits until its invalidation (pub/sub for
 *      tiered, a bus message for Bentocache) has been applied on B;
 *   3. B's read goes on: it returns `old` (it was concurrent with the
 *      write), then B is read again every few ms for --bound ms.
 *
 * Printed per cache: in how many rounds B kept `old` after step 3, and for
 * how long it was seen (at most the bound; the L1 ttl is 60 s). A cache
 * that refills with a plain set keeps what it read before the write until
 * its L1 ttl; tiered stores a refill only over its placeholder, which the
 * invalidation removed (client/fetch.ts, "THE ANCHOR").
 *
 *   node dist/bench/tools/refill-race.js [--rounds 10] [--bound 2000]
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { EventEmitter } from 'node:events';
import { parseArgs } from 'node:util';
import { Redis } from 'ioredis';
import { connect, Server } from '../../src/index';
import { TieredCache } from '../../src/adapters/tiered';
import { ensureRedisBinary, startRedis } from '../systems/redis-server';

const { values: opt } = parseArgs({ options: { rounds: { type: 'string', default: '10' }, bound: { type: 'string', default: '2000' } } });
const ROUNDS = Number(opt.rounds);
const BOUND_MS = Number(opt.bound);
const TTL_MS = 60_000;

/** Hold the replies of `method` on `client` while a hold is set: hold() resolves when one arrived, release() lets it go. */
function holdable(client: Redis, methods: string[]): { hold(): Promise<void>; release(): void } {
  let held: { gate: Promise<void>; arrive(): void } | null = null;
  let open: () => void = () => undefined;
  const c = client as unknown as Record<string, (...a: unknown[]) => Promise<unknown>>;
  for (const m of methods) {
    const orig = c[m].bind(client);
    c[m] = async (...a: unknown[]) => {
      const r = await orig(...a);
      const h = held;
      if (h) {
        held = null;
        h.arrive();
        await h.gate;
      }
      return r;
    };
  }
  return {
    hold() {
      return new Promise<void>((arrive) => {
        const gate = new Promise<void>((r) => (open = r));
        held = { gate, arrive };
      });
    },
    release: () => open(),
  };
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

async function until(cond: () => boolean, what: string): Promise<void> {
  for (const t0 = Date.now(); !cond(); await sleep(1)) if (Date.now() - t0 > 10_000) throw new Error(`${what}: not within 10 s`);
}

/** The two caches under test, behind what a round needs. */
interface Pair {
  write(value: string): Promise<void>;
  /** B's read (through its L1). */
  readB(): Promise<unknown>;
  /** Invalidations applied on B so far. */
  appliedOnB(): number;
  /** The hook on B's Redis reads. */
  heldB: { hold(): Promise<void>; release(): void };
  close(): Promise<void>;
}

/** Hold the reply of the next exec() of a MULTI on `client` (tiered reads Redis with GET and PTTL in one MULTI). */
function holdableMulti(client: Redis): { hold(): Promise<void>; release(): void } {
  let held: { gate: Promise<void>; arrive(): void } | null = null;
  let open: () => void = () => undefined;
  const c = client as unknown as { multi: () => { exec(): Promise<unknown> } };
  const multi = c.multi.bind(client);
  c.multi = () => {
    const m = multi();
    const exec = m.exec.bind(m);
    m.exec = async () => {
      const r = await exec();
      const h = held;
      if (h) {
        held = null;
        h.arrive();
        await h.gate;
      }
      return r;
    };
    return m;
  };
  return {
    hold: () => new Promise<void>((arrive) => (held = { gate: new Promise<void>((r) => (open = r)), arrive })),
    release: () => open(),
  };
}

async function tiered(socket: string, dir: string): Promise<Pair> {
  const paths = ['a', 'b'].map((n) => path.join(dir, `${n}.region`));
  const servers = await Promise.all(paths.map((p) => Server.start({ path: p, threads: 1, initialBuckets: 1024 })));
  const kvs = paths.map((p) => connect({ path: p }));
  const [ra, rb] = [new Redis({ path: socket }), new Redis({ path: socket })];
  const heldB = holdableMulti(rb);
  const [a, b] = [new TieredCache({ l1: kvs[0], redis: ra, l1Ttl: TTL_MS }), new TieredCache({ l1: kvs[1], redis: rb, l1Ttl: TTL_MS })];
  await Promise.all([a.ready, b.ready]);
  return {
    write: (v) => a.set('k', v, { ttl: TTL_MS }),
    readB: () => b.get('k'),
    appliedOnB: () => b.invalidations,
    heldB,
    async close() {
      await a.close();
      await b.close();
      for (const kv of kvs) await kv.close();
      ra.disconnect();
      rb.disconnect();
      for (const s of servers) await s.stop();
    },
  };
}

/* eslint-disable @typescript-eslint/no-explicit-any */
async function bento(socket: string): Promise<Pair> {
  const { BentoCache, bentostore } = require('bentocache') as any;
  const { memoryDriver } = require('bentocache/drivers/memory') as any;
  const { redisDriver, redisBusDriver } = require('bentocache/drivers/redis') as any;
  const l2 = [new Redis({ path: socket }), new Redis({ path: socket })];
  const heldB = holdable(l2[1], ['get', 'getBuffer']);
  let received = 0;
  const make = (conn: Redis, emitter: EventEmitter): any =>
    new BentoCache({
      default: 's',
      emitter,
      stores: { s: bentostore().useL1Layer(memoryDriver({ maxItems: 1000 })).useL2Layer(redisDriver({ connection: conn })).useBus(redisBusDriver({ connection: { path: socket } })) },
    });
  const emitterB = new EventEmitter();
  emitterB.on('bus:message:received', () => received++);
  const [a, b] = [make(l2[0], new EventEmitter()), make(l2[1], emitterB)];
  // Bentocache builds a store and subscribes its bus at its first use.
  await a.get({ key: 'warm-up' });
  await b.get({ key: 'warm-up' });
  await sleep(300);
  return {
    write: async (v) => void (await a.set({ key: 'k', value: v, ttl: TTL_MS })),
    readB: () => b.getOrSet({ key: 'k', factory: () => 'loaded', ttl: TTL_MS }),
    appliedOnB: () => received,
    heldB,
    async close() {
      await a.disconnect();
      await b.disconnect();
      for (const c of l2) c.disconnect();
    },
  };
}

/** One round: how long B kept the older value after the race (0: never; BOUND_MS: until the bound). */
async function round(p: Pair, flush: () => Promise<unknown>): Promise<number> {
  await flush();
  await p.write('old');
  const before = p.appliedOnB();
  await until(() => p.appliedOnB() > before, "the write of 'old' applied on B");
  const arrived = p.heldB.hold();
  const read = p.readB();
  await arrived; // B read 'old' from Redis and has not stored it yet
  const applied = p.appliedOnB();
  await p.write('new');
  await until(() => p.appliedOnB() > applied, "the write of 'new' applied on B");
  p.heldB.release();
  const got = await read;
  if (got !== 'old') throw new Error(`the racing read returned ${String(got)}`);
  const t0 = Date.now();
  let staleUntil = 0;
  while (Date.now() - t0 < BOUND_MS) {
    const v = await p.readB();
    if (v === 'old') staleUntil = Date.now() - t0;
    else if (v === 'new') break;
    await sleep(5);
  }
  return staleUntil;
}

async function main(): Promise<void> {
  const { bin, provenance } = ensureRedisBinary((s) => console.error(s));
  const redis = await startRedis(bin, provenance);
  const flusher = new Redis({ path: redis.socket });
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'shmkv-race-'));
  const rows: string[] = [];
  try {
    for (const [name, make] of [
      ['shmkv/tiered', () => tiered(redis.socket, dir)],
      ['Bentocache (memory L1, Redis L2, Redis bus)', () => bento(redis.socket)],
    ] as Array<[string, () => Promise<Pair>]>) {
      const pair = await make();
      const stale: number[] = [];
      try {
        for (let r = 0; r < ROUNDS; r++) stale.push(await round(pair, () => flusher.flushall()));
      } finally {
        await pair.close();
      }
      const kept = stale.filter((s) => s > 0);
      console.error(`${name}: ${stale.map((s) => s.toFixed(0)).join(' ')}`);
      rows.push(`| ${name} | ${kept.length} of ${ROUNDS} | ${kept.length ? `${Math.max(...kept)} ms${Math.max(...kept) >= BOUND_MS - 50 ? ' (until the bound)' : ''}` : '-'} |`);
    }
  } finally {
    flusher.disconnect();
    await redis.stop();
    fs.rmSync(dir, { recursive: true, force: true });
  }
  console.log(`\`node dist/bench/tools/refill-race.js${process.argv.length > 2 ? ' ' + process.argv.slice(2).join(' ') : ''}\`: ${ROUNDS} rounds, B polled for ${BOUND_MS} ms after the race; L1 ttl ${TTL_MS / 1000} s; Redis ${redis.version}.\n`);
  console.log('| cache | rounds where B kept the older value after the invalidation | seen for (longest) |');
  console.log('|---|---:|---:|');
  for (const r of rows) console.log(r);
}

main().then(
  () => process.exit(0),
  (e: Error) => {
    // Exit at once: a half-built pair's connections would retry the stopped Redis forever.
    console.error(`bench/refill-race: ${e.message}`);
    process.exit(1);
  },
);
