/**
 * Bench client thread for LMDB through the lmdb npm package (embedded: no
 * server; each thread opens the environment itself, which lmdb-js shares
 * between the threads of one process).
 *
 * Options a Node user would pick for a scratch store with the durability of
 * ours (none): keyEncoding 'uint32' for u32 keys, default (msgpack) values,
 * noSync (no fsync per commit, as Redis runs with persistence off).
 *
 * Gets are `db.get(key)` (synchronous, a read transaction per call).
 * Window 1: puts are `db.putSync(key, value)`, one write transaction each.
 * Window W > 1: puts are `db.put(key, value)` (asynchronous: lmdb-js batches
 *   the puts of one event turn into one transaction on its write thread),
 *   up to W of them in flight; a put's latency ends when its promise
 *   resolves (the commit is done and visible). Gets answer at once.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { open } from 'lmdb';
import { barrier, OP_GET, SliceReport, SliceTask } from '../harness/common';

export interface LmdbTask extends SliceTask {
  dir: string;
}

export function openStore(dir: string): ReturnType<typeof open<number, number>> {
  return open<number, number>({ path: dir, keyEncoding: 'uint32', noSync: true, mapSize: 1 << 30 });
}

async function main(t: LmdbTask): Promise<SliceReport> {
  const db = openStore(t.dir);
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
        if (db.get(keys[i]) === undefined) notFound++;
      } else {
        db.putSync(keys[i], values[i]);
      }
      if (lat) lat[i - start] = clock() - t0;
    }
  } else {
    // FIFO of in-flight puts: their promises, indices and submit times.
    const pending: Array<Promise<boolean>> = new Array(width);
    const idx = new Int32Array(width);
    const sub = new Float64Array(width);
    let head = 0;
    let count = 0;
    const completeOldest = async (): Promise<void> => {
      await pending[head];
      if (lat) lat[idx[head] - start] = clock() - sub[head];
      head = (head + 1) % width;
      count--;
    };
    for (let i = start; i < end; i++) {
      if (ops[i] === OP_GET) {
        const t0 = timed ? clock() : 0;
        if (db.get(keys[i]) === undefined) notFound++;
        if (lat) lat[i - start] = clock() - t0;
        continue;
      }
      if (count === width) await completeOldest();
      const slot = (head + count) % width;
      if (lat) sub[slot] = clock();
      idx[slot] = i;
      pending[slot] = db.put(keys[i], values[i]);
      count++;
    }
    while (count > 0) await completeOldest();
  }
  const lastNs = clock();
  await db.close();
  const b = Number(base);
  return { firstSubmitNs: b + firstNs, lastCompleteNs: b + lastNs, completed: end - start, notFound, latencies: lat };
}

if (workerData) {
  main(workerData as LmdbTask).then(
    (r) => parentPort!.postMessage(r, r.latencies ? [r.latencies.buffer as ArrayBuffer] : []),
    (e) => {
      throw e;
    },
  );
}
