/**
 * The public client API: connect() to a running server and get/put u32 keys,
 * synchronously (lowest latency, blocks the calling thread) or with promises
 * (up to `window` requests in flight from one JavaScript thread, the event
 * loop never blocked or spun: see notifier.ts).
 *
 * A Client reserves 1 + window windows: the first for the synchronous calls,
 * the rest as the lane of the promise API. Both may be used at once.
 */
import * as path from 'node:path';
import { Worker } from 'node:worker_threads';
import { Connection, ConnectOptions, ServerGoneError } from './connection';
import { Lane } from './lane';
import { fromWire, WireError } from './thread-error';
import { CTRL_ERROR, CTRL_NOTIFIED, CTRL_STOP, CTRL_SUBMITTED, CTRL_WORDS, NotifierData } from './notifier';
import { Op, Status } from '../layout/layout';

export interface ClientOptions extends ConnectOptions {
  /** Requests the promise API keeps in flight (default 32). */
  window?: number;
}

export const DEFAULT_CLIENT_WINDOW = 32;
const MAX_U32 = 4294967295;

/** A put refused because the server's table is at its memory cap. */
export class TableFullError extends Error {
  constructor(key: number) {
    super(`put ${key} refused: the server's table is at its memory cap`);
    this.name = 'TableFullError';
  }
}

function checkU32(what: string, v: number): void {
  if (typeof v !== 'number' || !Number.isInteger(v) || v < 0 || v > MAX_U32)
    throw new RangeError(`${what} must be an integer in 0..4294967295, got ${String(v)}`);
}

interface Pending {
  op: Op;
  key: number;
  value: number;
  resolve: (v: number | undefined) => void;
  reject: (e: Error) => void;
}

/** Connect to the server whose region is at `options.path` (default ./shmem_file). */
export function connect(options: ClientOptions = {}): Client {
  return new Client(options);
}

export class Client {
  private readonly conn: Connection;
  /** The window of the synchronous calls; the lane's windows follow it. */
  private readonly syncWin: number;
  private readonly lane: Lane;
  private readonly ctrl = new Int32Array(new SharedArrayBuffer(CTRL_WORDS * 4));
  private notifier: Worker | null = null;
  /** Requests sent through the lane, oldest first, awaiting responses. */
  private readonly inFlight: Pending[] = [];
  /** Requests not yet sent (window or ring full): queued[queuedHead..], oldest first. */
  private queued: Pending[] = [];
  private queuedHead = 0;
  private waiting = false;
  private closed = false;
  private failure: Error | null = null;
  private closing: Promise<void> | null = null;

  constructor(options: ClientOptions = {}) {
    const width = options.window ?? DEFAULT_CLIENT_WINDOW;
    if (!Number.isInteger(width) || width < 1) throw new RangeError(`window must be a positive integer, got ${width}`);
    this.conn = Connection.open(options);
    this.syncWin = this.conn.reserve(1 + width);
    this.lane = new Lane(this.conn, this.syncWin + 1, width);
  }

  // ---- synchronous API ---------------------------------------------------------

  /** The value under `key`, or undefined. Blocks this thread until answered. */
  getSync(key: number): number | undefined {
    checkU32('key', key);
    this.usable();
    return this.roundTrip(Op.Get, key, 0) === Status.Ok ? this.conn.board.result(this.syncWin) : undefined;
  }

  /** Store `value` under `key`. Blocks until the server has applied it. */
  putSync(key: number, value: number): void {
    checkU32('key', key);
    checkU32('value', value);
    this.usable();
    if (this.roundTrip(Op.Put, key, value) === Status.Full) throw new TableFullError(key);
  }

  /**
   * Atomically add `delta` (default 1) to the value under `key`, absent
   * counting as 0, wrapping modulo 2^32; returns the new value.
   */
  incrSync(key: number, delta = 1): number {
    checkU32('key', key);
    checkU32('delta', delta);
    this.usable();
    if (this.roundTrip(Op.Add, key, delta) === Status.Full) throw new TableFullError(key);
    return this.conn.board.result(this.syncWin);
  }

