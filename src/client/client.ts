/**
 * The public client API: connect() to a running server, then get/set/has/
 * delete string, byte and u32 keys holding strings, bytes, numbers,
 * booleans, null or structured values, synchronously (`...Sync`, blocks the
 * calling thread) or with promises (the event loop never blocks or spins).
 *
 * READS go straight to the shared table (table-reader.ts): no server
 * thread, no hand-off, linearizable. Only when writers keep a segment busy
 * for hundreds of attempts does a read fall back to asking the server.
 * WRITES go through the ring to the server's threads, as the seed's design
 * says: the sync calls through a private window, the promise calls through
 * a lane of `window` windows (pipeline.ts).
 */
import { Connection, ConnectOptions } from './connection';
import { Pending, Pipeline } from './pipeline';
import { StagingIO } from './staging-io';
import { decodeValue, ownValue, prepareValue, PreparedValue } from '../codec/value';
import { DEFAULT_ENCODING, Encoding } from '../codec/structured';
import { Key, KeyEncoder } from '../store/keys';
import { ReadResult } from '../store/table-reader';
import { deadlineIn, monoNowMs } from '../store/clock';
import { TableCorruptError } from '../store/alloc';
import { Op, Status, ValueTag, WIN_STAGING_BYTES } from '../layout/layout';

/** Options of a write. */
export interface SetOptions {
  /** Time to live in ms (0 or Infinity: never expires). Default: the client's `ttl`, else the server's. */
  ttl?: number;
  /** Absolute expiry as a wall-clock timestamp in ms (Date.now() scale), as Keyv passes it. */
  expiresAt?: number;
}

export interface ClientOptions extends ConnectOptions {
  /** Default time to live of this client's writes, in ms (default: the server's --ttl, else never). */
  ttl?: number;
  /** Requests the promise API keeps in flight (default 32). */
  window?: number;
  /** Codec of structured values (objects, Map, Date...): 'v8', 'msgpack' or 'json'. */
  encoding?: Encoding;
}

export const DEFAULT_CLIENT_WINDOW = 32;
const MAX_U32 = 4294967295;

/** A write refused because the server's table is at its memory cap. */
export class TableFullError extends Error {
  constructor(what: string) {
    super(`${what} refused: the server's table is at its memory cap`);
    this.name = 'TableFullError';
  }
}

function checkU32(what: string, v: number): void {
  if (typeof v !== 'number' || !Number.isInteger(v) || v < 0 || v > MAX_U32)
    throw new RangeError(`${what} must be an integer in 0..4294967295, got ${String(v)}`);
}

/** The error a non-Ok status stands for, in a response to `what`. */
function statusError(status: Status, what: string): Error {
  switch (status) {
    case Status.Full:
      return new TableFullError(what);
    case Status.WrongType:
      return new TypeError(`${what}: the value stored under the key is not a u32`);
    case Status.Corrupt:
      return new TableCorruptError(`the server met it answering ${what}`);
    default:
      return new Error(`${what}: the server answered status ${Status[status] ?? status}`);
  }
}

/** Connect to the server whose region is at `options.path` (default ./shmem_file). */
export function connect(options: ClientOptions = {}): Client {
  return new Client(options);
}

export class Client {
  private readonly conn: Connection;
  /** The window of the synchronous calls; the lane's windows follow it. */
  private readonly syncWin: number;
  private readonly pipeline: Pipeline;
  private readonly io: StagingIO;
  private readonly keys: KeyEncoder;
  private readonly prep: PreparedValue = { tag: ValueTag.Null, maxBytes: 0, num: 0, str: '', bytes: null };
  readonly encoding: Encoding;
  /** The server's limits on key and value sizes, in bytes. */
  readonly maxKeyBytes: number;
  readonly maxValueBytes: number;
  private readonly defaultTtl: number;
  private closed = false;
  private closing: Promise<void> | null = null;

  constructor(options: ClientOptions = {}) {
    const width = options.window ?? DEFAULT_CLIENT_WINDOW;
    if (!Number.isInteger(width) || width < 1) throw new RangeError(`window must be a positive integer, got ${width}`);
    this.encoding = options.encoding ?? DEFAULT_ENCODING;
    if (!['v8', 'msgpack', 'json'].includes(this.encoding))
      throw new RangeError(`encoding must be 'v8', 'msgpack' or 'json', got ${String(options.encoding)}`);
    this.conn = Connection.open(options);
    const reader = this.conn.reader;
    this.maxKeyBytes = reader.maxKeyBytes;
    this.maxValueBytes = reader.maxValueBytes;
    this.keys = new KeyEncoder(reader.maxKeyBytes, reader.seed);
    this.defaultTtl = options.ttl === undefined ? reader.defaultTtlMs : checkTtl(options.ttl);
    this.io = new StagingIO(this.conn);
    this.syncWin = this.conn.reserve(1 + width);
    this.pipeline = new Pipeline(this.conn, this.syncWin + 1, width, this.io, (s) => statusError(s, 'staging for a request'));
  }

