/**
 * WARM-UP. A fresh worker thread runs its first requests in V8's
 * interpreter and baseline tiers, until the optimizing compiler has seen
 * enough of them, and each path first met later (a value over 2^31, a
 * sleeping client to wake) throws optimized code away again. Measured
 * with --trace-deopt on `./server -n 1` during the first replay of a
 * 1,000,000-request u32 workload: 9 deoptimizations and ~20 TurboFan
 * compilations of the request path (table, board, executor) while
 * clients waited.
 *
 * So before a worker serves, it runs the very code of its request path
 * (Batches, Executor, Table, Board, Ring, Staging: in one thread, every
 * instance of a class shares its optimized code and type feedback) on a
 * PRIVATE scratch region and table: batches of u32 puts (fresh
 * keys, so the index grows; small and large keys, values over 2^31) and
 * gets (held and absent keys, windows whose client sleeps), then byte
 * sets, reads and deletes. Nothing a client or another worker can see is
 * touched; the scratch memory is garbage once this returns.
 *
 * MAPS. V8 keeps each field's representation (small integer, double,
 * object) in the object's hidden class and only ever widens it; an object
 * whose class was widened after code was optimized for it makes that code
 * deoptimize ("wrong map"). The real table holds numbers the scratch one
 * does not (a 1 GiB cap is over the small-integer range, a random hash
 * seed may be over 2^31), and the warm-up stores numbers a fresh table has not
 * yet held (a u32 value over 2^31). So worker.ts first builds
 * a table over the real data (widening the former), then warms up, then
 * builds the objects it serves with: all of them share one set of classes.
 * Built in another order, 2-9 functions of the request path deoptimized
 * at the first real requests (measured with --trace-deopt).
 *
 * The answers are checked: a scratch table that returns a wrong value is a
 * broken build, and the worker fails before the server says READY.
 */
import { Region } from '../layout/region';
import { Ring } from '../transport/ring';
import { Board } from '../transport/window';
import { Table } from '../store/table';
import { evictionPolicy, memoryTable } from '../store/table-format';
import type { Eviction } from '../layout/data-meta';
import { Executor } from './execute';
import { Staging } from './staging';
import { Batches, BATCH_MAX } from './batches';
import { Op, Status, WIN_STATE, WIN_TAG, WIN_VALUE_LEN, WINDOW_BYTES, WindowState } from '../layout/board';
import { KEY_KIND_BYTES, KeyKind, ValueTag } from '../layout/keys-values';
import { HDR_BUSY } from '../layout/region-header';

/** Distinct u32 keys the warm-up inserts (then reads, then updates). */
const WARM_U32_KEYS = 4096;
/** Rounds over those keys: inserts, then reads and updates alternating. */
const WARM_U32_ROUNDS = 4;
/** Byte requests of each kind (set, read, delete). */
const WARM_BYTE_REQUESTS = 1024;
/** The scratch table's memory: room for the keys above, index growth included. */
const WARM_TABLE_BYTES = 4 * 1024 * 1024;
/** The scratch staging arena. */
const WARM_ARENA_BYTES = 64 * 1024;
/** Where the odd windows' keys start: over 2^31 (not small integers in V8). */
const HIGH_KEYS = 0xc0000000;
/** A key the warm-up never writes. */
const ABSENT_KEY = 0xffffffff;
/** The scratch ring: a batch's windows at a time need no more. */
const WARM_RING_CAPACITY = 16;

/**
 * Warm worker `worker`'s request path up on scratch memory, with the real
 * table's eviction policy `eviction`: the insert path calls the policy's
 * admit (index-host.ts, SlotPolicy), and a warm-up that trained another
 * policy's would leave the first real inserts to deoptimize it.
 */
