/**
 * The server process's main thread: takes the region path, opens the cache
 * (adopting the previous server's table: cache-files.ts), starts the worker
 * threads (workers.ts), keeps the heartbeat, reaps dead clients' windows,
 * puts back forged words (guard.ts), sweeps expired entries, writes
 * snapshots (snapshots.ts) and runs the orderly shutdown. It never touches
 * a request itself. Its options: server-options.ts.
 *
 * It never blocks on anything a client can hold or write (see the trust
 * model in docs/ARCHITECTURE.md): the reaper's steps are CAS that succeed
 * or wait for the next tick, the ring audit only reads, the guard only
 * tries segment locks, and a proven ring corruption stops the server with
 * one line instead of leaving clients to hang.
 *
 * FILES (region-files.ts, layout/data-file.ts). The server owns the region
 * file and its lock file at the path, and the cache's data and exchange
 * files in the data directory. A stop keeps the region (state STOPPED) and
 * the data file: they are the cache, which the next server on the path
 * adopts. `temporary` servers (./client -f, tests) remove everything.
 */
import { RingAudit } from './ring-audit';
import { DEFAULT_WAIT_POLICY } from '../sync/waiter';
import { Region, resolveRegionPath } from '../layout/region';
import { WINDOW_BYTES } from '../layout/board';
import { DEFAULT_RING_CAPACITY, DEFAULT_WINDOW_COUNT } from '../layout/region-file';
import { HDR_HEARTBEAT, HDR_SERVER_PID, HDR_SERVER_STATE, HEARTBEAT_MS, ServerState } from '../layout/region-header';
import { CONTROL_STOP, CONTROL_WORDS } from '../layout/server-private';
import { Ring } from '../transport/ring';
import { Owners } from '../transport/owners';
import { Board } from '../transport/window';
import { Table } from '../store/table';
import { tableGeometry, TableOptions } from '../store/table-format';
import { defaultDataDir, removeCacheFiles, removeRegularFile, unlockDataFile } from '../layout/data-file';
import { Staging } from './staging';
import { Reaper } from './reaper';
import { IdleWorkers } from './idle';
import { Guard } from './guard';
import { OpenCache, openCache } from './cache-files';
import { FileId, idOfPath, lockServer, refuseForeignFile, unlinkIfOurs, unlockServer } from './region-files';
import { startWorkers } from './workers';
import { loadSnapshot, refuseSnapshotPath, Snapshots } from './snapshots';
import { DEFAULT_MAX_TABLE_BYTES, type ServerOptions } from './server-options';
import { logLine } from './log';
import { ServerError, TableCorruptError } from '../errors';
import type { SnapshotStats } from '../store/snapshot';
import * as fs from 'node:fs';
import type { Adoption } from '../store/recovery';
import { MetricsFolder, prometheusText } from './metrics';
import { startMetricsServer } from './metrics-http';
import type { Server as HttpServer } from 'node:http';

/** Index slots the expiry sweeper visits per heartbeat tick. */
const SWEEP_SLOTS_PER_TICK = 20_000;
/** Queue items the eviction policy's compaction judges per heartbeat tick (each a segment lock and a probe). */
const TIDY_ITEMS_PER_TICK = 20_000;

export class Server {
  private stopping: Promise<void> | null = null;
  private timer: NodeJS.Timeout | null = null;
  private readonly exited: Promise<void>[] = [];
  /** Set when the server stops because of a corruption it cannot serve through. */
  private fatal: Error | null = null;
  private readonly audit: RingAudit;
  private readonly guard: Guard;
  private readonly metrics: MetricsFolder;
  private readonly snapshots: Snapshots;
  /** Keys loaded from the snapshot at start, or null when none was loaded. */
  loadedKeys: number | null = null;
  private http: HttpServer | null = null;
  /** Where the metrics endpoint listens (--metrics-port), or null. */
  metricsAddress: { host: string; port: number } | null = null;

  private constructor(
    readonly region: Region,
    readonly table: Table,
    private readonly cache: OpenCache,
    private readonly lock: { fd: number; id: FileId },
    private readonly regionId: FileId | null,
    private readonly reaper: Reaper,
    /** Workers' private stop word (see ServerWorkerData.control). */
    private readonly control: Int32Array,
    private readonly temporary: boolean,
    snapshotFile: string | null,
    private readonly log: (line: string) => void,
    /**
     * Settles when the server stops for any reason; rejects on a worker
     * failure or a proven corruption of the region (a ServerError, one line).
     */
    readonly done: Promise<void>,
  ) {
    this.audit = new RingAudit(new Ring(region));
    this.guard = new Guard(table.segs);
    this.snapshots = new Snapshots(table, snapshotFile, this.guard, log);
    this.metrics = new MetricsFolder(region);
  }