  // ---- synchronous API ---------------------------------------------------------

  /** The value under `key`, or undefined. Never waits for a server thread (unless contended). */
  getSync(key: Key): unknown {
    const r = this.direct(key, true);
    if (r === ReadResult.Found) return decodeValue(this.conn.reader);
    if (r === ReadResult.Absent) return undefined;
    return this.syncRead();
  }

  /** Whether `key` holds a value. */
  hasSync(key: Key): boolean {
    const r = this.direct(key, false);
    if (r === ReadResult.Found) return true;
    if (r === ReadResult.Absent) return false;
    return this.syncRead() !== undefined;
  }

  /** Store `value` under `key`; returns when the server has applied it. */
  setSync(key: Key, value: unknown, options?: SetOptions): void {
    this.usable();
    const expires = this.deadline(options);
    this.keys.encode(key);
    const p = prepareValue(value, this.encoding, this.maxValueBytes, this.prep);
    if (typeof key === 'number' && p.tag === ValueTag.U32 && expires === 0) {
      this.check(this.roundTrip(Op.Put, key, p.num), 'set');
      return;
    }
    this.stage(this.keys.length + p.maxBytes);
    const valueLen = this.io.write(this.syncWin, this.keys.bytes, this.keys.length, p);
    this.conn.board.prepareBytes(this.syncWin, Op.Set, this.keys.length, valueLen, p.tag, 0, expires);
    this.check(this.roundTripPrepared(), 'set');
  }

  /** The seed's name for setSync. */
  putSync(key: Key, value: unknown, options?: SetOptions): void {
    this.setSync(key, value, options);
  }

  /** Remaining time to live of `key` in ms: Infinity when it never expires, undefined when absent. */
  ttlSync(key: Key): number | undefined {
    const r = this.direct(key, false);
    if (r === ReadResult.Absent) return undefined;
    if (r !== ReadResult.Found) return this.syncRead() === undefined ? undefined : this.ttlSync(key);
    const at = this.conn.reader.expires;
    return at === 0 ? Infinity : Math.max(0, at - monoNowMs());
  }

  /** Give `key` a new time to live (ms; 0 or Infinity: never expires); false when absent. */
  expireSync(key: Key, ttl: number): boolean {
    return this.expireOp(key, deadlineIn(checkTtl(ttl)));
  }

  /** Make `key` never expire; false when absent. */
  persistSync(key: Key): boolean {
    return this.expireOp(key, 0);
  }

  private expireOp(key: Key, expires: number): boolean {
    this.usable();
    this.keys.encode(key);
    const status = this.byteOp(Op.Expire, expires);
    if (status === Status.NotFound) return false;
    this.check(status, 'expire');
    return true;
  }

  /** Remove `key`; true when it held a value. */
  deleteSync(key: Key): boolean {
    this.usable();
    this.keys.encode(key);
    const status = this.byteOp(Op.Delete);
    if (status === Status.NotFound) return false;
    this.check(status, 'delete');
    return true;
  }

  /**
   * Atomically add `delta` (default 1) to the u32 under u32 `key`, absent
   * counting as 0, wrapping modulo 2^32; returns the new value.
   */
  incrSync(key: number, delta = 1): number {
    checkU32('key', key);
    checkU32('delta', delta);
    this.usable();
    this.check(this.roundTrip(Op.Add, key, delta), `incr ${key}`);
    return this.conn.board.result(this.syncWin);
  }

  // ---- promise API ---------------------------------------------------------------

  /** The value under `key`, or undefined; answered from the table without a hand-off. */
  get(key: Key): Promise<unknown> {
    const r = this.direct(key, true);
    if (r === ReadResult.Found) return settled(() => decodeValue(this.conn.reader));
    if (r === ReadResult.Absent) return Promise.resolve(undefined);
    return this.enqueueRead();
  }

  has(key: Key): Promise<boolean> {
    const r = this.direct(key, false);
    if (r === ReadResult.Found) return Promise.resolve(true);
    if (r === ReadResult.Absent) return Promise.resolve(false);
    return this.enqueueRead().then((v) => v !== undefined);
  }

  /** Store `value` under `key`; rejects with TableFullError at the memory cap. */
  set(key: Key, value: unknown, options?: SetOptions): Promise<void> {
    return this.enqueue(this.setRequest(key, value, options)) as Promise<void>;
  }