export function warmUp(worker: number, eviction: Eviction): void {
  const region = Region.scratch({ ringCapacity: WARM_RING_CAPACITY, windowCount: BATCH_MAX, windowBytes: WINDOW_BYTES });
  const ring = new Ring(region);
  const board = new Board(region);
  const table = new Table(memoryTable({ initialBuckets: 1024, dataBytes: WARM_TABLE_BYTES, eviction: evictionPolicy(eviction) }), worker);
  const arena = new SharedArrayBuffer(WARM_ARENA_BYTES);
  const staging = new Staging(Staging.createRecords(BATCH_MAX), arena, Staging.createArenaState(WARM_ARENA_BYTES), board, table.maxKeyBytes, table.maxValueBytes);
  const batches = new Batches(ring, board, new Executor(board, table, staging), region.i32, (HDR_BUSY >> 2) + worker, (win) => {
    throw new Error(`warm-up: the scratch ring named window ${win}`);
  });
  // Publish a batch the way a client does, serve it the way the worker
  // loop does, then check and consume every answer.
  const serve = (prepare: (win: number) => void, check: (win: number) => void): void => {
    for (let win = 0; win < BATCH_MAX; win++) {
      prepare(win);
      if (!ring.tryPut(win)) throw new Error('warm-up: the scratch ring is full');
    }
    if (!batches.attempt(BATCH_MAX) || batches.taken !== BATCH_MAX) throw new Error('warm-up: the scratch ring lost a batch');
    batches.runTaken();
    for (let win = 0; win < BATCH_MAX; win++) {
      if (!board.isDone(win)) throw new Error(`warm-up: window ${win} was not answered`);
      check(win);
      board.recycle(win);
    }
  };
  const expect = (win: number, status: Status, result?: number): void => {
    if (board.status(win) !== status || (result !== undefined && board.result(win) !== result))
      throw new Error(`warm-up: window ${win} answered status ${board.status(win)} result ${board.result(win)}, expected ${status} ${result ?? ''}`);
  };

  // u32 requests (Op.GetU32, Op.PutU32): inserts, then gets and updates alternating.
  // Even windows take small keys, odd ones keys over 2^31; values cover
  // the whole u32 range. Every batch's window 0 asks a key nobody holds
  // and, every other batch, its client is asleep (the SLEEPING bit, as
  // Board.awaitDone sets it): complete() wakes it (a futex on scratch
  // memory, where nobody waits).
  const keyOf = (i: number): number => (i & 1 ? (HIGH_KEYS + i) >>> 0 : i);
  const valueOf = (key: number, round: number): number => Math.imul(key ^ round, 0x9e3779b1) >>> 0;
  const sleeping = (win: number, n: number): void => {
    if (((n / BATCH_MAX) & 1) === 0) Atomics.or(region.i32, board.field(win, WIN_STATE), WindowState.Sleeping);
  };
  let base = 0;
  for (let round = 0; round < WARM_U32_ROUNDS; round++) {
    for (base = 0; base < WARM_U32_KEYS; base += BATCH_MAX) {
      if (round % 2 === 1)
        serve(
          (win) => {
            board.prepare(win, Op.GetU32, win === 0 ? ABSENT_KEY : keyOf(base + win), 0);
            sleeping(win, base);
          },
          (win) => (win === 0 ? expect(win, Status.NotFound, 0) : expect(win, Status.Ok, valueOf(keyOf(base + win), round - 1))),
        );
      else serve((win) => board.prepare(win, Op.PutU32, keyOf(base + win), valueOf(keyOf(base + win), round)), (win) => expect(win, Status.Ok));
    }
  }

  // Byte requests: each window's staging grown once (Op.Reserve), then
  // string keys set, read back and deleted.
  serve((win) => board.prepareBytes(win, Op.Reserve, 0, 0, 0, 64), (win) => expect(win, Status.Ok));
  const u8 = staging.u8;
  const keyAt = (win: number, n: number): number => {
    const off = staging.offset(win);
    u8[off] = KeyKind.String;
    const digits = String(n);
    for (let i = 0; i < digits.length; i++) u8[off + KEY_KIND_BYTES + i] = digits.charCodeAt(i);
    return KEY_KIND_BYTES + digits.length;
  };
  for (base = 0; base < WARM_BYTE_REQUESTS; base += BATCH_MAX) {
    serve(
      (win) => {
        const keyLen = keyAt(win, base + win);
        u8.set([base & 0xff, win, 7, 9], staging.offset(win) + keyLen);
        board.prepareBytes(win, Op.Set, keyLen, 4, ValueTag.Buffer);
      },
      (win) => expect(win, Status.Ok),
    );
    serve(
      (win) => board.prepareBytes(win, Op.Read, keyAt(win, base + win), 0, 0),
      (win) => {
        expect(win, Status.Ok);
        const off = staging.offset(win);
        if (board.word(win, WIN_VALUE_LEN) !== 4 || board.word(win, WIN_TAG) !== ValueTag.Buffer || u8[off] !== (base & 0xff) || u8[off + 1] !== win)
          throw new Error(`warm-up: window ${win} read back the wrong value`);
      },
    );
    serve((win) => board.prepareBytes(win, Op.Delete, keyAt(win, base + win), 0, 0), (win) => expect(win, Status.Ok));
  }
}
