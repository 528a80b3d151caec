/**
 * Starting the server's worker threads (worker.ts): each gets its
 * ServerWorkerData and says WORKER_READY once warmed up (warmup.ts); the
 * main thread publishes READY only when every one has.
 */
import * as path from 'node:path';
import { Worker } from 'node:worker_threads';
import { WORKER_READY, type ServerWorkerData } from './worker-data';

export interface StartedWorkers {
  /** Resolves when every worker is ready; rejects when one fails or exits first. */
  online: Promise<void>;
  /** One per worker: resolves when it exits with code 0, rejects otherwise. */
  exited: Promise<void>[];
}

/** Start `threads` workers, worker `index` with `data(index)`. */
export function startWorkers(threads: number, data: (index: number) => ServerWorkerData): StartedWorkers {
  const online: Promise<void>[] = [];
  const exited: Promise<void>[] = [];
  for (let index = 0; index < threads; index++) {
    const w = new Worker(path.join(__dirname, 'worker.js'), { workerData: data(index) });
    online.push(
      new Promise((resolve, reject) => {
        w.on('message', (m) => m === WORKER_READY && resolve());
        w.once('error', reject);
        w.once('exit', (code) => reject(new Error(`server worker ${index} exited with code ${code} before it was ready`)));
      }),
    );
    exited.push(
      new Promise((resolve, reject) => {
        w.once('error', reject);
        w.once('exit', (code) => (code === 0 ? resolve() : reject(new Error(`server worker ${index} exited with code ${code}`))));
      }),
    );
  }
  const all = Promise.all(online).then(() => undefined);
  return { online: all, exited };
}
