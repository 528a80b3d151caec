/**
 * One size of the scale bench for Redis (run.ts), the same keys and values:
 * filled by pipelined SETs, its used_memory and RSS, a BGSAVE (time, bytes,
 * pipelined SET rate before and during), and a restart that loads the dump.
 * Redis's own figures (INFO) where it has them.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { Redis } from 'ioredis';
import { startRedis } from '../systems/redis-server';
import { key, value, permuted, ratePerSec } from './data';

export interface RedisScale {
  entries: number;
  version: string;
  /** Spawn to answering, empty. */
  startMs: number;
  /** Pipelined SETs (10,000 per pipeline). */
  setKps: number;
  /** used_memory / entries, and the process's RSS. */
  usedPerEntry: number;
  rssMiB: number;
  bgsave: { ms: number; bytes: number; setKpsBefore: number; setKpsDuring: number };
  /** Spawn to answering with the dump loaded. */
  restartMs: number;
}

const PIPELINE = 10_000;

function info(text: string, field: string): number {
  const m = new RegExp(`^${field}:(\\S+)`, 'm').exec(text);
  if (!m) throw new Error(`INFO has no ${field}`);
  return Number(m[1]);
}

/** Pipelined SETs of 100 for `ms` from key `from`: K/s, and the next key. */
async function setRate(r: Redis, from: number, ms: number, until?: () => boolean): Promise<{ kps: number; next: number }> {
  const t0 = performance.now();
  let i = from;
  do {
    const p = r.pipeline();
    for (let j = 0; j < 100; j++, i++) p.set(key(i), value(i));
    await p.exec();
  } while (until ? !until() : performance.now() - t0 < ms);
  return { kps: ratePerSec(i - from, performance.now() - t0) / 1000, next: i };
}

export async function redisScale(entries: number, bin: string, provenance: string, work: string, log: (s: string) => void): Promise<RedisScale> {
  const dir = fs.mkdtempSync(path.join(work, 'redis-'));
  let t0 = performance.now();
  let h = await startRedis(bin, provenance, dir);
  const startMs = performance.now() - t0;
  let r = new Redis({ path: h.socket });
  try {
    t0 = performance.now();
    let p = r.pipeline();
    let n = 0;
    for (const i of permuted(entries)) {
      p.set(key(i), value(i));
      if (++n % PIPELINE === 0) {
        await p.exec();
        p = r.pipeline();
      }
    }
    await p.exec();
    const setKps = ratePerSec(entries, performance.now() - t0) / 1000;
    const mem = await r.info('memory');
    const usedPerEntry = info(mem, 'used_memory') / entries;
    const rssMiB = info(mem, 'used_memory_rss') / 2 ** 20;
    log(`redis ${entries}: SET ${setKps.toFixed(0)} K/s pipelined, ${usedPerEntry.toFixed(1)} B/entry used_memory, RSS ${rssMiB.toFixed(0)} MiB`);

    const before = await setRate(r, entries, 2000);
    await r.bgsave();
    t0 = performance.now();
    let saving = true;
    const watch = (async () => {
      const w = new Redis({ path: h.socket });
      while (info(await w.info('persistence'), 'rdb_bgsave_in_progress') === 1) await new Promise((res) => setTimeout(res, 5));
      saving = false;
      w.disconnect();
    })();
    const during = await setRate(r, before.next, 0, () => !saving);
    await watch;
    const ms = performance.now() - t0;
    const status = /^rdb_last_bgsave_status:(\S+)/m.exec(await r.info('persistence'))?.[1];
    if (status !== 'ok') throw new Error(`BGSAVE: ${status}`);
    const bytes = fs.statSync(path.join(dir, 'dump.rdb')).size;
    log(`redis ${entries}: BGSAVE ${ms.toFixed(0)} ms, ${bytes} bytes; SET ${before.kps.toFixed(0)} K/s before, ${during.kps.toFixed(0)} K/s during`);

    r.disconnect();
    await h.stop(); // SIGTERM: with --save '' it does not save again
    t0 = performance.now();
    h = await startRedis(bin, provenance, dir);
    const restartMs = performance.now() - t0;
    r = new Redis({ path: h.socket });
    const keys = await r.dbsize();
    if (keys < entries) throw new Error(`the restart loaded ${keys} keys`);
    log(`redis ${entries}: restart with the dump ${restartMs.toFixed(0)} ms (${keys} keys)`);
    return { entries, version: h.version, startMs, setKps, usedPerEntry, rssMiB, bgsave: { ms, bytes, setKpsBefore: before.kps, setKpsDuring: during.kps }, restartMs };
  } finally {
    r.disconnect();
    await h.stop();
    fs.rmSync(dir, { recursive: true, force: true });
  }
}
