/**
 * The server process's main thread: takes the region path, opens the cache
 * (adopting the previous server's table: cache-files.ts), starts the worker
 * threads, keeps the heartbeat, reaps dead clients' windows, puts back
 * forged words (guard.ts), sweeps expired entries and runs the orderly
 * shutdown. It never touches a request itself.
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
import * as path from 'node:path';
import { Worker } from 'node:worker_threads';
import { RingAudit } from './ring-audit';
import { DEFAULT_WAIT_POLICY, WaitPolicy } from '../sync/waiter';
import { Region, resolveRegionPath } from '../layout/region';
import { Status, WINDOW_BYTES } from '../layout/board';
import { D_SNAPSHOT_RESULT, D_SNAPSHOTS, SnapshotResult } from '../layout/data-meta';
import { isValueTag, KEY_KIND_BYTES } from '../layout/keys-values';
import { DEFAULT_RING_CAPACITY, DEFAULT_WINDOW_COUNT } from '../layout/region-file';
import { HDR_HEARTBEAT, HDR_SERVER_PID, HDR_SERVER_STATE, HEARTBEAT_MS, ServerState } from '../layout/region-header';
import { CONTROL_STOP, CONTROL_WORDS } from '../layout/server-private';
import { Ring } from '../transport/ring';
import { Owners } from '../transport/owners';
import { Board } from '../transport/window';
import { Table } from '../store/table';
import { EvictionPolicy, tableGeometry, TableOptions } from '../store/table-format';
import { defaultDataDir, removeCacheFiles, removeRegularFile, unlockDataFile } from '../layout/data-file';
import { Staging } from './staging';
import { Reaper } from './reaper';
import { IdleWorkers } from './idle';
import { Guard } from './guard';
import { OpenCache, openCache } from './cache-files';
import { FileId, idOfPath, lockServer, refuseForeignFile, unlinkIfOurs, unlockServer } from './region-files';
import { WORKER_READY, type ServerWorkerData } from './worker-data';
import { logLine } from './log';
import { ServerError, SnapshotError, TableCorruptError } from '../errors';
import { readSnapshot, SnapshotStats, writeSnapshot } from '../store/snapshot';
import { monoNowMs } from '../store/clock';
import * as fs from 'node:fs';
import type { Adoption } from '../store/recovery';
import { MetricsFolder, prometheusText } from './metrics';
import { startMetricsServer } from './metrics-http';
import type { Server as HttpServer } from 'node:http';

export interface ServerOptions {
  /** Region file path (default $SHMKV_PATH or ./shmem_file). */
  path?: string;
  /** Worker threads serving requests. */
  threads: number;
  /** Initial hash-table buckets. */
  initialBuckets: number;
  /** Windows on the board: the sum of all attached clients' threads x window. */
  windows?: number;
  /** Ring capacity (power of two). */
  ringCapacity?: number;
  /** Cap on the table's memory (the data file's size), in bytes. */
  maxTableBytes?: number;
  /** Directory of the data file (default $SHMKV_DATA_DIR, else /dev/shm). */
  dataDir?: string;
  /** Longest key in bytes (default 4096). */
  maxKeyBytes?: number;
  /** Longest value in bytes (default 1 MiB). */
  maxValueBytes?: number;
  /** Time to live in ms of writes that give none (default 0: never expire). */
  defaultTtlMs?: number;
  /** At the memory cap: 's3fifo' (default) or 'clock' evicts entries, 'none' refuses writes (TableFullError). */
  eviction?: EvictionPolicy;
  /** One lock for the whole table instead of per-segment locks. */
  coarse?: boolean;
  /** log2 of the table's segment (lock) count. */
  segmentBits?: number;
  /** Start empty, whatever the previous server on this path left (default: adopt its table). */
  fresh?: boolean;
  /** Remove the region and the cache at stop (implies fresh). */
  temporary?: boolean;
  /**
   * A snapshot file (store/snapshot.ts): written at a clean stop, on
   * snapshot() (SIGUSR1 in the CLI) and every `snapshotIntervalS`; loaded
   * at start when there is no data file to adopt.
   */
  snapshot?: string;
  /** Seconds between snapshots (0 or absent: only at stop and on request). */
  snapshotIntervalS?: number;
  /** Where one-line notes go (not adopting a cache, a repair); default stderr, prefixed "server: ". */
  log?: (line: string) => void;
  policy?: WaitPolicy;
  /** Serve the Prometheus text at http://metricsHost:metricsPort/metrics (metrics-http.ts; 0: any free port). */
  metricsPort?: number;
  /** Address of the metrics endpoint (default 127.0.0.1). */
  metricsHost?: string;
}

