/**
 * Requests to the server, built once and run either through the client's
 * synchronous window (sync-window.ts) or through the promise pipeline
 * (pipeline.ts): one description of each operation, its checks, its bytes
 * and the meaning of its response, for both forms.
 */
import type { Board } from '../transport/window';
import { Key, KeyEncoder } from '../store/keys';
import { deadlineIn, monoNowMs } from '../store/clock';
import { Op, Status } from '../layout/board';
import { ValueTag } from '../layout/keys-values';
import { ownValue, PreparedValue, ValueCodec } from '../codec/value';
import { StagingIO } from './staging-io';
import { check, checkTtl, checkU32 } from './checks';

/** Options of a write. */
export interface SetOptions {
  /** Time to live in ms (0 or Infinity: never expires). Default: the client's `ttl`, else the server's. */
  ttl?: number;
  /** Absolute expiry as a wall-clock timestamp in ms (Date.now() scale), as Keyv passes it. */
  expiresAt?: number;
  /** Store only if the key is absent (Redis SET NX); the call then returns whether it stored. */
  ifAbsent?: boolean;
  /** Tags of the entry: deleteByTag(tag) drops it machine-wide (client/entries.ts). */
  tags?: readonly string[];
  /** Keep the value this many ms past its ttl, stale: fetch() can serve it, get() only with allowStale. */
  grace?: number;
}

export interface Pending {
  op: Op;
  /** u32 ops: key and value (or delta). Reserve: bytes wanted. */
  key: number;
  value: number;
  /** Byte ops: the key's material (an own copy), and the value to store. */
  keyBytes: Buffer | null;
  data: PreparedValue | null;
  /** CompareSet: the value expected (null: the key must be absent), and whether a match deletes. */
  expected: PreparedValue | null;
  del: boolean;
  /** Staging bytes the request needs. */
  need: number;
  /** Deadline of a Set, CompareSet or Expire (ms, monotonic; 0 = never), -1 for none. */
  expires: number;
  /**
   * Whether running it twice leaves the same state as once (set, delete,
   * expire, clear, reads, Reserve): such a request whose server died after
   * taking it is sent again to the next server. incr, compareAndSet and
   * set({ ifAbsent }) are not: OutcomeUnknownError instead.
   */
  idempotent: boolean;
  /** The call's value from the response in window `win`, whose staging `io` reads (may throw). */
  settle: (status: Status, result: number, win: number, io: StagingIO) => unknown;
  resolve: (v: unknown) => void;
  reject: (e: Error) => void;
  /** Set while an Op.Reserve grows a window for this request. */
  reserving?: boolean;
  /** Set when the request cannot be sent (its Reserve failed). */
  failed?: Error;
  /** An Op.Reserve: the request it grows a window for. */
  reserveFor?: Pending;
  /** When it was queued during an outage (ms; 0: before it): its wait for a server counts from the later of the two. */
  since?: number;
}

function noop(): void {}

/**
 * Write a byte request into free window `win` (its staging has room for
 * p.need) and prepare it for publishing. False when its deferred value did
 * not fit: the value is encoded now and p.need is exact; grow the window's
 * staging to p.need and write again.
 */
export function writeRequest(io: StagingIO, board: Board, win: number, p: Pending): boolean {
  const keyBytes = p.keyBytes!;
  const keyLen = keyBytes.length;
  if (p.op === Op.CompareSet) {
    io.write(win, keyBytes, keyLen, null);
    const expLen = p.expected ? io.writeAt(win, keyLen, p.expected) : 0;
    const valueLen = p.data ? io.writeAt(win, keyLen + expLen, p.data) : 0;
    board.prepareCompare(win, keyLen, p.expected ? p.expected.tag : 0, expLen, valueLen, p.data ? p.data.tag : 0, p.expires, p.del);
    return true;
  }
  const valueLen = io.write(win, keyBytes, keyLen, p.data);
  if (valueLen < 0) {
    p.need = keyLen + p.data!.maxBytes;
    return false;
  }
  board.prepareBytes(win, p.op, keyLen, valueLen, p.data ? p.data.tag : 0, 0, p.expires);
  return true;
}

/** Builds checked requests for one client (its key encoder, codec, limits and default ttl). */
export class RequestBuilder {
  constructor(
    private readonly keys: KeyEncoder,
    private readonly codec: ValueCodec,
    private readonly defaultTtl: number,
  ) {}

  /**
   * `now`: the request is written before the caller returns (the
   * synchronous calls), so a structured value may be encoded straight into
   * the staging block; a request that may wait in a queue holds its value
   * encoded, in bytes of its own.
   */
  set(key: Key, value: unknown, options?: SetOptions, now = false): Pending {
    const expires = this.deadline(options);
    this.keys.encode(key);
    const data = now && !options?.ifAbsent ? this.codec.prepareDeferred(value) : this.value(value);
    if (options?.ifAbsent) return this.compare(null, data, false, expires);
    const settle = (s: Status): boolean => (check(s, 'set'), true);
    if (typeof key === 'number' && data.tag === ValueTag.U32 && expires === 0) return this.u32(Op.PutU32, key, data.num, settle);
    return this.bytes(Op.Set, data, settle, expires);
  }