  /** What adopting the previous server's table found, or null when this server started empty. */
  get adoption(): Adoption | null {
    return this.cache.adoption;
  }

  /** The cache's data file. */
  get dataPath(): string {
    return this.cache.dataPath;
  }

  /**
   * Take the region path, open the cache, start the workers and publish
   * READY. Throws ServerError (one line) when another server holds the
   * path, the path names a file that is not a region, or the cache cannot
   * be opened; RangeError for bad options. A failed start leaves no file
   * it made behind.
   */
  static async start(opts: ServerOptions): Promise<Server> {
    const file = resolveRegionPath(opts.path);
    const policy = opts.policy ?? DEFAULT_WAIT_POLICY;
    const log = opts.log ?? logLine;
    const tableOpts: TableOptions = {
      initialBuckets: opts.initialBuckets,
      dataBytes: opts.maxTableBytes ?? DEFAULT_MAX_TABLE_BYTES,
      segmentBits: opts.segmentBits,
      maxKeyBytes: opts.maxKeyBytes,
      maxValueBytes: opts.maxValueBytes,
      defaultTtlMs: opts.defaultTtlMs,
      eviction: opts.eviction,
    };
    const geometry = tableGeometry(tableOpts); // RangeError for bad options before any file is touched
    if (opts.snapshot !== undefined) refuseSnapshotPath(opts.snapshot);
    const lock = lockServer(file);
    let cache: OpenCache | null = null;
    let region: Region;
    let regionId: FileId | null;
    try {
      refuseForeignFile(file);
      cache = openCache({ regionPath: file, dataDir: opts.dataDir ?? defaultDataDir(), table: tableOpts, geometry, fresh: opts.fresh === true || opts.temporary === true, log });
      region = Region.create(file, { ringCapacity: opts.ringCapacity ?? DEFAULT_RING_CAPACITY, windowCount: opts.windows ?? DEFAULT_WINDOW_COUNT, windowBytes: WINDOW_BYTES }, opts.threads);
      regionId = idOfPath(file);
      region.setDataFile(cache.dataPath, cache.parts.header.bytes);
    } catch (e) {
      if (cache) {
        unlockDataFile(cache.dataLock);
        if (cache.adoption === null) removeCacheFiles(cache.dataPath);
      }
      unlinkIfOurs(`${file}.lock`, lock.id);
      unlockServer(lock.fd);
      if (e instanceof RangeError || e instanceof ServerError) throw e;
      const err = e as NodeJS.ErrnoException;
      throw new ServerError(`cannot create region ${file}: ${err.code ?? err.message}`);
    }
    const coarse = opts.coarse === true;
    const table = new Table(cache.parts, undefined, coarse);
    const loaded = cache.adoption === null && opts.snapshot !== undefined && !opts.fresh && !opts.temporary && fs.existsSync(opts.snapshot) ? loadSnapshot(table, opts.snapshot, log) : null;
    const records = Staging.createRecords(region.layout.windowCount);
    const arenaState = Staging.createArenaState(cache.xchg.arena.byteLength);

    const control = new SharedArrayBuffer(CONTROL_WORDS * 4);
    const { online, exited } = startWorkers(opts.threads, (index) => ({ region: region.transferable(), table: cache.transfer, coarse, staging: records, arena: cache.xchg.arena, arenaState, control, index, policy }));
    const staging = new Staging(records, cache.xchg.arena, arenaState, new Board(region), table.maxKeyBytes, table.maxValueBytes);
    const reaper = new Reaper(new Owners(region), new Ring(region), region.i32, opts.threads, staging);
    let server!: Server;
    const done = Promise.all(exited).then(
      () => {
        if (server.fatal) throw server.fatal;
      },
      async (e) => {
        await server.stop();
        throw e;
      },
    );
    done.catch(() => undefined); // observed by whoever awaits `done`
    const temporary = opts.temporary === true;
    server = new Server(region, table, cache, lock, regionId, reaper, new Int32Array(control), temporary, opts.snapshot ?? null, log, done);
    server.exited.push(...exited);
    server.loadedKeys = loaded;
    try {
      await online;
    } catch (e) {
      // A worker died before serving (its warm-up failed: a broken build,
      // or no memory): stop the others, and say so.
      await server.abandon();
      throw new ServerError(`a server worker failed to start: ${(e as Error).message}`);
    }
    server.guard.beat();
    server.snapshots.every(opts.snapshotIntervalS ?? 0);
    if (opts.metricsPort !== undefined) {
      const host = opts.metricsHost ?? '127.0.0.1';
      try {
        server.http = await startMetricsServer(opts.metricsPort, host, () => prometheusText(region, cache.parts.header));
      } catch (e) {
        await server.abandon();
        throw e;
      }
      const a = server.http.address();
      server.metricsAddress = { host, port: typeof a === 'object' && a !== null ? a.port : opts.metricsPort };
    }
    server.timer = setInterval(() => server.tick(), HEARTBEAT_MS);
    region.headerSet(HDR_SERVER_STATE, ServerState.Ready);
    return server;
  }

