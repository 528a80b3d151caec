/**
 * The server's request path alone, in one thread: no other thread, no
 * hand-off, no cross-core cache traffic. One thread plays both sides of
 * the ring and the board over a scratch region (Region.scratch) and a
 * table in memory: as a client it prepares and publishes BATCH_MAX
 * windows, as a worker it takes and runs them (Batches: take, claim,
 * execute, complete), as a client again it consumes the answers. The
 * workload is the u32 replay's (`make demo`'s): 50% puts, uniform keys over 100,000.
 *
 *   node dist/bench/tools/path.js [REQUESTS [ROUNDS]]   (default 1,000,000, 5)
 *
 * Prints the median ns per request over ROUNDS fresh tables, first on
 * keys the table does not hold yet (inserts) and then replayed on the
 * same table (updates). A quick, low-noise way to weigh a change to the
 * server's path (2-core machines swing end-to-end figures by 2x): this
 * is CPU per request, which is what bounds the replay when the server's
 * threads are the bottleneck. Not part of `make bench`.
 */
import { Region } from '../../src/layout/region';
import { Ring } from '../../src/transport/ring';
import { Board } from '../../src/transport/window';
import { Table } from '../../src/store/table';
import { memoryTable } from '../../src/store/table-format';
import { Executor } from '../../src/server/execute';
import { Staging } from '../../src/server/staging';
import { Batches, BATCH_MAX } from '../../src/server/batches';
import { generate } from '../../src/workload/generate';
import { parseWorkload, Workload } from '../../src/workload/workload';
import { WINDOW_BYTES } from '../../src/layout/board';
import { PAGE } from '../../src/layout/fields';
import { HDR_BUSY } from '../../src/layout/region-header';

const TABLE_BYTES = 65536 * PAGE; // 256 MiB: room for 100,000 keys and their growth
const WARMUP_ROUNDS = 2;

interface Path {
  ring: Ring;
  board: Board;
  batches: Batches;
}

function newPath(): Path {
  const region = Region.scratch({ ringCapacity: 2 * BATCH_MAX, windowCount: BATCH_MAX, windowBytes: WINDOW_BYTES });
  const ring = new Ring(region);
  const board = new Board(region);
  const table = new Table(memoryTable({ initialBuckets: 1024, dataBytes: TABLE_BYTES }), 0);
  const arenaBytes = 1 << 20;
  const staging = new Staging(Staging.createRecords(BATCH_MAX), new SharedArrayBuffer(arenaBytes), Staging.createArenaState(arenaBytes), board, table.maxKeyBytes, table.maxValueBytes);
  const exec = new Executor(board, table, staging);
  const batches = new Batches(ring, board, exec, region.i32, HDR_BUSY >> 2, (win) => {
    throw new Error(`the scratch ring named window ${win}`);
  });
  return { ring, board, batches };
}

/** Replay the whole workload once; ns per request. */
function replay(p: Path, w: Workload): number {
  const { ring, board, batches } = p;
  const n = w.count - (w.count % BATCH_MAX);
  let sink = 0;
  const t0 = process.hrtime.bigint();
  for (let i = 0; i < n; i += BATCH_MAX) {
    for (let j = 0; j < BATCH_MAX; j++) {
      board.prepare(j, w.ops[i + j], w.keys[i + j], w.values[i + j]);
      if (!ring.tryPut(j)) throw new Error('the scratch ring is full');
    }
    if (!batches.attempt(BATCH_MAX)) throw new Error('the scratch ring lost a batch');
    batches.runTaken();
    for (let j = 0; j < BATCH_MAX; j++) {
      sink += board.result(j);
      board.recycle(j);
    }
  }
  const ns = Number(process.hrtime.bigint() - t0) / n;
  if (sink < 0) throw new Error('unreachable: keeps the results live');
  return ns;
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
}

function main(): void {
  const [requests = 1_000_000, rounds = 5] = process.argv.slice(2).map(Number);
  if (!Number.isInteger(requests) || requests < BATCH_MAX || !Number.isInteger(rounds) || rounds < 1) {
    process.stderr.write('usage: node dist/bench/tools/path.js [REQUESTS [ROUNDS]] (REQUESTS >= 8, ROUNDS >= 1, integers)\n');
    process.exit(2);
  }
  const text = generate({ count: requests, putPercent: 50, keys: 100_000, seed: 1, threads: 1, window: 1, spread: false }).workload;
  const w = parseWorkload(Buffer.from(text), 'generated');
  // V8 first: the timed rounds measure optimized code (warmup.ts has why).
  for (let r = 0; r < WARMUP_ROUNDS; r++) replay(newPath(), w);
  const fresh: number[] = [];
  const held: number[] = [];
  for (let r = 0; r < rounds; r++) {
    const p = newPath();
    fresh.push(replay(p, w));
    held.push(replay(p, w));
  }
  const f = (xs: number[]): string => `${median(xs).toFixed(0)} ns (rounds ${xs.map((x) => x.toFixed(0)).join(', ')})`;
  process.stdout.write(`server path in one thread, ${requests} requests, 50% puts over 100,000 keys, batches of ${BATCH_MAX}\n`);
  process.stdout.write(`  new keys (inserts): ${f(fresh)}\n  held keys (updates): ${f(held)}\n`);
}

main();