export const DEFAULT_MAX_TABLE_BYTES = 1024 * 1024 * 1024;
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
  private snapshotting: Promise<SnapshotStats | null> | null = null;
  /** Snapshots finished (D_SNAPSHOTS), counted on from the adopted file's word, read once at start. */
  private snapshots: number;
  /** Keys loaded from the snapshot at start, or null when none was loaded. */
  loadedKeys: number | null = null;
  private snapshotTimer: NodeJS.Timeout | null = null;
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
    private readonly snapshotFile: string | null,
    private readonly log: (line: string) => void,
    /**
     * Settles when the server stops for any reason; rejects on a worker
     * failure or a proven corruption of the region (a ServerError, one line).
     */
    readonly done: Promise<void>,
  ) {
    this.audit = new RingAudit(new Ring(region));
    this.guard = new Guard(table.segs);
    this.snapshots = new DataView(table.segs.header.meta).getUint32(D_SNAPSHOTS, true);
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
    const online: Promise<void>[] = [];
    const exited: Promise<void>[] = [];
    for (let index = 0; index < opts.threads; index++) {
      const wd: ServerWorkerData = { region: region.transferable(), table: cache.transfer, coarse, staging: records, arena: cache.xchg.arena, arenaState, control, index, policy };
      const w = new Worker(path.join(__dirname, 'worker.js'), { workerData: wd });
      // A worker says 'ready' once warmed up (warmup.ts): READY is published only then.
      online.push(
        new Promise((resolve, reject) => {
          w.on('message', (m) => m === WORKER_READY && resolve());
          w.once('error', reject);
          w.once('exit', (code) => reject(new Error(`server worker ${index} exited with code ${code} before it was ready`)));
        }),
      );
      exited.push(
        new Promise((resolve, reject) => {
          w.once('error', reject);
          w.once('exit', (code) => (code === 0 ? resolve() : reject(new Error(`server worker ${index} exited with code ${code}`))));
        }),
      );
    }
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
      await Promise.all(online);
    } catch (e) {
      // A worker died before serving (its warm-up failed: a broken build,
      // or no memory): stop the others, and say so.
      await server.abandon();
      throw new ServerError(`a server worker failed to start: ${(e as Error).message}`);
    }
    server.guard.beat();
    if (opts.snapshotIntervalS) {
      server.snapshotTimer = setInterval(() => void server.snapshot(), opts.snapshotIntervalS * 1000);
      server.snapshotTimer.unref();
    }
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

  /**
   * Write the snapshot now (one at a time: a second call while one runs
   * gets the running one), and say so in one line; null when the server has
   * no snapshot file. Service goes on meanwhile (store/snapshot.ts). The
   * data file's D_SNAPSHOTS counts it once finished (`--snapshot-now`).
   */
  snapshot(): Promise<SnapshotStats | null> {
    if (this.snapshotting) return this.snapshotting;
    const meta = new DataView(this.table.segs.header.meta);
    const done = (result: SnapshotResult): void => {
      // From the server's own count: the shared word is anyone's to write.
      this.snapshots = (this.snapshots + 1) >>> 0;
      meta.setUint32(D_SNAPSHOT_RESULT, result, true);
      meta.setUint32(D_SNAPSHOTS, this.snapshots, true);
      this.guard.keep();
    };
    const file = this.snapshotFile;
    if (file === null) {
      this.log('no snapshot written: this server has no --snapshot file');
      done(SnapshotResult.NoFile);
      return Promise.resolve(null);
    }
    this.snapshotting = writeSnapshot(this.table.segs, file).then(
      (st) => {
        this.log(`snapshot of ${st.records} key(s) written to ${file} in ${st.ms} ms (${st.bytes} bytes)`);
        done(SnapshotResult.Written);
        return st;
      },
      (e: Error) => {
        this.log(`snapshot to ${file} failed: ${e.message.split('\n')[0]}`);
        done(SnapshotResult.Failed);
        return null;
      },
    );
    void this.snapshotting.finally(() => (this.snapshotting = null));
    return this.snapshotting;
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
      if (this.snapshotTimer) clearInterval(this.snapshotTimer);
      this.guard.beat();
      // The workers are gone: a snapshot now is the whole table at one instant.
      if (this.snapshotFile !== null && !this.temporary && this.fatal === null) {
        if (this.snapshotting) await this.snapshotting;
        await this.snapshot();
      }
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

/** A snapshot path must be a regular file or not exist yet, in a directory that does. */
function refuseSnapshotPath(file: string): void {
  let st: fs.Stats | undefined;
  try {
    st = fs.statSync(file, { throwIfNoEntry: false });
    if (st === undefined && !fs.statSync(path.dirname(file)).isDirectory()) throw new Error('ENOTDIR');
  } catch (e) {
    throw new ServerError(`--snapshot ${file}: its directory is not usable (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`);
  }
  if (st !== undefined && !st.isFile()) throw new ServerError(`--snapshot ${file} is not a regular file`);
}

/**
 * Fill a fresh table from a snapshot (store/snapshot.ts), before any worker
 * serves: deadlines from the wall clock to this boot's monotonic one,
 * expired records skipped. A snapshot that does not check out is one line,
 * and the table stays empty.
 */
function loadSnapshot(table: Table, file: string, log: (line: string) => void): number | null {
  const start = Date.now();
  let loaded = 0;
  try {
    const shift = monoNowMs() - Date.now();
    const r = readSnapshot(file, (rec) => {
      const expires = rec.expiresWall === 0 ? 0 : rec.expiresWall + shift;
      if (expires !== 0 && expires <= monoNowMs()) return;
      // Limits may differ from the writer's: what this table cannot read back is left out.
      if (rec.key.length > table.maxKeyBytes + KEY_KIND_BYTES || rec.value.length > table.maxValueBytes || !isValueTag(rec.tag)) return;
      if (table.set(rec.key, 0, rec.key.length, rec.value, 0, rec.value.length, rec.tag, expires) === Status.Ok) loaded++;
    });
    log(`loaded ${loaded} of ${r.records} key(s) from the snapshot ${file} in ${Date.now() - start} ms`);
    return loaded;
  } catch (e) {
    if (!(e instanceof SnapshotError)) throw e;
    // Kept aside, not overwritten by the next snapshot: it may be all there is.
    const aside = `${file}.corrupt`;
    let kept = '';
    try {
      fs.renameSync(file, aside);
      kept = ` (moved to ${aside})`;
    } catch {
      /* not a file we can move (a directory, a device): it stays where it is */
    }
    log(`not loading the snapshot: ${e.message}: starting empty${kept}`);
    return null;
  }
}