  private tick(): void {
    Atomics.add(this.region.i32, HDR_HEARTBEAT >> 2, 1);
    this.guard.beat();
    // The liveness line is ours: put back a pid or state someone overwrote
    // (clients would refuse to attach, reading "still starting" or "died").
    if (!this.stopping) {
      if (this.region.serverPid() !== process.pid) this.region.headerSet(HDR_SERVER_PID, process.pid);
      if (this.region.serverState() !== ServerState.Ready) this.region.headerSet(HDR_SERVER_STATE, ServerState.Ready);
      const forged = this.guard.tick();
      if (forged > 0 && this.guard.restored === forged) this.log(`put back ${forged} word(s) of the data file ${this.cache.dataPath} that another process wrote (further ones are counted, not logged)`);
    }
    this.reaper.tick();
    const corrupt = this.stopping ? null : this.audit.tick();
    if (corrupt !== null) {
      this.fatal = new ServerError(`the request ring is corrupt (${corrupt}): a process wrote into ${this.region.path}; stopping`);
      void this.stop();
    }
    // Active expiry: reclaim expired entries nobody reads, a bounded slice
    // of the index per tick (SWEEP_SLOTS_PER_TICK slots, well under a
    // millisecond), so the sweeper's CPU per second is bounded too. Then
    // the eviction queues' compaction (S3-FIFO: items of removed keys), a
    // bounded number of items per tick too.
    try {
      this.table.sweep(SWEEP_SLOTS_PER_TICK);
      this.table.tidy(TIDY_ITEMS_PER_TICK);
    } catch (e) {
      // Forged data the sweep met: its chunk is suspect (or, past a check, every chunk); repaired below.
      if (!(e instanceof TableCorruptError || e instanceof RangeError)) throw e;
      if (e instanceof RangeError) for (let c = 0; c < this.table.segs.chunks.length; c++) this.table.segs.suspects.add(c);
    }
    if (this.table.segs.suspects.size > 0) for (const line of this.table.repair()) this.log(line);
    // Closed clients' and dead processes' counters into the retired sums (metrics.ts).
    this.metrics.tick();
  }

  /** Write the snapshot now, one at a time (Snapshots.write); null when the server has no snapshot file. */
  snapshot(): Promise<SnapshotStats | null> {
    return this.snapshots.write();
  }

  /**
   * A start that failed before READY: stop, and remove the region (it never
   * served) and the cache unless it was adopted (then it is the previous
   * server's, and stays for the next start).
   */
  private async abandon(): Promise<void> {
    await this.stop();
    unlinkIfOurs(this.region.path, this.regionId);
    if (this.cache.adoption === null) removeCacheFiles(this.cache.dataPath);
  }

  /**
   * Orderly stop: refuse new work, let the workers answer what is in the
   * ring, mark the region STOPPED and release the lock. The region and the
   * data file stay for the next server on this path (a temporary server
   * removes them).
   */
  stop(): Promise<void> {
    if (this.stopping) return this.stopping;
    this.stopping = (async () => {
      this.region.headerSet(HDR_SERVER_STATE, ServerState.Stopping);
      this.http?.close();
      Atomics.store(this.control, CONTROL_STOP, 1);
      new Ring(this.region).notEmpty.notifyAll();
      IdleWorkers.wakeAll(this.control);
      await Promise.allSettled(this.exited);
      if (this.timer) clearInterval(this.timer);
      this.snapshots.stopTimer();
      this.guard.beat();
      // The workers are gone: a snapshot now is the whole table at one instant.
      if (!this.temporary && this.fatal === null) await this.snapshots.last();
      this.region.headerSet(HDR_SERVER_STATE, ServerState.Stopped);
      // Only the inodes we created; the lock file last, while we hold it.
      if (this.temporary) {
        unlinkIfOurs(this.region.path, this.regionId);
        removeCacheFiles(this.cache.dataPath);
      } else removeRegularFile(this.cache.xchg.path);
      unlinkIfOurs(`${this.region.path}.lock`, this.lock.id);
      unlockDataFile(this.cache.dataLock);
      unlockServer(this.lock.fd);
    })();
    return this.stopping;
  }
}
