/**
 * Bench client thread for Redis: its own ioredis connection over the unix
 * socket, replaying one slice of the workload (get -> GET, put -> SET, keys
 * and values as decimal numbers, which is what ioredis sends for numbers).
 *
 * Window 1: one request at a time (`await redis.get(k)`).
 * Window W > 1, mode 'batch' (default): what a Node user means by
 *   "pipelining": `redis.pipeline()` with the next W requests, then
 *   `await exec()`; every request's latency is batch start to exec's answer.
 * Window W > 1, mode 'window': a sliding window, W commands in flight, each
 *   awaited in order (Redis answers in order); per-command latency.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { Redis } from 'ioredis';
import { barrier, OP_GET, SliceReport, SliceTask } from '../harness/common';

export interface RedisTask extends SliceTask {
  socket: string;
  mode: 'batch' | 'window';
}

async function main(t: RedisTask): Promise<SliceReport> {
  const redis = new Redis({ path: t.socket, lazyConnect: true, maxRetriesPerRequest: 0, enableOfflineQueue: false });
  await redis.connect();
  await redis.ping();
  barrier(t);
  const { ops, keys, values, width, start, end, timed } = t;
  const lat = timed ? new Float64Array(end - start) : null;
  let notFound = 0;
  const base = process.hrtime.bigint();
  const clock = (): number => Number(process.hrtime.bigint() - base);
  const firstNs = clock();
  if (width === 1) {
    for (let i = start; i < end; i++) {
      const t0 = timed ? clock() : 0;
      if (ops[i] === OP_GET) {
        if ((await redis.get(String(keys[i]))) === null) notFound++;
      } else {
        await redis.set(String(keys[i]), values[i]);
      }
      if (lat) lat[i - start] = clock() - t0;
    }
  } else if (t.mode === 'batch') {
    for (let i = start; i < end; i += width) {
      const stop = Math.min(i + width, end);
      const t0 = timed ? clock() : 0;
      const p = redis.pipeline();
      for (let j = i; j < stop; j++) {
        if (ops[j] === OP_GET) p.get(String(keys[j]));
        else p.set(String(keys[j]), values[j]);
      }
      const res = (await p.exec())!;
      for (let j = i; j < stop; j++) {
        const [err, v] = res[j - i];
        if (err) throw err;
        if (ops[j] === OP_GET && v === null) notFound++;
      }
      if (lat) {
        const d = clock() - t0;
        for (let j = i; j < stop; j++) lat[j - start] = d;
      }
    }
  } else {
    const inflight: Array<Promise<unknown>> = new Array(width);
    const sub = new Float64Array(width);
    let done = start;
    const complete = async (): Promise<void> => {
      const slot = (done - start) % width;
      const v = await inflight[slot];
      if (ops[done] === OP_GET && v === null) notFound++;
      if (lat) lat[done - start] = clock() - sub[slot];
      done++;
    };
    for (let i = start; i < end; i++) {
      if (i - done === width) await complete();
      const slot = (i - start) % width;
      if (lat) sub[slot] = clock();
      inflight[slot] = ops[i] === OP_GET ? redis.get(String(keys[i])) : redis.set(String(keys[i]), values[i]);
    }
    while (done < end) await complete();
  }
  const lastNs = clock();
  redis.disconnect();
  const b = Number(base);
  return { firstSubmitNs: b + firstNs, lastCompleteNs: b + lastNs, completed: end - start, notFound, latencies: lat };
}

main(workerData as RedisTask).then(
  (r) => parentPort!.postMessage(r, r.latencies ? [r.latencies.buffer as ArrayBuffer] : []),
  (e) => {
    throw e;
  },
);
