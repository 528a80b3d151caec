/**
 * fetch(key, loader, options): the cached value, or one load per key for
 * the whole machine. lru-cache's fetch() coalesces the callers of one
 * process; this one coalesces every process attached to the server
 * (cluster workers, PM2 instances), so a cache miss costs one backend
 * call, not one per worker (a "cache stampede"). With `grace`, a value
 * stays past its ttl, stale, to be served when the loader fails or is
 * slow while ONE load for the machine refreshes it; `earlyRefresh` reloads
 * a value in the background before it expires.
 *
 * PROTOCOL. Two keys: the value's own key K, and its lease key L
 * (reserved.ts: 0xFF 'L' + K's material), apart so that a stale value
 * stays readable in K while one loader reloads it. Every write is the
 * server's atomic CompareSet.
 *   1. Read K. Fresh: done (early refresh, below, may start).
 *   2. Read L, THEN K again. (A loader stores its value before it drops
 *      its lease, so a caller that finds no lease and then no value cannot
 *      have missed a finished load.)
 *      - a fresh value: done;
 *      - a lease: another caller loads. Poll (backoff 1 ms .. POLL_MAX_MS,
 *        timers only, the event loop stays free), serving the stale value
 *        once the soft timeout has passed, failing at the hard timeout;
 *      - a FAILED mark (the last load threw, FAILED_MS ago at most): the
 *        stale value if there is one, else the load's error;
 *      - no lease: store our own lease in L (unique bytes, LEASE_MS to
 *        live) if L is absent. Refused: someone else won, go to 2. Won:
 *        read K once more (a value that turned fresh meanwhile: drop L,
 *        done), and fix the load's ANCHOR in K (below). Could not: drop L,
 *        go to 2.
 *   3. Run loader(key), renewing L (and a placeholder anchor) every
 *      RENEW_MS. Store its value by CompareSet(K, anchor -> value), then
 *      drop L (CompareSet on our own lease bytes). A loader that throws
 *      replaces L by a FAILED mark (its error's name and message); one that
 *      returns undefined stores nothing; both remove a placeholder.
 * A loader whose process dies stops renewing: its lease (and placeholder)
 * expire within LEASE_MS and the next poller takes over (step 2). Callers
 * of one process share one promise per key (with the first caller's
 * options).
 *
 * THE ANCHOR: why a set or delete during a load always wins. The anchor
 * is what K holds when the loader starts: the value the load replaces if
 * K holds one (stale, invalidated by a tag, or fresh under forceRefresh),
 * else a PLACEHOLDER the loader puts there itself by CompareSet over
 * absence (or over a dead loader's placeholder): its lease bytes under
 * ValueTag.Lease, which every read takes as absent (get, has, ttl, scans;
 * a delete of it answers false).
 *   Claim: a write of K (set, delete, clear, eviction, expiry) that the
 * server applies after the anchor was placed makes the loader's
 * CompareSet fail, or undoes what it stored if it ran first. So a set or
 * delete that lands during a load is never overwritten by the load.
 *   Why: the CompareSet runs under K's segment lock and stores only if K
 * holds the anchor's exact tag and bytes. Case by case, for a write w of
 * K applied after the anchor X was placed: (a) the CompareSet ran before
 * w: w replaces or removes the stored value, as any later write does;
 * (b) it runs after w: w removed X (a set replaces it, a delete, clear or
 * eviction removes it, expiry makes it absent to the server), and X never
 * comes back: a placeholder's bytes are unique (pid, a per-process count,
 * 64 random bits) and only its loader writes them, before w; an envelope
 * carries its bornAt at nanosecond resolution. The CompareSet finds
 * something other than X, and stores nothing. The one exception is a
 * plain value anchor (forceRefresh over a fresh plain value): a set of the
 * very same bytes during the load counts as no change.
 *   An anchor must be an entry, not an absence: a delete of an absent key
 * changes nothing a CompareSet over absence can see, and an invalidation
 * (shmkv/tiered: SET in Redis, then delete in every L1) that reached a
 * load of an absent key mid-flight let the load keep the older value it
 * had read before the SET. With the placeholder, the load's read of Redis
 * starts after the anchor is placed; a SET the read missed ran before the
 * read ended, its invalidation is applied after the anchor was placed,
 * and the older value is gone from K once the invalidation is applied
 * (case a) or never stored (case b).
 *   Cost and conservatism: loading an absent key takes one more request
 * (the placeholder) and one more renewal every RENEW_MS. Losing the
 * anchor for any other reason (evicted, cleared, or a loader paused past
 * LEASE_MS so that its placeholder expired) only makes the store fail:
 * the callers still get the loaded value, and the next fetch loads again.
 *
 * RESTARTS (the operations: fetch-lease.ts). A CompareSet that a server took and then died holding rejects
 * with OutcomeUnknownError (sync-window.ts, pipeline.ts). Lease bytes are
 * unique, so taking a lease or placing a placeholder is settled by reading
 * the key back (it holds our bytes or not), and every other CompareSet here
 * (on our lease, our placeholder, or the anchor) is sent again: one that did run the
 * first time fails harmlessly the second, its expected bytes being gone.
 *
 * TIMEOUTS. `timeout.soft` (ms, default 0 when grace is on, as
 * Bentocache's `timeout`): how long a caller that has a stale value waits
 * for the load before it takes the stale value; the load goes on in the
 * background and stores its value. `timeout.hard` (ms, default none, as
 * Bentocache's `hardTimeout`): a caller with nothing to serve rejects with
 * FetchTimeoutError; the load still goes on.
 *
 * EARLY REFRESH. `earlyRefresh: f` in (0, 1): a fetch that finds a value
 * past fraction f of its fresh life (ttl) returns it at once and, if it
 * can take the lease, reloads it in the background (anchored on that
 * value). One loader for the machine (the lease), and no caller ever waits
 * on it.
 */