  /** Store `next` (or delete, `next` undefined with `del`) only if the key holds `expected` (undefined: absent). */
  compareAndSet(key: Key, expected: unknown, next: unknown, options: SetOptions | undefined, del: boolean): Pending {
    const expires = this.deadline(options);
    this.keys.encode(key);
    const exp = expected === undefined ? null : this.value(expected);
    return this.compare(exp, del ? null : this.value(next), del, expires);
  }

  /** compareAndSet with values already prepared (fetch.ts's leases and failure marks). */
  compareAndSetPrepared(key: Key, expected: PreparedValue | null, next: PreparedValue | null, expires: number): Pending {
    this.keys.encode(key);
    return this.compare(expected, next, next === null, expires);
  }

  /** Store a value already prepared (client/meta.ts's envelopes) with deadline `expires` (0 = never). */
  setPrepared(key: Key, data: PreparedValue, expires: number): Pending {
    this.keys.encode(key);
    return this.bytes(Op.Set, data, (s) => (check(s, 'set'), true), expires);
  }

  delete(key: Key): Pending {
    this.keys.encode(key);
    return this.bytes(Op.Delete, null, (s) => (s === Status.NotFound ? false : (check(s, 'delete'), true)));
  }

  /** Give the key a deadline (0 = never): settles to false when absent. */
  expire(key: Key, expires: number): Pending {
    this.keys.encode(key);
    return this.bytes(Op.Expire, null, (s) => (s === Status.NotFound ? false : (check(s, 'expire'), true)), expires);
  }

  clear(): Pending {
    return this.u32(Op.Clear, 0, 0, (s) => (check(s, 'clear'), undefined));
  }

  /** The server's read of the key (a contended direct read falls back to it). */
  read(key: Key): Pending {
    this.keys.encode(key);
    return this.bytes(Op.Read, null, (s, _r, win, io) => (s === Status.NotFound ? undefined : (check(s, 'get'), io.read(win))));
  }

  /**
   * A u32 key: a u32 counter (u32 delta, wraps modulo 2^32). Any other
   * key: an integer counter in the safe-integer range (as Redis INCRBY).
   */
  incr(key: Key, delta: number): Pending {
    if (typeof key === 'number') {
      checkU32('key', key);
      checkU32('delta', delta);
      return this.u32(Op.AddU32, key, delta, (s, result) => (check(s, `incr ${key}`), result), false);
    }
    if (!Number.isSafeInteger(delta)) throw new RangeError(`delta must be a safe integer, got ${String(delta)}`);
    this.keys.encode(key);
    const settle = (s: Status, _r: number, win: number, io: StagingIO): unknown => {
      if (s === Status.WrongType) throw new TypeError('incr: the value stored under the key is not an integer');
      if (s === Status.Overflow) throw new RangeError('incr: the result is past Number.MAX_SAFE_INTEGER');
      check(s, 'incr');
      return io.read(win);
    };
    const p = this.bytes(Op.AddNumber, { tag: ValueTag.F64, maxBytes: 8, num: delta, str: '', bytes: null }, settle);
    p.idempotent = false;
    return p;
  }

  /** The deadline of a write: its own ttl or expiresAt, else the default ttl (0 = never). */
  deadline(options: SetOptions | undefined): number {
    if (options?.expiresAt !== undefined) {
      const at = options.expiresAt;
      if (typeof at !== 'number' || Number.isNaN(at)) throw new RangeError(`expiresAt must be a timestamp in ms, got ${String(at)}`);
      // A timestamp already past still stores an (expired) entry: the smallest deadline.
      return at === Infinity ? 0 : monoNowMs() + Math.max(at - Date.now(), 0) || Number.MIN_VALUE;
    }
    return deadlineIn(options?.ttl === undefined ? this.defaultTtl : checkTtl(options.ttl));
  }

  private value(v: unknown): PreparedValue {
    return ownValue(this.codec.prepare(v));
  }

  private compare(expected: PreparedValue | null, next: PreparedValue | null, del: boolean, expires: number): Pending {
    const p = this.bytes(Op.CompareSet, next, (s) => (s === Status.Mismatch ? false : (check(s, 'compareAndSet'), true)), expires);
    p.expected = expected;
    p.del = del;
    p.idempotent = false;
    p.need += expected ? expected.maxBytes : 0;
    return p;
  }

  private u32(op: Op, key: number, value: number, settle: Pending['settle'], idempotent = true): Pending {
    return { op, key, value, keyBytes: null, data: null, expected: null, del: false, need: 0, expires: -1, idempotent, settle, resolve: noop, reject: noop };
  }

  /** A request on the key last encoded (its material is copied). */
  private bytes(op: Op, data: PreparedValue | null, settle: Pending['settle'], expires = -1): Pending {
    const keyBytes = Buffer.from(this.keys.bytes.subarray(0, this.keys.length));
    const need = keyBytes.length + (data ? data.maxBytes : 0);
    return { op, key: 0, value: 0, keyBytes, data, expected: null, del: false, need, expires, idempotent: true, settle, resolve: noop, reject: noop };
  }

  /** A Reserve growing a window's staging for request `p`. */
  static reserveFor(p: Pending, onFailure: (status: Status) => Error): Pending {
    const settle = (status: Status): undefined => {
      p.reserving = false;
      if (status !== Status.Ok) p.failed = onFailure(status);
      return undefined;
    };
    return { op: Op.Reserve, key: 0, value: p.need, keyBytes: null, data: null, expected: null, del: false, need: 0, expires: -1, idempotent: true, settle, resolve: noop, reject: noop, reserveFor: p };
  }
}
