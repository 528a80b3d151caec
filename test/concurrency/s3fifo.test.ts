// S3-FIFO under a server's threads (src/store/s3fifo.ts, s3fifo-tidy.ts):
// four worker threads set, read, delete and put u32 keys at the memory cap
// (every set may evict, in any thread's segments), while a fifth runs the
// queue compaction (passes forced back to back); in one chunk and in
// four. Afterwards, with nobody writing: every key present holds its last
// write, the heaps walk clean (alloc.ts verify), and the queues keep their
// invariant (every key but System keys queued, a heap key exactly once;
// test/support/table.ts verifyQueues).
import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import * as path from 'node:path';
import { Worker } from 'node:worker_threads';
import { S3Fifo } from '../../src/store/s3fifo';
import { ReadResult } from '../../src/store/table-reader';
import { Stat } from '../../src/layout/data-meta';
import { sumStat } from '../../src/store/counters';
import { memTable, verifyHeaps, verifyQueues } from '../support/table';

const WORKER = path.join(__dirname, '..', 'fixtures', 'unit', 's3fifo-worker.js');
const W = 4;
/** Tables per test: a race shows in some rounds, not all (an evictor without the victim's segment lock failed 2 of 6 single rounds, and both 3-round runs). */
const ROUNDS = 3;
const T = { timeout: 300_000 };

interface Churned {
  bad: number;
  firstBad: string[];
  strings: Array<[string, string | null]>;
  u32s: Array<[number, number | null]>;
}

function run<R>(data: Record<string, unknown>, track: Worker[]): Promise<R> {
  return new Promise<R>((resolve, reject) => {
    const w = new Worker(WORKER, { workerData: data });
    track.push(w);
    w.once('message', resolve);
    w.once('error', reject);
    w.once('exit', (code) => reject(new Error(`worker exited with ${code} before reporting`)));
  });
}

for (const chunks of [1, 4]) {
  test(`S3-FIFO: ${W} threads inserting, updating, reading, deleting and evicting at the cap, compaction beside them, ${chunks} chunk(s): values, heaps and queues check out (${ROUNDS} rounds)`, T, async () => {
    for (let round = 0; round < ROUNDS; round++) await churnRound(chunks, round);
  });
}

/** One table, churned by W threads, then checked. */
async function churnRound(chunks: number, round: number): Promise<void> {
  const m = memTable(4 << 20, { eviction: 's3fifo', chunks, segmentBits: 2, initialBuckets: 1024 });
  const stop = new SharedArrayBuffer(8);
  const workers: Worker[] = [];
  try {
    const common = { table: m.transfer, stop, threads: W + 1, seed: 10 * chunks + round };
    const tidy = run<{ judged: number; passes: number }>({ ...common, role: 'tidy', id: W }, workers);
    const churn = await Promise.all(Array.from({ length: W }, (_, id) => run<Churned>({ ...common, role: 'churn', id, ops: 60_000, keys: 6000 }, workers)));
    Atomics.store(new Int32Array(stop), 0, 1);
    const { judged, passes } = await tidy;
    for (const c of churn) assert.equal(c.bad, 0, c.firstBad.join('; '));
    // At the cap, and evicting, in every chunk.
    const evictions = sumStat(m.parts.header.stats, Stat.Evictions);
    assert.ok(evictions > 10_000, `${evictions} evictions`);
    const s3 = m.t.evictor;
    assert.ok(s3 instanceof S3Fifo);
    for (let c = 0; c < chunks; c++) assert.ok(s3.queued(c) > 0, `chunk ${c} has queued keys`);
    // Every key present holds its last write (evicted or deleted ones are absent).
    let present = 0;
    for (const c of churn) {
      for (const [key, value] of c.strings) {
        m.enc.encode(key);
        const r = m.r.read(m.enc.bytes, m.enc.length, m.enc.hash);
        if (r === ReadResult.Found) {
          present++;
          assert.equal(m.r.str, value, key);
        } else assert.equal(r, ReadResult.Absent, key);
      }
      for (const [key, value] of c.u32s) {
        const got = m.t.getU32(key);
        if (got >= 0) {
          present++;
          assert.equal(got, value, `u32 ${key}`);
        }
      }
    }
    assert.ok(present > 1000, `${present} keys present`);
    verifyHeaps(m.t);
    const q = verifyQueues(s3);
    assert.equal(q.keys, m.t.size(), 'every key queued');
    assert.ok(passes >= 2 * chunks && judged > 10_000, `compaction beside the evictors: ${passes} passes, ${judged} items judged`);
  } finally {
    Atomics.store(new Int32Array(stop), 0, 1);
    await Promise.all(workers.map((w) => w.terminate().catch(() => undefined)));
  }
}
