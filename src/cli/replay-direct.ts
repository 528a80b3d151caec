/**
 * A client CLI thread's replay of a u32 workload with --direct: gets read
 * the shared table in this thread (TableReader, the library's getSync path:
 * a seqlock-validated read of the key's index slot, no server thread
 * involved), puts go through the ring as in the u32 ring replay (replay-worker.ts).
 *
 * A get falls back to the ring (Op.GetU32, the server's answer is the word)
 * when the direct read is contended (writers kept the segment busy through
 * the reader's bounded retries) or finds a value that is not a u32 (another
 * client stored a string under the number): the replay's answer is then
 * the one the ring gives.
 *
 * ORDER: a thread never has two requests to one key in flight, and a
 * direct get never runs while one to its key is. Requests in flight may
 * run in any order (several server threads take from the ring), and a
 * direct read sees only completed writes; so before any request to key k
 * the replay completes ring requests up to the newest one to k still in
 * flight (a scan of at most `width` keys). The ring replay gets the same
 * from genworkload's rule (no key reused within W requests of a thread)
 * and the window; here direct gets take no window, so requests in flight
 * reach back further than W, and the rule alone let two puts to one key
 * overlap (a -c mismatch). The other cure, completing everything older
 * than i - width + 1 (the ring replay's span), would leave a 50/50
 * workload about half a window of puts in flight. The tests check the
 * results against expected files (-c), including a workload that reuses
 * keys back to back.
 */
import type { ReplayReport, ReplayTask } from './replay-contract';
import { Connection } from '../client/connection';
import { Lane } from '../client/lane';
import { runReplay } from './replay-loop';
import { ReadResult } from '../store/table-reader';
import { hashU32Key, U32_KEY_BYTES, writeU32Key } from '../store/keys';
import { Op, Status } from '../layout/board';
import { ValueTag } from '../layout/keys-values';
import { TableCorruptError } from '../errors';

export function replayDirect(t: ReplayTask): ReplayReport {
  const conn = Connection.fromShared(t.conn);
  const lane = new Lane(conn, t.first, t.width);
  const { ops, keys, values, results, width, abort } = t;
  // The n-th ring submission (n % width): its request index and key.
  const sentIndex = new Int32Array(width);
  const sentKey = new Uint32Array(width);
  const key = new Uint8Array(U32_KEY_BYTES);
  let full = 0;
  let done = 0;
  const complete = (): void => {
    lane.awaitNext();
    const i = sentIndex[(lane.completedCount - 1) % width];
    // As the ring replay: a get's answer is the result word (0 when absent).
    if (ops[i] === Op.GetU32) results[i] = lane.result;
    else if (lane.status === Status.Full) full++;
    done++;
  };

  /** Complete ring requests up to the newest one to `k` in flight (ORDER above). */
  const settle = (k: number): void => {
    let upTo = -1;
    for (let n = lane.completedCount; n < lane.submittedCount; n++) if (sentKey[n % width] === k) upTo = n;
    while (lane.completedCount <= upTo) complete();
  };

  /** Send ring request i (a put, or a get the table could not answer). */
  const sendRing = (i: number): void => {
    if (lane.inFlight === width) complete();
    lane.submit(ops[i], keys[i], values[i]);
    sentIndex[(lane.submittedCount - 1) % width] = i;
    sentKey[(lane.submittedCount - 1) % width] = keys[i];
  };
  const indexOf = (n: number): number => sentIndex[n % width];

  /** Request i: a get answered from the table, else through the ring. */
  const step = (i: number): void => {
    settle(keys[i]);
    if (ops[i] === Op.GetU32) {
      // A dead server's table must not keep answering with reconnect: false
      // (checkLive is cheap between heartbeats).
      conn.checkLive();
      const reader = conn.reader;
      writeU32Key(key, 0, keys[i]);
      const r = reader.read(key, U32_KEY_BYTES, hashU32Key(keys[i], reader.seed), false);
      if (r === ReadResult.Absent || (r === ReadResult.Found && reader.tag === ValueTag.U32)) {
        results[i] = r === ReadResult.Found ? reader.num : 0;
        done++;
        return;
      }
      if (r === ReadResult.Corrupt) throw new TableCorruptError('a direct read found a stable segment that makes no sense');
      // Contended, or not a u32: ask the server, below.
    }
    sendRing(i);
  };

  const firstSubmit = process.hrtime.bigint();
  runReplay(lane, t.start, t.end, abort, { step, send: sendRing, indexOf, complete });
  lane.close();
  const lastComplete = process.hrtime.bigint();
  return { firstSubmitNs: Number(firstSubmit), lastCompleteNs: Number(lastComplete), completed: done, full };
}