  put(key: Key, value: unknown, options?: SetOptions): Promise<void> {
    return this.set(key, value, options);
  }

  ttl(key: Key): Promise<number | undefined> {
    return settled(() => this.ttlSync(key)) as Promise<number | undefined>;
  }

  /** lru-cache's name for ttl(). */
  getRemainingTTL(key: Key): Promise<number | undefined> {
    return this.ttl(key);
  }

  expire(key: Key, ttl: number): Promise<boolean> {
    this.usable();
    const expires = deadlineIn(checkTtl(ttl));
    this.keys.encode(key);
    const settle = (s: Status): boolean => (s === Status.NotFound ? false : (this.check(s, 'expire'), true));
    return this.enqueue(this.byteRequest(Op.Expire, null, settle, expires)) as Promise<boolean>;
  }

  persist(key: Key): Promise<boolean> {
    return this.expire(key, 0);
  }

  delete(key: Key): Promise<boolean> {
    this.usable();
    this.keys.encode(key);
    return this.enqueue(this.byteRequest(Op.Delete, null, (s) => (s === Status.NotFound ? false : (this.check(s, 'delete'), true)))) as Promise<boolean>;
  }

  /** Atomically add `delta` (default 1) to u32 `key`'s value; resolves to the new value. */
  incr(key: number, delta = 1): Promise<number> {
    checkU32('key', key);
    checkU32('delta', delta);
    this.usable();
    const settle = (s: Status, result: number): number => (this.check(s, `incr ${key}`), result);
    return this.enqueue(this.u32Request(Op.Add, key, delta, settle)) as Promise<number>;
  }

  /** Values of many keys (undefined where absent), read directly. */
  getMany(keys: Iterable<Key>): Promise<unknown[]> {
    const list = [...keys];
    return Promise.all(list.map((k) => this.get(k)));
  }

  /** Store many pairs, pipelined through the window; resolves when all are applied. */
  async setMany(entries: Iterable<readonly [Key, unknown]>, options?: SetOptions): Promise<void> {
    const reqs = [...entries].map(([k, v]) => this.setRequest(k, v, options));
    await this.enqueueBatch(reqs);
  }

  putMany(entries: Iterable<readonly [Key, unknown]>, options?: SetOptions): Promise<void> {
    return this.setMany(entries, options);
  }

  // ---- requests ------------------------------------------------------------------

  private setRequest(key: Key, value: unknown, options?: SetOptions): Pending {
    this.usable();
    const expires = this.deadline(options);
    this.keys.encode(key);
    const p = ownValue(prepareValue(value, this.encoding, this.maxValueBytes));
    const settle = (s: Status): undefined => (this.check(s, 'set'), undefined);
    if (typeof key === 'number' && p.tag === ValueTag.U32 && expires === 0) return this.u32Request(Op.Put, key, p.num, settle);
    return this.byteRequest(Op.Set, p, settle, expires);
  }

  private u32Request(op: Op, key: number, value: number, settle: Pending['settle']): Pending {
    return { op, key, value, keyBytes: null, data: null, need: 0, expires: -1, settle, resolve: noop, reject: noop };
  }

  /** A request on the key last encoded (its material is copied). */
  private byteRequest(op: Op, data: PreparedValue | null, settle: Pending['settle'], expires = -1): Pending {
    const keyBytes = Buffer.from(this.keys.bytes.subarray(0, this.keys.length));
    const need = keyBytes.length + (data ? data.maxBytes : 0);
    return { op, key: 0, value: 0, keyBytes, data, need, expires, settle, resolve: noop, reject: noop };
  }

  /** The deadline of a write: its own ttl or expiresAt, else the default ttl (0 = never). */
  private deadline(options: SetOptions | undefined): number {
    if (options?.expiresAt !== undefined) {
      const at = options.expiresAt;
      if (typeof at !== 'number' || Number.isNaN(at)) throw new RangeError(`expiresAt must be a timestamp in ms, got ${String(at)}`);
      return at === Infinity ? 0 : monoNowMs() + Math.max(at - Date.now(), 0) || Number.MIN_VALUE;
    }
    return deadlineIn(options?.ttl === undefined ? this.defaultTtl : checkTtl(options.ttl));
  }

  private enqueueRead(): Promise<unknown> {
    const settle = (s: Status, _r: number, win: number): unknown => (s === Status.NotFound ? undefined : (this.check(s, 'get'), this.io.read(win)));
    return this.enqueue(this.byteRequest(Op.Read, null, settle));
  }