import { PreparedValue, ownValue } from '../codec/value';
import { Key, ReservedKey } from '../store/keys';
import { ReadResult } from '../store/table-reader';
import { deadlineIn, monoNowMs } from '../store/clock';
import { ClientStat } from '../layout/client-stats-area';
import { ValueTag } from '../layout/keys-values';
import type { FetchHost } from './fetch-host';
import { FOUND_META, FOUND_STALE, INVALID_META } from './fetch-host';
import { MaterialEncoder, NamespacedKey } from './reserved';
import type { TokenRef } from './meta';
import { asPrepared, FetchOptions, keyId, raw, Resolved, resolve } from './fetch-options';
import { Leases, LEASE_MS } from './fetch-lease';
import { FetchError, FetchTimeoutError } from '../errors';

export { FetchOptions } from './fetch-options';

/** How often a live loader renews its lease (and placeholder): a request per loading key every 250 ms. */
const RENEW_MS = 250;
/** How long waiters can still see a failed load's error (and serve stale instead of loading again). */
export const FAILED_MS = 500;
const POLL_MAX_MS = 20;

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, Math.max(ms, 0)));
}

/** What a read of the value found. */
interface Seen {
  state: 'fresh' | 'stale' | 'absent';
  value: unknown;
  /** The entry as a CompareSet expects it (null: absent). */
  expected: PreparedValue | null;
  bornAt: number;
  freshUntil: number;
}

export class Fetcher {
  /** Loads in flight in this process, by key identity. */
  private readonly inProcess = new Map<string, Promise<unknown>>();
  /** Early refreshes this process is trying or running, by key identity. */
  private readonly refreshing = new Set<string>();
  /** Loads this process runs (their callers may have gone: a soft timeout, early refresh). */
  private readonly jobs = new Set<Promise<unknown>>();
  private readonly mat: MaterialEncoder;
  /** Operations on lease keys and placeholders (fetch-lease.ts). */
  private readonly leases: Leases;

  /** Resolves once every load this process started has ended (close() waits for it). */
  async idle(): Promise<void> {
    while (this.jobs.size > 0) await Promise.allSettled([...this.jobs]);
  }

  constructor(private readonly host: FetchHost) {
    this.mat = new MaterialEncoder(host.maxKeyBytes);
    this.leases = new Leases(host);
  }

  /** `implicit`: token keys every stored value carries (a namespace's). */
  fetch<V>(key: Key, loader: (key: Key) => V | Promise<V>, options?: FetchOptions, implicit: ReservedKey[] = []): Promise<V | undefined> {
    if (typeof loader !== 'function') throw new TypeError('fetch needs a loader function');
    const o = resolve(options, implicit);
    const id = keyId(key);
    const running = this.inProcess.get(id);
    if (running) return running as Promise<V | undefined>;
    const p = this.run(key, loader, o).finally(() => this.inProcess.delete(id));
    this.inProcess.set(id, p);
    return p;
  }

