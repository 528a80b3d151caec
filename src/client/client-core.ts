/**
 * A client's state and its two request paths, shared by the modules that
 * make up Client (reads.ts, writes.ts, scans.ts, client.ts): the
 * connection and the session it follows, the key encoder and request
 * builder made for that session, the windows (sync, pipeline, structures),
 * the counters' stats line, the local cache, the codec and the listeners.
 *
 * FOLLOWING A NEW SERVER. Every call starts with usable(), which moves the
 * client to the connection's current session when a restart replaced it:
 * the counters move to a line of the new region, the local cache is
 * dropped (its entries were validated against another table's segment
 * versions), and keys, requests and the default ttl are made again when
 * the new server's hash seed or limits differ.
 *
 * LIFECYCLE. close() waits for the loads fetch() started, then for the
 * pipeline, then gives the windows and the stats line back; closeSync()
 * does the same at once when nothing is outstanding.
 */
import { Connection } from './connection';
import { Pipeline } from './pipeline';
import { SyncWindow } from './sync-window';
import { Pending, RequestBuilder } from './requests';
import { statusError } from './checks';
import { readStats } from './stats';
import { Events } from './events';
import { clientValues } from './structures';
import { LocalCache, LocalCacheOptions } from './local-cache';
import type { ClientOptions, ClientSettings } from './client-options';
import { rejecting } from './promises';
import { ValueCodec } from '../codec/value';
import { Encoding } from '../codec/structured';
import { KeyEncoder } from '../store/keys';
import { ClientStat } from '../layout/client-stats-area';
import { ClientStats } from '../transport/client-stats';
import type { Session } from './session';

export class ClientCore {
  readonly conn: Connection;
  readonly sync: SyncWindow;
  /** The window that adds shared record structures (structures.ts). */
  private readonly structuresWindow: SyncWindow;
  readonly pipeline: Pipeline;
  keyEnc: KeyEncoder;
  req: RequestBuilder;
  /** The session keyEnc and req were made for (a new server has its own seed and limits). */
  made: Session;
  private readonly ttlOption: number | undefined;
  /** This process's listeners (events.ts): `on`/`off`. */
  readonly events: Events;
  /** This client's counters (ClientStat), published in the region's client stats line it claimed. */
  counters: Float64Array;
  private statsLine: number;
  clientStats: ClientStats;
  /** The local cache of decoded values (connect({ localCache })), or null. */
  cache: LocalCache | null;
  private readonly cacheOptions: LocalCacheOptions | true | null;
  readonly codec: ValueCodec;
  readonly encoding: Encoding;
  closed = false;
  closing: Promise<void> | null = null;

  constructor(options: ClientOptions, settings: ClientSettings) {
    const width = settings.window;
    this.encoding = settings.encoding;
    this.ttlOption = settings.ttl;
    this.cacheOptions = settings.localCache;
    this.conn = Connection.open(options);
    const session = this.conn.current;
    this.made = session;
    const reader = session.reader;
    this.cache = this.cacheOptions === null ? null : new LocalCache(this.cacheOptions, reader, () => this.conn.beat);
    this.keyEnc = new KeyEncoder(reader.maxKeyBytes, reader.seed);
    // Windows: the synchronous calls', the pipeline's, and one for adding shared record structures (structures.ts).
    const first = session.reserve(2 + width);
    const values = clientValues(this.conn, session, this.encoding, first + 1 + width);
    this.codec = values.codec;
    this.structuresWindow = values.window;
    this.req = new RequestBuilder(this.keyEnc, this.codec, this.ttlOption ?? reader.defaultTtlMs);
    this.sync = new SyncWindow(this.conn, session, first, this.codec);
    this.pipeline = new Pipeline(this.conn, session, first + 1, width, this.codec, (s) => statusError(s, 'staging for a request'));
    this.events = new Events(() => {
      const s = readStats(this.conn, 0, 0);
      return { expirations: s.expirations, evictions: s.evictions };
    });
    this.clientStats = new ClientStats(this.conn.region.sab, this.conn.region.layout.clientStatsOffset);
    const claimed = this.clientStats.claim(process.pid);
    this.counters = claimed.counters;
    this.statsLine = claimed.line;
  }