  private enqueue(p: Pending): Promise<unknown> {
    this.usable();
    return new Promise((resolve, reject) => {
      p.resolve = resolve;
      p.reject = reject;
      this.pipeline.add(p);
      this.pipeline.pump();
    });
  }

  /** One promise for a whole batch: every result in order, or the first failure. */
  private enqueueBatch(reqs: Pending[]): Promise<unknown[]> {
    this.usable();
    return new Promise((resolve, reject) => {
      const out = new Array<unknown>(reqs.length);
      let left = reqs.length;
      let failed = false;
      if (left === 0) return resolve(out);
      reqs.forEach((p, i) => {
        p.resolve = (v) => {
          out[i] = v;
          if (--left === 0 && !failed) resolve(out);
        };
        p.reject = (e) => {
          if (!failed) reject(e);
          failed = true;
        };
        this.pipeline.add(p);
      });
      this.pipeline.pump();
    });
  }

  // ---- the direct read and the sync window ----------------------------------------

  private direct(key: Key, copyBytes: boolean): ReadResult {
    this.usable();
    this.conn.checkLive();
    this.keys.encode(key);
    const r = this.conn.reader.read(this.keys.bytes, this.keys.length, this.keys.hash, copyBytes);
    if (r === ReadResult.Corrupt) throw new TableCorruptError('a direct read found a stable segment that makes no sense');
    return r;
  }

  /** Ask the server for the value of the key last encoded (a contended read). */
  private syncRead(): unknown {
    const status = this.byteOp(Op.Read);
    if (status === Status.NotFound) return undefined;
    this.check(status, 'get');
    return this.io.read(this.syncWin);
  }

  /** A key-only request on the key last encoded, through the sync window. */
  private byteOp(op: Op, expires = -1): Status {
    this.stage(this.keys.length);
    this.io.write(this.syncWin, this.keys.bytes, this.keys.length, null);
    this.conn.board.prepareBytes(this.syncWin, op, this.keys.length, 0, 0, 0, expires);
    return this.roundTripPrepared();
  }

  /** Make the sync window's staging block hold `need` bytes. */
  private stage(need: number): void {
    if (this.io.room(this.syncWin) >= need) return;
    this.conn.board.prepareBytes(this.syncWin, Op.Reserve, 0, 0, 0, need);
    this.check(this.roundTripPrepared(), `staging for ${need} bytes`);
    if (this.conn.board.word(this.syncWin, WIN_STAGING_BYTES) < need) throw new TableCorruptError('staging block smaller than granted');
  }

  private roundTrip(op: Op, key: number, value: number): Status {
    this.conn.board.prepare(this.syncWin, op, key, value);
    return this.roundTripPrepared();
  }

  private roundTripPrepared(): Status {
    const { board, ring, policy, check } = this.conn;
    const win = this.syncWin;
    ring.put(win, policy, check);
    board.awaitDone(win, policy, check);
    const status = board.status(win);
    board.recycle(win);
    return status;
  }

  private check(status: Status, what: string): void {
    if (status !== Status.Ok) throw statusError(status, what);
  }

  // ---- lifecycle -----------------------------------------------------------------

  private usable(): void {
    if (this.closed) throw new Error('the client is closed');
    if (this.pipeline.failure) throw this.pipeline.failure;
  }

  /**
   * Keys in the whole machine's table (as lru-cache's `size`); entries that
   * expired count until the server's sweeper reclaims them.
   */
  get size(): number {
    return this.conn.reader.size();
  }

  /** Requests accepted by the promise API and not yet answered. */
  get pending(): number {
    return this.pipeline.pending;
  }

  /**
   * Wait for outstanding requests, then release this client's windows and
   * stop its notifier. Further calls throw.
   */
  close(): Promise<void> {
    if (this.closing) return this.closing;
    this.closed = true;
    this.closing = (async () => {
      await this.pipeline.close();
      // After a failure, windows may still be in flight: leave them to the
      // server's reaper (it reclaims them once this process exits) rather
      // than risk a late response landing in another client's window.
      if (this.pipeline.failure === null) this.conn.close();
    })();
    return this.closing;
  }
}

function noop(): void {}

/** A time to live in ms: a non-negative number (0 or Infinity: never expires). */
function checkTtl(ttl: number): number {
  if (typeof ttl !== 'number' || !(ttl >= 0)) throw new RangeError(`ttl must be a number of ms >= 0 (0 or Infinity: never), got ${String(ttl)}`);
  return ttl;
}

/** A promise of f()'s value, or of its exception. */
function settled(f: () => unknown): Promise<unknown> {
  try {
    return Promise.resolve(f());
  } catch (e) {
    return Promise.reject(e);
  }
}
