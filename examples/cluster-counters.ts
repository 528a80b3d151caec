/**
 * Several processes sharing counters through one server: a Node cluster
 * whose primary runs the server in-process and whose workers (separate
 * processes) count "requests" into shared keys with atomic incr.
 *
 *   node dist/examples/cluster-counters.js [workers] [increments]
 */
import * as cluster from 'node:cluster';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { connect, Server } from '../src/index';

const TOTAL = 0; // key of the cluster-wide counter
const perWorkerKey = (id: number): number => 1000 + id;

async function primary(workers: number, increments: number): Promise<void> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'shmkv-cluster-'));
  const region = path.join(dir, 'region');
  const server = await Server.start({ path: region, threads: 2, initialBuckets: 64 });
  try {
    const exits: Promise<number>[] = [];
    for (let id = 1; id <= workers; id++) {
      const w = (cluster as unknown as cluster.Cluster).fork({ SHMKV_PATH: region, WORKER_ID: String(id), INCREMENTS: String(increments) });
      exits.push(new Promise((resolve) => w.once('exit', (code) => resolve(code ?? 1))));
    }
    const codes = await Promise.all(exits);
    if (codes.some((c) => c !== 0)) throw new Error(`worker exit codes ${codes.join(',')}`);

    const kv = connect({ path: region });
    const total = await kv.get(TOTAL);
    const each = await kv.getMany(Array.from({ length: workers }, (_, i) => perWorkerKey(i + 1)));
    await kv.close();
    console.log(`total = ${total} (expected ${workers * increments}); per worker = ${each.join(', ')}`);
    if (total !== workers * increments) process.exitCode = 1;
  } finally {
    await server.stop();
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

async function worker(): Promise<void> {
  const id = Number(process.env.WORKER_ID);
  const increments = Number(process.env.INCREMENTS);
  const kv = connect({ path: process.env.SHMKV_PATH, window: 16 });
  const pending: Promise<number>[] = [];
  for (let i = 0; i < increments; i++) {
    pending.push(kv.incr(TOTAL));
    kv.incrSync(perWorkerKey(id));
  }
  await Promise.all(pending);
  await kv.close();
  // A cluster worker's IPC channel keeps it alive: leave explicitly.
  process.exit(0);
}

if ((cluster as unknown as cluster.Cluster).isPrimary) {
  const workers = Number(process.argv[2] ?? 4);
  const increments = Number(process.argv[3] ?? 10000);
  primary(workers, increments).catch((e: Error) => {
    console.error(`cluster-counters: ${e.message}`);
    process.exitCode = 1;
  });
} else {
  worker().catch((e: Error) => {
    console.error(`cluster-counters worker: ${e.message}`);
    process.exit(1);
  });
}