  private async run<V>(key: Key, loader: (key: Key) => V | Promise<V>, o: Resolved): Promise<V | undefined> {
    const started = monoNowMs();
    const seen = this.read(key);
    if (seen.state === 'fresh' && !o.force) {
      if (o.early > 0) this.maybeRefresh(key, loader, o, seen);
      this.done(key, 'cache', started);
      return seen.value as V;
    }
    const lk = this.mat.lease(key);
    let stale: Seen | null = seen.state === 'stale' && o.grace > 0 ? seen : null;
    let sawLease = false;
    for (let poll = 1; ; poll = Math.min(poll * 2, POLL_MAX_MS)) {
      const lease = this.leases.state(lk);
      const e = this.read(key);
      if (e.state === 'fresh' && (!o.force || sawLease)) {
        this.done(key, sawLease ? 'wait' : 'cache', started);
        return e.value as V;
      }
      if (e.state === 'stale' && o.grace > 0) stale = e;
      if (lease === null) {
        const mine = this.leases.newLease();
        if (!(await this.leases.take(lk, mine))) continue; // another caller took the lease first: read it now
        const now = this.read(key);
        if (now.state === 'fresh' && !o.force) {
          this.leases.drop(lk, mine);
          this.done(key, 'wait', started);
          return now.value as V;
        }
        if (now.state === 'stale' && o.grace > 0) stale = now;
        let anchor = now.expected;
        if (anchor === null && (anchor = await this.leases.placeholder(key, mine)) === null) {
          // K changed between our read and the placeholder (a set): read it again.
          await this.leases.drop(lk, mine);
          await sleep(poll);
          continue;
        }
        const job = this.load(key, lk, mine, loader, o, anchor);
        return this.outcome(key, job, stale, o, started);
      }
      if (lease instanceof FetchError) {
        if (stale) return this.serveStale(key, stale, 'failed', started) as V;
        throw lease;
      }
      sawLease = true;
      const elapsed = monoNowMs() - started;
      if (stale && elapsed >= o.soft) {
        if (o.soft > 0) this.count(ClientStat.SoftTimeouts);
        return this.serveStale(key, stale, o.soft > 0 ? 'timeout' : 'refreshing', started) as V;
      }
      if (!stale && elapsed >= o.hard) {
        this.count(ClientStat.HardTimeouts);
        throw new FetchTimeoutError(o.hard);
      }
      await sleep(Math.min(poll, (stale ? o.soft : o.hard) - elapsed));
    }
  }

  /** What a caller gets from a load this process runs: its value, the stale value (soft timeout, failure), or a timeout. */
  private outcome<V>(key: Key, job: Promise<V | undefined>, stale: Seen | null, o: Resolved, started: number): Promise<V | undefined> {
    const limit = stale ? o.soft : o.hard;
    return new Promise<V | undefined>((resolveP, rejectP) => {
      let settled = false;
      const timer =
        limit === Infinity
          ? null
          : setTimeout(() => {
              if (settled) return;
              settled = true;
              this.background(key, job);
              if (stale) {
                if (o.soft > 0) this.count(ClientStat.SoftTimeouts);
                resolveP(this.serveStale(key, stale, o.soft > 0 ? 'timeout' : 'refreshing', started) as V);
              } else {
                this.count(ClientStat.HardTimeouts);
                rejectP(new FetchTimeoutError(o.hard));
              }
            }, Math.max(0, limit - (monoNowMs() - started)));
      job.then(
        (v) => {
          if (settled) return;
          settled = true;
          if (timer) clearTimeout(timer);
          this.done(key, 'load', started);
          resolveP(v);
        },
        (e) => {
          if (settled) return;
          settled = true;
          if (timer) clearTimeout(timer);
          if (stale) resolveP(this.serveStale(key, stale, 'failed', started) as V);
          else rejectP(e);
        },
      );
    });
  }

  /** Run the loader under lease `mine` on `lk` and store its value over `anchor` (THE ANCHOR, above). */
  private load<V>(key: Key, lk: ReservedKey, mine: PreparedValue, loader: (key: Key) => V | Promise<V>, o: Resolved, anchor: PreparedValue): Promise<V | undefined> {
    const job = this.loadOnce(key, lk, mine, loader, o, anchor);
    const tracked = job.catch(() => undefined).finally(() => this.jobs.delete(tracked));
    this.jobs.add(tracked);
    return job;
  }

