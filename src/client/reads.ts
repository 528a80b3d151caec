/**
 * Reads straight from the shared table (table-reader.ts): no server
 * thread, no hand-off, linearizable. Only when writers keep a segment busy
 * for hundreds of attempts does a read fall back to asking the server
 * (a Contended answer, then a read request).
 *
 * A direct read is judged: fetch()'s leases, placeholders and failure
 * marks read as absent; an envelope (meta.ts: tags, namespaces, grace) is
 * judged by entries.ts, FOUND_META when fresh, FOUND_STALE when past its
 * freshness and the caller allows stale values, else INVALID_META (a
 * miss). Hits and misses are counted and reported (events) here, once per
 * read; peekRaw() and peek() count, report and judge nothing (the reads
 * of leases and tokens that the protocols above are built from).
 */
import { Enveloped } from '../codec/value';
import { Key } from '../store/keys';
import { ReadResult, TableReader } from '../store/table-reader';
import { monoNowMs } from '../store/clock';
import { ClientStat } from '../layout/client-stats-area';
import { isFetchMark, ValueTag } from '../layout/keys-values';
import { TableCorruptError } from '../errors';
import type { ClientCore } from './client-core';
import type { GetOptions } from './client-options';
import { Entries, Judged } from './entries';
import { FOUND_META, FOUND_STALE, INVALID_META } from './fetch-host';
import { MISS } from './local-cache';
import { NamespacedKey } from './reserved';
import { rejecting, settled } from './promises';

export class TableReads {
  /** Tagged, namespaced and graced entries (entries.ts): tokens, and the envelope judged last. */
  readonly envelopes: Entries;

  constructor(private readonly core: ClientCore) {
    this.envelopes = new Entries({
      codec: core.codec,
      get maxValueBytes() {
        return core.maxValueBytes;
      },
      peek: (key) => this.peek(key),
      request: (build) => core.request(build),
      requestSync: (build) => core.requestSync(build),
    });
  }

  getSync(key: Key, options?: GetOptions): unknown {
    const core = this.core;
    const allowStale = options !== undefined && options.allowStale === true;
    if (core.cache !== null && !allowStale) return this.cachedGet(key, true);
    const r = this.direct(key, true, allowStale);
    if (r === ReadResult.Found) return core.codec.decode(core.conn.reader);
    if (r === ReadResult.Absent) return undefined;
    if (r === ReadResult.Contended) return this.opened(core.runSync(core.req.read(key)), options);
    return this.openedLast(r);
  }

  get(key: Key, options?: GetOptions): Promise<unknown> {
    return rejecting(() => {
      const core = this.core;
      const allowStale = options !== undefined && options.allowStale === true;
      if (core.cache !== null && !allowStale) return settled(() => this.cachedGet(key, false));
      const r = this.direct(key, true, allowStale);
      if (r === ReadResult.Found) return settled(() => core.codec.decode(core.conn.reader));
      if (r === ReadResult.Absent) return Promise.resolve(undefined);
      if (r === ReadResult.Contended) return core.enqueue(core.req.read(key)).then((v) => this.opened(v, options));
      return settled(() => this.openedLast(r));
    });
  }

  /**
   * A get through the local cache (local-cache.ts); `sync`: a contended
   * read blocks, else a promise. Plain values only: an envelope (tags,
   * namespaces, grace) is judged at every read (a tag's token lives under
   * another key, whose change no cached entry would see), never cached.
   */
  private cachedGet(key: Key, sync: boolean): unknown {
    const core = this.core;
    core.usable();
    core.conn.checkLive();
    if (core.conn.current !== core.made) core.follow();
    const cache = core.cache!;
    const v = cache.lookup(key);
    if (v !== MISS) {
      core.counters[v === undefined ? ClientStat.Misses : ClientStat.Hits]++;
      if (core.events.listening) this.emitRead(key, v === undefined ? ReadResult.Absent : ReadResult.Found);
      return v;
    }
    const r = this.direct(key, true);
    if (r === ReadResult.Found) return cache.fill(key, () => core.codec.decode(core.conn.reader));
    cache.drop(key);
    if (r === ReadResult.Absent) return undefined;
    if (r !== ReadResult.Contended) return this.openedLast(r);
    return sync ? this.opened(core.runSync(core.req.read(key)), undefined) : core.enqueue(core.req.read(key)).then((x) => this.opened(x, undefined));
  }

  /** Remaining time to live of `key` in ms (Client.ttlSync). */
  ttlSync(key: Key): number | undefined {
    const r = this.direct(key, true);
    if (r === ReadResult.Absent || r === INVALID_META) return undefined;
    if (r === ReadResult.Contended) return this.getSync(key) === undefined ? undefined : this.ttlSync(key);
    const at = r === FOUND_META && this.envelopes.last!.freshUntil !== 0 ? this.envelopes.last!.freshUntil : this.core.conn.reader.expires;
    // Whole ms, rounded up (Redis's PTTL is whole ms too): a live key never reports 0.
    return at === 0 ? Infinity : Math.max(0, Math.ceil(at - monoNowMs()));
  }