  private roundTrip(op: Op, key: number, value: number): Status {
    const { board, ring, policy, check } = this.conn;
    const win = this.syncWin;
    board.prepare(win, op, key, value);
    ring.put(win, policy, check);
    board.awaitDone(win, policy, check);
    const status = board.status(win);
    board.recycle(win);
    return status;
  }

  // ---- promise API -------------------------------------------------------------

  /** The value under `key`, or undefined. */
  get(key: number): Promise<number | undefined> {
    checkU32('key', key);
    return this.enqueue(Op.Get, key, 0);
  }

  /** Store `value` under `key`; rejects with TableFullError at the memory cap. */
  put(key: number, value: number): Promise<void> {
    checkU32('key', key);
    checkU32('value', value);
    return this.enqueue(Op.Put, key, value).then(() => undefined);
  }

  /** Atomically add `delta` (default 1) to `key`'s value; resolves to the new value. */
  incr(key: number, delta = 1): Promise<number> {
    checkU32('key', key);
    checkU32('delta', delta);
    return this.enqueue(Op.Add, key, delta) as Promise<number>;
  }

  /** Values of many keys (undefined where absent), pipelined through the window. */
  getMany(keys: Iterable<number>): Promise<Array<number | undefined>> {
    const list = [...keys];
    list.forEach((k) => checkU32('key', k));
    return this.enqueueBatch(list.map((k) => [Op.Get, k, 0] as const));
  }

  /** Store many pairs, pipelined through the window. Resolves when all are applied. */
  async putMany(entries: Iterable<readonly [number, number]>): Promise<void> {
    const list = [...entries];
    for (const [k, v] of list) {
      checkU32('key', k);
      checkU32('value', v);
    }
    await this.enqueueBatch(list.map(([k, v]) => [Op.Put, k, v] as const));
  }

  /**
   * One promise for a whole batch (no promise per request): it resolves with
   * every result in order, or rejects with the first failure (the other
   * requests still run, as with Promise.all).
   */
  private enqueueBatch(reqs: ReadonlyArray<readonly [Op, number, number]>): Promise<Array<number | undefined>> {
    this.usable();
    return new Promise((resolve, reject) => {
      const out = new Array<number | undefined>(reqs.length);
      let left = reqs.length;
      let failed = false;
      if (left === 0) return resolve(out);
      reqs.forEach(([op, key, value], i) =>
        this.queued.push({
          op,
          key,
          value,
          resolve: (v) => {
            out[i] = v;
            if (--left === 0 && !failed) resolve(out);
          },
          reject: (e) => {
            if (!failed) reject(e);
            failed = true;
          },
        }),
      );
      this.pump();
    });
  }

  private enqueue(op: Op, key: number, value: number): Promise<number | undefined> {
    this.usable();
    return new Promise((resolve, reject) => {
      this.queued.push({ op, key, value, resolve, reject });
      this.pump();
    });
  }

  /** Send what fits, then make sure someone will wake us for the rest. */
  private pump(): void {
    this.drainCompleted();
    while (this.queuedHead < this.queued.length && this.lane.inFlight < this.lane.width) {
      const p = this.queued[this.queuedHead];
      if (!this.lane.trySubmit(p.op, p.key, p.value)) break;
      this.queuedHead++;
      this.inFlight.push(p);
    }
    // One hand-off to the notifier per pump, not per request.
    if (Atomics.load(this.ctrl, CTRL_SUBMITTED) !== this.lane.submittedCount) {
      Atomics.store(this.ctrl, CTRL_SUBMITTED, this.lane.submittedCount);
      Atomics.notify(this.ctrl, CTRL_SUBMITTED);
    }
    if (this.queuedHead === this.queued.length) {
      this.queued = [];
      this.queuedHead = 0;
    }
    if (this.inFlight.length > 0) this.arm();
    else if (this.queuedHead < this.queued.length) setTimeout(() => this.pump(), 1); // ring full: retry soon
    // A pending Atomics.waitAsync does not keep Node alive; the notifier
    // does, exactly while requests are outstanding.
    if (this.notifier) {
      if (this.inFlight.length > 0) this.notifier.ref();
      else this.notifier.unref();
    }
  }