  private async loadOnce<V>(key: Key, lk: ReservedKey, mine: PreparedValue, loader: (key: Key) => V | Promise<V>, o: Resolved, anchor: PreparedValue): Promise<V | undefined> {
    const host = this.host;
    const placed = anchor === mine;
    this.count(ClientStat.Loads);
    const renew = setInterval(() => {
      this.leases.again((req) => req.compareAndSetPrepared(lk, mine, mine, deadlineIn(LEASE_MS))).catch(() => undefined);
      if (placed) this.leases.again((req) => req.compareAndSetPrepared(key, mine, mine, deadlineIn(LEASE_MS))).catch(() => undefined);
    }, RENEW_MS);
    // Our placeholder goes (only ours: a write that replaced it stays).
    const unplace = (): Promise<unknown> => (placed ? this.leases.again((req) => req.compareAndSetPrepared(key, mine, null, 0)).catch(() => undefined) : Promise.resolve());
    try {
      let value: V;
      let inner: PreparedValue | null = null;
      let tokens: TokenRef[] = [];
      try {
        value = await loader(key);
        // A value the codec refuses fails the load like a throwing loader.
        if (value !== undefined) {
          inner = ownValue(host.codec.prepare(value));
          if (o.envelope) tokens = await host.envelopes.tokens(o.tokenKeys);
        }
      } catch (e) {
        this.count(ClientStat.LoadFailures);
        const err = e instanceof Error ? e : new Error(String(e));
        const mark = raw(ValueTag.Failed, Buffer.from(JSON.stringify({ name: err.name, message: err.message })));
        await this.leases.again((req) => req.compareAndSetPrepared(lk, mine, mark, deadlineIn(FAILED_MS))).catch(() => undefined);
        await unplace();
        throw e;
      }
      // Only over the anchor: a set or delete during the load wins.
      if (inner)
        await this.leases.again((req) => {
          const s = o.envelope ? host.envelopes.wrap(req, inner!, o.set, tokens) : { data: inner!, expires: req.deadline(o.set) };
          return req.compareAndSetPrepared(key, anchor, s.data, s.expires);
        });
      else await unplace();
      await this.leases.drop(lk, mine);
      return value;
    } finally {
      clearInterval(renew);
    }
  }

  /** Early refresh: past fraction `early` of its fresh life, reload in the background if the lease is free. */
  private maybeRefresh<V>(key: Key, loader: (key: Key) => V | Promise<V>, o: Resolved, seen: Seen): void {
    if (seen.freshUntil === 0) return;
    const now = monoNowMs();
    if (now - seen.bornAt < o.early * (seen.freshUntil - seen.bornAt)) return;
    const id = keyId(key);
    if (this.refreshing.has(id)) return;
    this.refreshing.add(id);
    const lk = this.mat.lease(key);
    const go = async (): Promise<void> => {
      if (this.leases.state(lk) !== null) return;
      const mine = this.leases.newLease();
      if (!(await this.leases.take(lk, mine))) return;
      const again = this.read(key);
      if (again.state !== 'fresh' || again.bornAt !== seen.bornAt) {
        await this.leases.drop(lk, mine); // someone refreshed it meanwhile
        return;
      }
      await this.background(key, this.load(key, lk, mine, loader, o, again.expected!));
    };
    go()
      .catch(() => undefined)
      .finally(() => this.refreshing.delete(id));
  }

  /** Let `job` finish in the background: count it, report it, never reject. */
  private background(key: Key, job: Promise<unknown>): Promise<void> {
    this.count(ClientStat.Refreshes);
    return job.then(
      () => this.emit('refresh', { key, ok: true }),
      (e: unknown) => this.emit('refresh', { key, ok: false, error: e instanceof Error ? e : new Error(String(e)) }),
    );
  }

  private serveStale(key: Key, stale: Seen, reason: 'failed' | 'timeout' | 'refreshing', started: number): unknown {
    this.count(ClientStat.StaleServed);
    this.emit('stale', { key, reason });
    this.done(key, 'stale', started);
    return stale.value;
  }

  /** The value's state, by a judged direct read (stale values included). */
  private read(key: Key): Seen {
    const host = this.host;
    const r = host.direct(key, true, true);
    const entries = host.envelopes;
    if (r === ReadResult.Found) {
      const f = host.found;
      return { state: 'fresh', value: host.codec.decode(f), expected: asPrepared(f), bornAt: 0, freshUntil: 0 };
    }
    if (r === FOUND_META || r === FOUND_STALE) {
      const o = entries.last!;
      const expected = raw(ValueTag.Meta, entries.lastBytes!);
      return { state: r === FOUND_META ? 'fresh' : 'stale', value: host.codec.decode(o.raw), expected, bornAt: o.bornAt, freshUntil: o.freshUntil };
    }
    if (r === ReadResult.Contended) return { state: 'absent', value: undefined, expected: null, bornAt: -1, freshUntil: 0 };
    // An envelope that a token invalidated is absent, but it is what a load must replace.
    return { state: 'absent', value: undefined, expected: r === INVALID_META ? raw(ValueTag.Meta, entries.lastBytes!) : null, bornAt: 0, freshUntil: 0 };
  }

  private count(stat: ClientStat): void {
    this.host.count(stat);
  }

  private done(key: Key, source: 'cache' | 'load' | 'wait' | 'stale', started: number): void {
    if (this.host.events.listening) this.emit('fetch', { key, source, ms: monoNowMs() - started });
  }

  private emit(name: 'fetch' | 'stale' | 'refresh', e: { key: Key; [k: string]: unknown }): void {
    const ev = this.host.events;
    if (!ev.listening) return;
    const k = e.key;
    const out = k instanceof NamespacedKey ? { ...e, key: k.userKey, namespace: k.namespace } : e;
    ev.emit(name, out as never);
  }
}
