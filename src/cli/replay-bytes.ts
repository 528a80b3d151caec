/**
 * A client CLI thread's replay of a byte workload (workload/bytes.ts):
 * sets and deletes through the ring into the window's staging block, gets
 * through the ring too (Op.Read, the server answers into staging) or, with
 * --direct, from the shared table itself, falling back to Op.Read when
 * writers keep the key's segment busy (ReadResult.Contended).
 *
 * A request needs a free window whose staging block holds its key material
 * and value; when none does, one free window is grown first with an
 * Op.Reserve and the request waits for it (as pipeline.ts does for the
 * promise API). Blocks keep their size, so this happens about once per
 * window for fixed-size workloads.
 *
 * ORDER: through the ring, at most `width` requests are in flight, so the
 * requests in flight when request i is sent are among the `width - 1`
 * before it, and genworkload's rule (no key reused within W requests) makes
 * every run deterministic. Direct gets take no window, so requests in
 * flight may reach back further; with --direct the replay completes, before
 * any request, the ring requests up to the newest one in flight whose key
 * has the same hash (replay-direct.ts, ORDER: a thread never has two
 * requests to one key in flight, and a direct get never runs while one to
 * its key is; a hash collision only settles more than needed). Those
 * hashes use the hash seed of the lane's server, which a restart changes: a
 * request's hash is taken again when it is sent to another one.
 *
 * RIDING THROUGH (replay-worker.ts): after a move the requests that were
 * in flight go again (replay-loop.ts), each through the same path as a
 * new one (a Reserve first when no window of the new lane has room).
 */
import type { ReplayReport, ReplayTask } from './replay-contract';
import { Connection } from '../client/connection';
import { Lane } from '../client/lane';
import { runReplay } from './replay-loop';
import { StagingIO } from '../client/staging-io';
import { readOnlyValues } from '../client/structures';
import { hashBytes } from '../store/keys';
import { ReadResult } from '../store/table-reader';
import { Op, Status } from '../layout/board';
import { DEFAULT_MAX_KEY_BYTES, KEY_KIND_BYTES, ValueTag } from '../layout/keys-values';
import { resultLine } from '../workload/bytes';
import { ReplayError } from './replay-error';
import { TableCorruptError } from '../errors';

const VERB: Partial<Record<Op, string>> = { [Op.Set]: 'set', [Op.Read]: 'get', [Op.Delete]: 'del' };