  private drainCompleted(): void {
    const notified = Atomics.load(this.ctrl, CTRL_NOTIFIED);
    while (this.lane.completedCount < notified) {
      if (!this.lane.pollNext()) throw new Error('internal: notified window is not DONE');
      const p = this.inFlight.shift()!;
      const status = this.lane.status;
      if (status === Status.Full) p.reject(new TableFullError(p.key));
      else if (p.op === Op.Put) p.resolve(undefined);
      else p.resolve(status === Status.Ok ? this.lane.result : undefined);
    }
  }

  private arm(): void {
    if (this.waiting) return;
    this.startNotifier();
    const seen = Atomics.load(this.ctrl, CTRL_NOTIFIED);
    if (seen !== this.lane.completedCount || Atomics.load(this.ctrl, CTRL_ERROR) !== 0) {
      queueMicrotask(() => this.wake());
      this.waiting = true;
      return;
    }
    const r = Atomics.waitAsync(this.ctrl, CTRL_NOTIFIED, seen);
    this.waiting = true;
    if (r.async) void r.value.then(() => this.wake());
    else queueMicrotask(() => this.wake());
  }

  private wake(): void {
    this.waiting = false;
    if (Atomics.load(this.ctrl, CTRL_ERROR) !== 0 && this.failure === null) {
      // The notifier posts its reason before raising ERROR; 'message' may not
      // have been delivered yet, so fall back to a generic reason.
      this.fail(new ServerGoneError('the server stopped answering'));
      return;
    }
    if (this.failure) return;
    this.pump();
  }

  private startNotifier(): void {
    if (this.notifier) return;
    const data: NotifierData = { conn: this.conn.shared(), first: this.lane.first, width: this.lane.width, ctrl: this.ctrl };
    const w = new Worker(path.join(__dirname, 'notifier-worker.js'), { workerData: data });
    w.on('message', (m: WireError) => this.fail(fromWire(m)));
    w.on('error', (e) => this.fail(e));
    w.unref();
    this.notifier = w;
  }

  /** Reject everything outstanding; the client is unusable afterwards. */
  private fail(e: Error): void {
    if (this.failure) return;
    this.failure = e;
    for (const p of this.inFlight.splice(0)) p.reject(e);
    for (const p of this.queued.splice(this.queuedHead)) p.reject(e);
    this.queued = [];
    this.queuedHead = 0;
  }

  // ---- lifecycle -----------------------------------------------------------------

  private usable(): void {
    if (this.closed) throw new Error('the client is closed');
    if (this.failure) throw this.failure;
  }

  /** Requests accepted by the promise API and not yet answered. */
  get pending(): number {
    return this.inFlight.length + this.queued.length - this.queuedHead;
  }

  /**
   * Wait for outstanding requests, then release this client's windows and
   * stop its notifier. Further calls throw.
   */
  close(): Promise<void> {
    if (this.closing) return this.closing;
    this.closed = true;
    this.closing = (async () => {
      const outstanding = [...this.inFlight, ...this.queued.slice(this.queuedHead)].map(
        (p) => new Promise<void>((r) => {
          const { resolve, reject } = p;
          p.resolve = (v) => (resolve(v), r());
          p.reject = (e) => (reject(e), r());
        }),
      );
      await Promise.all(outstanding);
      Atomics.store(this.ctrl, CTRL_STOP, 1);
      Atomics.notify(this.ctrl, CTRL_SUBMITTED);
      if (this.notifier) await this.notifier.terminate();
      // After a failure, windows may still be in flight: leave them to the
      // server's reaper (it reclaims them once this process exits) rather
      // than risk a late response landing in another client's window.
      if (this.failure === null) this.conn.close();
    })();
    return this.closing;
  }
}
