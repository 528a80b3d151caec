/**
 * fetch(key, loader): the cached value, or one load per key for the whole
 * machine. lru-cache's fetch() coalesces the callers of one process; this
 * one coalesces every process attached to the server (cluster workers,
 * PM2 instances), so a cache miss costs one backend call, not one per
 * worker (a "cache stampede").
 *
 * PROTOCOL (all through the server's atomic CompareSet):
 *   1. Read the key directly. A value: done. A LEASE (ValueTag.Lease): some
 *      caller is loading: poll (backoff 1 ms .. POLL_MAX_MS, timers only,
 *      the event loop stays free). A FAILED mark: the load failed; throw
 *      its error.
 *   2. Absent: try to store our own lease (unique bytes) if the key is
 *      absent, with a LEASE_MS time to live. Refused: someone else won;
 *      go to 1.
 *   3. We hold the lease: run loader(key), renewing the lease every
 *      RENEW_MS while it runs. Then replace our lease, and only ours (a
 *      CompareSet on its bytes), by the value (with the caller's ttl), or
 *      by a FAILED mark living FAILED_MS if the loader threw, or remove it
 *      if the loader returned undefined (nothing is stored).
 * A loader whose process dies stops renewing: its lease expires within
 * LEASE_MS and the next poller takes over (step 2). Leases and marks read
 * as absent through get/has. Callers of one process share one promise.
 */
import { randomBytes } from 'node:crypto';
import { ownValue, PreparedValue } from '../codec/value';
import { Key } from '../store/keys';
import { ReadResult } from '../store/table-reader';
import { deadlineIn } from '../store/clock';
import { isFetchMark, ValueTag } from '../layout/layout';
import type { Client } from './client';
import type { SetOptions } from './requests';
import { FetchError } from '../errors';

/** Options of fetch(): the stored value's ttl (SetOptions). */
export type FetchOptions = Omit<SetOptions, 'ifAbsent'>;

/** A lease's time to live: how soon another caller takes over from a dead loader. */
export const LEASE_MS = 1000;
const RENEW_MS = LEASE_MS / 4;
/** How long waiters can still see a failed load's error. */
export const FAILED_MS = 500;
const POLL_MAX_MS = 20;


function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

function raw(tag: ValueTag, bytes: Uint8Array): PreparedValue {
  return { tag, maxBytes: bytes.length, num: 0, str: '', bytes };
}

export class Fetcher {
  /** Loads in flight in this process, by key identity. */
  private readonly inProcess = new Map<string, Promise<unknown>>();
  private leaseCount = 0;

  constructor(private readonly client: Client) {}

  fetch<V>(key: Key, loader: (key: Key) => V | Promise<V>, options?: FetchOptions): Promise<V | undefined> {
    if (typeof loader !== 'function') throw new TypeError('fetch needs a loader function');
    const id = typeof key === 'string' ? `s${key}` : typeof key === 'number' ? `n${key}` : `b${Buffer.from(key.buffer, key.byteOffset, key.length).toString('hex')}`;
    const running = this.inProcess.get(id);
    if (running) return running as Promise<V | undefined>;
    const p = this.run(key, loader, options).finally(() => this.inProcess.delete(id));
    this.inProcess.set(id, p);
    return p;
  }

  private async run<V>(key: Key, loader: (key: Key) => V | Promise<V>, options?: FetchOptions): Promise<V | undefined> {
    const client = this.client;
    for (let poll = 1; ; poll = Math.min(poll * 2, POLL_MAX_MS)) {
      const r = client.direct(key, true, true);
      if (r === ReadResult.Found) {
        const found = client.found;
        if (!isFetchMark(found.tag)) return client.codec.decode(found) as V;
        if (found.tag === ValueTag.Failed) {
          const { name, message } = JSON.parse(found.bytes!.toString('utf8')) as { name: string; message: string };
          throw new FetchError(name, message);
        }
      } else if (r === ReadResult.Absent) {
        const lease = this.newLease();
        const mine = await client.request((req) => req.compareAndSetPrepared(key, null, lease, deadlineIn(LEASE_MS)));
        if (mine) return this.load(key, loader, options, lease);
        continue; // another caller took the lease first: read it now
      }
      await sleep(poll);
    }
  }

  private async load<V>(key: Key, loader: (key: Key) => V | Promise<V>, options: FetchOptions | undefined, lease: PreparedValue): Promise<V | undefined> {
    const client = this.client;
    const renew = setInterval(() => {
      client.request((req) => req.compareAndSetPrepared(key, lease, lease, deadlineIn(LEASE_MS))).catch(() => undefined);
    }, RENEW_MS);
    try {
      let value: V;
      let prepared: PreparedValue | null = null;
      try {
        value = await loader(key);
        // A value the codec refuses fails the load like a throwing loader.
        if (value !== undefined) prepared = ownValue(client.codec.prepare(value));
      } catch (e) {
        const err = e instanceof Error ? e : new Error(String(e));
        const mark = raw(ValueTag.Failed, Buffer.from(JSON.stringify({ name: err.name, message: err.message })));
        await client.request((req) => req.compareAndSetPrepared(key, lease, mark, deadlineIn(FAILED_MS))).catch(() => undefined);
        throw e;
      }
      // Only our own lease is replaced: if it expired and another caller
      // took over, its result stands.
      await client.request((req) => req.compareAndSetPrepared(key, lease, prepared, prepared ? req.deadline(options) : 0));
      return value;
    } finally {
      clearInterval(renew);
    }
  }

  /** Lease bytes unique to this call: pid, a per-process counter, random bits. */
  private newLease(): PreparedValue {
    const b = Buffer.alloc(16);
    b.writeUInt32LE(process.pid, 0);
    b.writeUInt32LE(++this.leaseCount >>> 0, 4);
    randomBytes(8).copy(b, 8);
    return raw(ValueTag.Lease, b);
  }
}