export function replayBytes(t: ReplayTask): ReplayReport {
  const conn = Connection.fromShared(t.conn);
  const lane = new Lane(conn, t.first, t.width);
  // Values of other clients decode (never add record structures); the
  // staging of the lane's windows is in its session's exchange file.
  const values = readOnlyValues(conn);
  let io = new StagingIO(lane.session, values);
  const stagingIo = (): StagingIO => (io.session === lane.session ? io : (io = new StagingIO(lane.session, values)));
  const { data, start, keyLen, valueLen } = t.bytes!;
  const { ops, width, abort, lines } = t;
  const room = (win: number): number => stagingIo().room(win);
  /** ORDER's hash of request i's key, with the hash seed of the lane's server. */
  const orderHash = (i: number): number => (t.direct ? hashBytes(data, start[i], keyLen[i], lane.session.reader.seed) : 0);
  // The n-th submission (n % width): its request index, whether it was a Reserve for it, and its key's hash.
  const sentIndex = new Int32Array(width);
  const sentReserve = new Uint8Array(width);
  const sentHash = new Uint32Array(width);
  // Get results by request index in this part (compacted to get order at the end).
  const results: string[] | null = t.keep ? new Array<string>(t.end - t.start) : null;
  // Direct reads want the key material at index 0 of its array.
  const key = Buffer.allocUnsafe(DEFAULT_MAX_KEY_BYTES + KEY_KIND_BYTES);
  let full = 0;
  let done = 0;

  const fail = (i: number, what: string): never => {
    throw new ReplayError(`${what}, answering ${VERB[ops[i] as Op] ?? 'request'} at workload line ${lines[i]}`);
  };
  const record = (i: number, v: unknown): void => {
    if (results !== null) results[i - t.start] = resultLine(v);
  };
  /** Consume the oldest response. */
  const complete = (): void => {
    lane.awaitNext();
    const n = (lane.completedCount - 1) % width;
    const i = sentIndex[n];
    const s = lane.status;
    if (sentReserve[n] === 1) {
      if (s === Status.Full) fail(i, `staging for ${keyLen[i] + valueLen[i]} bytes refused: the server's table is at its memory cap`);
      if (s !== Status.Ok) fail(i, `staging refused (status ${Status[s] ?? s})`);
      return;
    }
    const op = ops[i];
    if (op === Op.Read) {
      if (s === Status.NotFound) record(i, undefined);
      else if (s === Status.Ok) record(i, stagingIo().read(lane.lastWindow));
      else fail(i, `the server answered status ${Status[s] ?? s}`);
    } else if (s === Status.Full && op === Op.Set) {
      full++;
    } else if (s !== Status.Ok && !(s === Status.NotFound && op === Op.Delete)) {
      fail(i, `the server answered status ${Status[s] ?? s}`);
    }
    done++;
  };
  const submit = (win: number, i: number, reserve: boolean): void => {
    lane.publish(win);
    const n = (lane.submittedCount - 1) % width;
    sentIndex[n] = i;
    sentReserve[n] = reserve ? 1 : 0;
    sentHash[n] = orderHash(i);
  };
  /** --direct: complete ring requests up to the newest one in flight whose key hashes to `hash` (ORDER above). */
  const settle = (hash: number): void => {
    let upTo = -1;
    for (let n = lane.completedCount; n < lane.submittedCount; n++) if (sentHash[n % width] === hash) upTo = n;
    while (lane.completedCount <= upTo) complete();
  };
  /** Send request i through the ring (growing a window first when none has room). */
  const sendRing = (i: number): void => {
    if (lane.inFlight === width) complete();
    const op = ops[i];
    const kLen = keyLen[i];
    const vLen = valueLen[i];
    const need = kLen + vLen;
    let win = lane.windowWithRoom(need, room);
    if (win < 0) {
      const grow = lane.nextWindow();
      lane.session.board.prepareBytes(grow, Op.Reserve, 0, 0, 0, need);
      submit(grow, i, true);
      const target = lane.submittedCount;
      while (lane.completedCount < target) complete();
      win = lane.windowWithRoom(need, room);
      if (win < 0) throw new TableCorruptError(`staging block smaller than the ${need} bytes granted`);
    }
    stagingIo().writeRaw(win, data, start[i], need);
    lane.session.board.prepareBytes(win, op, kLen, vLen, op === Op.Set ? ValueTag.String : 0);
    submit(win, i, false);
  };
  const indexOf = (n: number): number => (sentReserve[n % width] === 1 ? -1 : sentIndex[n % width]);

  /** Request i: with --direct a get answered from the table, else through the ring. */
  const step = (i: number): void => {
    if (ops[i] === Op.Read && t.direct) {
      const hash = orderHash(i);
      settle(hash);
      conn.checkLive();
      const reader = conn.reader;
      const from = start[i];
      const kLen = keyLen[i];
      for (let j = 0; j < kLen; j++) key[j] = data[from + j];
      // The lane may still be on a server the reads have left (ORDER's hash is the lane's).
      const r = reader.read(key, kLen, reader === lane.session.reader ? hash : hashBytes(data, from, kLen, reader.seed), true);
      if (r === ReadResult.Found || r === ReadResult.Absent) {
        record(i, r === ReadResult.Found ? values.decode(reader) : undefined);
        done++;
        return;
      }
      if (r === ReadResult.Corrupt) throw new TableCorruptError('a direct read found a stable segment that makes no sense');
      // Contended: ask the server, below.
    } else if (t.direct) settle(orderHash(i));
    sendRing(i);
  };

  const firstSubmit = process.hrtime.bigint();
  runReplay(lane, t.start, t.end, abort, { step, send: sendRing, indexOf, complete });
  lane.close();
  const lastComplete = process.hrtime.bigint();
  let strings: string[] | undefined;
  if (results !== null) {
    strings = [];
    for (let i = t.start; i < t.start + done; i++) if (ops[i] === Op.Read) strings.push(results[i - t.start]);
  }
  return { firstSubmitNs: Number(firstSubmit), lastCompleteNs: Number(lastComplete), completed: done, full, strings };
}