  /**
   * The direct read of `key`, counted (a hit or a miss) and reported
   * (events): Found puts the value in reader; an envelope (meta.ts) is
   * judged: FOUND_META (fresh) or FOUND_STALE (allowStale) put it in
   * entries.last, INVALID_META is a miss (a token changed, or stale).
   */
  direct(key: Key, copyBytes: boolean, allowStale = false): number {
    const core = this.core;
    core.usable();
    core.conn.checkLive();
    if (core.conn.current !== core.made) core.follow();
    const enc = core.keyEnc;
    enc.encode(key);
    const reader = core.conn.reader;
    let r: number = reader.read(enc.bytes, enc.length, enc.hash, copyBytes);
    if (r === ReadResult.Corrupt) throw new TableCorruptError('a direct read found a stable segment that makes no sense');
    // fetch()'s leases and failure marks are not values; an envelope is judged.
    if (r === ReadResult.Found && (reader.tag === ValueTag.Meta || isFetchMark(reader.tag))) r = reader.tag === ValueTag.Meta ? this.judge(reader.bytes!, allowStale) : ReadResult.Absent;
    if (r === ReadResult.Found || r === FOUND_META || r === FOUND_STALE) core.counters[ClientStat.Hits]++;
    else if (r === ReadResult.Absent || r === INVALID_META) core.counters[ClientStat.Misses]++;
    if (core.events.listening) this.emitRead(key, r);
    return r;
  }

  private judge(bytes: Buffer, allowStale: boolean): number {
    const j = this.envelopes.judge(bytes);
    if (j === Judged.Fresh) return FOUND_META;
    return j === Judged.Stale && allowStale ? FOUND_STALE : INVALID_META;
  }

  /** A server read's answer, opened when it is an envelope. */
  private opened(v: unknown, options: GetOptions | undefined): unknown {
    if (!(v instanceof Enveloped)) return v;
    const r = this.judge(v.bytes, options !== undefined && options.allowStale === true);
    return this.openedLast(r);
  }

  /** The value of the envelope judged last (r: its verdict), counting a stale one served. */
  private openedLast(r: number): unknown {
    if (r === INVALID_META) return undefined;
    if (r === FOUND_STALE) this.core.counters[ClientStat.StaleServed]++;
    return this.core.codec.decode(this.envelopes.last!.raw);
  }

  // Events are built as plain literals, one shape each: a spread such as
  // { ...ns, stale } cost ~900 ns of CPU per read with a listener
  // (bench/tools/events-ab.ts, docs/PERFORMANCE.md), several times the read.
  private emitRead(key: Key, r: number): void {
    const hit = r === ReadResult.Found || r === FOUND_META || r === FOUND_STALE;
    if (!hit && r !== ReadResult.Absent && r !== INVALID_META) return;
    const ev = this.core.events;
    if (key instanceof NamespacedKey) {
      if (hit) ev.emit('hit', { key: key.userKey, namespace: key.namespace, stale: r === FOUND_STALE });
      else ev.emit('miss', { key: key.userKey, namespace: key.namespace });
    } else if (hit) ev.emit('hit', { key, stale: r === FOUND_STALE });
    else ev.emit('miss', { key });
  }

  /**
   * A direct read that counts nothing, reports nothing and judges nothing
   * (fetch's leases, tag tokens): Found leaves the entry in `found`.
   */
  peekRaw(key: Key): ReadResult {
    const core = this.core;
    core.usable();
    const enc = core.keyEnc;
    enc.encode(key);
    const r = core.conn.reader.read(enc.bytes, enc.length, enc.hash, true);
    if (r === ReadResult.Corrupt) throw new TableCorruptError('a direct read found a stable segment that makes no sense');
    return r;
  }

  /** The last direct read's entry (after direct() or peekRaw() returned Found). */
  get found(): TableReader {
    return this.core.conn.reader;
  }

  /** The value under `key` by peekRaw (a contended read asks the server); leases and envelopes read as absent. */
  peek(key: Key): unknown {
    const core = this.core;
    const r = this.peekRaw(key);
    if (r === ReadResult.Found) return core.conn.reader.tag === ValueTag.Meta || isFetchMark(core.conn.reader.tag) ? undefined : core.codec.decode(core.conn.reader);
    if (r === ReadResult.Absent) return undefined;
    const v = core.runSync(core.req.read(key));
    return v instanceof Enveloped ? undefined : v;
  }

  /** Whether `key` holds a fresh value (envelopes judged), counting and reporting nothing. */
  liveSync(key: Key): boolean {
    const core = this.core;
    const r = this.peekRaw(key);
    const reader = core.conn.reader;
    if (r === ReadResult.Found) return reader.tag === ValueTag.Meta ? this.envelopes.judge(reader.bytes!) === Judged.Fresh : !isFetchMark(reader.tag);
    if (r === ReadResult.Absent) return false;
    return this.opened(core.runSync(core.req.read(key)), undefined) !== undefined;
  }
}