  get maxKeyBytes(): number {
    return this.conn.reader.maxKeyBytes;
  }

  get maxValueBytes(): number {
    return this.conn.reader.maxValueBytes;
  }

  count(stat: ClientStat): void {
    this.counters[stat]++;
  }

  /** Throws if the client is closed or its pipeline failed; follows a new server. */
  usable(): void {
    if (this.closed) throw new Error('the client is closed');
    if (this.pipeline.failure) throw this.pipeline.failure;
    if (this.conn.current !== this.made) this.follow();
  }

  /** Keys, values and default ttl as the current server wants them (its seed, limits, --ttl). */
  follow(): void {
    const cur = this.conn.current;
    if (cur === this.made) return;
    const a = this.made.reader;
    const b = cur.reader;
    this.made = cur;
    // The counters move to a line of the new server's region, their counts with them.
    const stats = new ClientStats(cur.region.sab, cur.region.layout.clientStatsOffset);
    const claimed = stats.claim(process.pid);
    claimed.counters.set(this.counters);
    this.clientStats.release(this.statsLine);
    this.clientStats = stats;
    this.counters = claimed.counters;
    this.statsLine = claimed.line;
    // Cached values were validated by another table's segment versions: none survives a move.
    if (this.cacheOptions !== null) this.cache = new LocalCache(this.cacheOptions, b, () => this.conn.beat);
    if (a.seed === b.seed && a.maxKeyBytes === b.maxKeyBytes && a.maxValueBytes === b.maxValueBytes && a.defaultTtlMs === b.defaultTtlMs) return;
    this.keyEnc = new KeyEncoder(b.maxKeyBytes, b.seed);
    this.req = new RequestBuilder(this.keyEnc, this.codec, this.ttlOption ?? b.defaultTtlMs);
  }

  // ---- the two request paths: the sync window, the promise pipeline ------------------

  runSync(p: Pending): unknown {
    this.usable();
    return this.sync.run(p);
  }

  enqueue(p: Pending): Promise<unknown> {
    this.usable();
    return new Promise((resolve, reject) => {
      p.resolve = resolve;
      p.reject = reject;
      this.pipeline.add(p);
      this.pipeline.pump();
    });
  }

  /** One promise for a whole batch: every result in order, or the first failure. */
  enqueueBatch(reqs: Pending[]): Promise<unknown[]> {
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

  /** Run a request built by the caller (fetch's leases, tokens) through the pipeline. */
  request(build: (req: RequestBuilder) => Pending): Promise<unknown> {
    return rejecting(() => {
      this.usable();
      return this.enqueue(build(this.req));
    });
  }

  /** request(), blocking (the sync window). */
  requestSync(build: (req: RequestBuilder) => Pending): unknown {
    return this.runSync(build(this.req));
  }

  // ---- lifecycle ---------------------------------------------------------------------

  /** close(): `idle` resolves once the loads this client started have ended. */
  close(idle: () => Promise<void>): Promise<void> {
    if (this.closing) return this.closing;
    this.events.stop();
    this.cache?.clear();
    this.closing = (async () => {
      // Loads that went on after their caller had an answer still store their value.
      await idle();
      this.closed = true;
      await this.pipeline.close();
      this.release();
    })();
    return this.closing;
  }

  closeSync(): void {
    if (this.closed) return;
    const n = this.pipeline.pending;
    if (n > 0) throw new Error(`closeSync(): ${n} promise request(s) still outstanding; await close() instead`);
    this.closed = true;
    this.events.stop();
    this.cache?.clear();
    // Nothing outstanding: the notifier touches no window any more.
    this.pipeline.closeIdle();
    this.release();
    this.closing = Promise.resolve();
  }

  /** The windows and the stats line go back (the pipeline's already went). */
  private release(): void {
    this.sync.close();
    this.structuresWindow.close();
    this.conn.close();
    this.clientStats.release(this.statsLine);
  }
}
