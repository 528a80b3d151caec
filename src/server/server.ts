/**
 * The server process's main thread: owns the region, starts the worker
 * threads, keeps the heartbeat, reaps dead clients' windows and runs the
 * orderly shutdown. It never touches a request itself.
 *
 * It never blocks on anything a client can hold or write (see the trust
 * model in docs/ARCHITECTURE.md): the reaper's steps are CAS that succeed
 * or wait for the next tick, the ring audit only reads, and a proven ring corruption stops the server with
 * one line instead of leaving clients to hang.
 *
 * FILES. The server owns exactly two inodes: the region it created and the
 * lock file it holds flock on. Both paths can be replaced by anyone, so the
 * server records each inode's identity (device, inode number) and, on stop,
 * unlinks a path only while it still names that inode: a user's file put at
 * the path, or another server's region created there after ours was removed,
 * is left alone. (A replacement between that check and the unlink is not
 * excluded; the window is one syscall.) The lock is taken on an open
 * descriptor and kept only if the path still names the descriptor's inode
 * after flock succeeded: a lock file unlinked by a stopping server while we
 * opened it would otherwise let two servers each lock a different inode.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { Worker } from 'node:worker_threads';
import { lockFile, unlink, unlockFile } from '../native/shim';
import { RingAudit } from './ring-audit';
import { DEFAULT_WAIT_POLICY, WaitPolicy } from '../sync/waiter';
import { Region, resolveRegionPath, readDataRef } from '../layout/region';
import {
  DEFAULT_RING_CAPACITY,
  DEFAULT_WINDOW_COUNT,
  CONTROL_STOP,
  CONTROL_WORDS,
  HDR_HEARTBEAT,
  HDR_MAGIC,
  HDR_SERVER_PID,
  HDR_SERVER_STATE,
  HEADER_BYTES,
  HEARTBEAT_MS,
  REGION_MAGIC,
  ServerState,
  WINDOW_BYTES,
} from '../layout/layout';
import { Ring } from '../transport/ring';
import { Owners } from '../transport/owners';
import { Board } from '../transport/window';
import { Table } from '../store/table';
import { createDataFile, defaultDataDir, removeDataFile, removeStaleDataFile, removeStaleDataFiles } from '../layout/data-file';
import { Staging } from './staging';
import { Reaper } from './reaper';
import { IdleWorkers } from './idle';
import { WORKER_READY, type ServerWorkerData } from './worker-data';
import { ServerError } from '../errors';

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
  /** At the memory cap: 'clock' evicts entries (default), 'none' refuses writes (TableFullError). */
  eviction?: 'clock' | 'none';
  /** One lock for the whole table instead of per-segment locks. */
  coarse?: boolean;
  /** log2 of the table's segment (lock) count. */
  segmentBits?: number;
  policy?: WaitPolicy;
}

export const DEFAULT_MAX_TABLE_BYTES = 1024 * 1024 * 1024;
/** Index slots the expiry sweeper visits per heartbeat tick. */
const SWEEP_SLOTS_PER_TICK = 20_000;


/** A file's identity: what must still be at a path for us to unlink it. */
interface FileId {
  dev: bigint;
  ino: bigint;
}

function idOfPath(file: string): FileId | null {
  try {
    const st = fs.statSync(file, { bigint: true });
    return { dev: st.dev, ino: st.ino };
  } catch {
    return null;
  }
}

function sameFile(a: FileId | null, b: FileId | null): boolean {
  return a !== null && b !== null && a.dev === b.dev && a.ino === b.ino;
}

/** Unlink `file` only while it still names the inode `id`. */
function unlinkIfOurs(file: string, id: FileId | null): void {
  if (!sameFile(idOfPath(file), id)) return;
  try {
    unlink(file);
  } catch {
    // already gone: nothing to clean
  }
}

/**
 * flock `lockPath` (EAGAIN when another server holds it) and return the
 * descriptor once the path is seen to name the locked inode after the lock
 * was taken; otherwise the file was replaced meanwhile: retry on the new one.
 */
function lockServer(lockPath: string): { fd: number; id: FileId } {
  for (let attempt = 0; ; attempt++) {
    const fd = lockFile(lockPath);
    const st = fs.fstatSync(fd, { bigint: true });
    const id = { dev: st.dev, ino: st.ino };
    if (sameFile(idOfPath(lockPath), id)) return { fd, id };
    unlockFile(fd);
    if (attempt >= 100) throw new ServerError(`cannot lock ${lockPath}: it keeps being replaced`);
  }
}

export class Server {
  private stopping: Promise<void> | null = null;
  private timer: NodeJS.Timeout | null = null;
  private readonly exited: Promise<void>[] = [];
  /** Set when the server stops because of a corruption it cannot serve through. */
  private fatal: Error | null = null;
  private readonly audit: RingAudit;

  private constructor(
    readonly region: Region,
    readonly table: Table,
    private readonly dataPath: string,
    private readonly lockFd: number,
    private readonly lockId: FileId,
    private readonly regionId: FileId | null,
    private readonly reaper: Reaper,
    /** Workers' private stop word (see ServerWorkerData.control). */
    private readonly control: Int32Array,
    /**
     * Settles when the server stops for any reason; rejects on a worker
     * failure or a proven corruption of the region (a ServerError, one line).
     */
    readonly done: Promise<void>,
  ) {
    this.audit = new RingAudit(new Ring(region));
  }

  /**
   * Create the region, start the workers and publish READY. Throws
   * ServerError when another server holds the region or the path names a
   * file that is not a region.
   */
  static async start(opts: ServerOptions): Promise<Server> {
    const file = resolveRegionPath(opts.path);
    const policy = opts.policy ?? DEFAULT_WAIT_POLICY;
    const tableOpts = {
      initialBuckets: opts.initialBuckets,
      dataBytes: opts.maxTableBytes ?? DEFAULT_MAX_TABLE_BYTES,
      coarse: opts.coarse,
      segmentBits: opts.segmentBits,
      maxKeyBytes: opts.maxKeyBytes,
      maxValueBytes: opts.maxValueBytes,
      defaultTtlMs: opts.defaultTtlMs,
      evict: (opts.eviction ?? 'clock') === 'clock',
    };
    Table.minBytes(tableOpts); // RangeError for bad options before any file is touched
    if (opts.eviction !== undefined && opts.eviction !== 'clock' && opts.eviction !== 'none')
      throw new RangeError(`eviction must be 'clock' or 'none', got ${String(opts.eviction)}`);
    let lockFd: number;
    let lockId: FileId;
    try {
      ({ fd: lockFd, id: lockId } = lockServer(`${file}.lock`));
    } catch (e) {
      if (e instanceof ServerError) throw e;
      const err = e as NodeJS.ErrnoException;
      if (err.code === 'EAGAIN' || err.code === 'EWOULDBLOCK')
        throw new ServerError(`another server is already serving ${file} (it holds ${file}.lock)`);
      throw new ServerError(`cannot lock ${file}.lock: ${err.code ?? err.message}`);
    }
    let region: Region;
    let data: { path: string; sab: SharedArrayBuffer } | null = null;
    let regionId: FileId | null;
    try {
      refuseForeignFile(file);
      region = Region.create(
        file,
        {
          ringCapacity: opts.ringCapacity ?? DEFAULT_RING_CAPACITY,
          windowCount: opts.windows ?? DEFAULT_WINDOW_COUNT,
          windowBytes: WINDOW_BYTES,
        },
        opts.threads,
      );
      regionId = idOfPath(file);
      const dataDir = opts.dataDir ?? defaultDataDir();
      removeStaleDataFiles(dataDir);
      data = createDataFile(dataDir, tableOpts.dataBytes);
      Table.format(data.sab, tableOpts);
      region.setDataFile(data.path, tableOpts.dataBytes);
    } catch (e) {
      unlinkIfOurs(`${file}.lock`, lockId);
      unlockFile(lockFd);
      if (data) removeDataFile(data.path);
      if (e instanceof RangeError || e instanceof ServerError) throw e;
      const err = e as NodeJS.ErrnoException;
      throw new ServerError(`cannot create region ${file}: ${err.code ?? err.message}`);
    }
    const table = new Table(data.sab);
    const staging = Staging.createRecords(region.layout.windowCount);

    const control = new SharedArrayBuffer(CONTROL_WORDS * 4);
    const workers: Worker[] = [];
    const online: Promise<void>[] = [];
    const exited: Promise<void>[] = [];
    for (let index = 0; index < opts.threads; index++) {
      const wd: ServerWorkerData = { region: region.transferable(), data: data.sab, staging, control, index, policy };
      const w = new Worker(path.join(__dirname, 'worker.js'), { workerData: wd });
      workers.push(w);
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
    const reaper = new Reaper(new Owners(region), new Ring(region), region.i32, opts.threads, new Staging(staging, table, new Board(region)));
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
    server = new Server(region, table, data.path, lockFd, lockId, regionId, reaper, new Int32Array(control), done);
    server.exited.push(...exited);
    try {
      await Promise.all(online);
    } catch (e) {
      // A worker died before serving (its warm-up failed: a broken build,
      // or no memory): stop the others and remove our files, then say so.
      await server.stop();
      throw new ServerError(`a server worker failed to start: ${(e as Error).message}`);
    }
    server.timer = setInterval(() => server.tick(), HEARTBEAT_MS);
    region.headerSet(HDR_SERVER_STATE, ServerState.Ready);
    return server;
  }

  private tick(): void {
    Atomics.add(this.region.i32, HDR_HEARTBEAT >> 2, 1);
    // The liveness line is ours: put back a pid or state someone overwrote
    // (clients would refuse to attach, reading "still starting" or "died").
    if (!this.stopping) {
      if (this.region.serverPid() !== process.pid) this.region.headerSet(HDR_SERVER_PID, process.pid);
      if (this.region.serverState() !== ServerState.Ready) this.region.headerSet(HDR_SERVER_STATE, ServerState.Ready);
    }
    this.reaper.tick();
    const corrupt = this.stopping ? null : this.audit.tick();
    if (corrupt !== null) {
      this.fatal = new ServerError(`the request ring is corrupt (${corrupt}): a process wrote into ${this.region.path}; stopping`);
      void this.stop();
    }
    // Active expiry: reclaim expired entries nobody reads, a bounded slice
    // of the index per tick (SWEEP_SLOTS_PER_TICK slots, well under a
    // millisecond), so the sweeper's CPU per second is bounded too.
    this.table.sweep(SWEEP_SLOTS_PER_TICK);
  }

  /**
   * Orderly stop: refuse new work, let the workers answer what is in the
   * ring, then mark the region STOPPED, remove it and release the lock.
   */
  stop(): Promise<void> {
    if (this.stopping) return this.stopping;
    this.stopping = (async () => {
      this.region.headerSet(HDR_SERVER_STATE, ServerState.Stopping);
      Atomics.store(this.control, CONTROL_STOP, 1);
      new Ring(this.region).notEmpty.notifyAll();
      IdleWorkers.wakeAll(this.control);
      await Promise.allSettled(this.exited);
      if (this.timer) clearInterval(this.timer);
      this.region.headerSet(HDR_SERVER_STATE, ServerState.Stopped);
      // Only the inodes we created; the lock file last, while we hold it.
      unlinkIfOurs(this.region.path, this.regionId);
      unlinkIfOurs(`${this.region.path}.lock`, this.lockId);
      removeDataFile(this.dataPath);
      unlockFile(this.lockFd);
    })();
    return this.stopping;
  }
}

/**
 * Refuse to replace a file that is not a region: the path may be a user's
 * file. A region file (right magic, any version) is a stale one whose server
 * is gone (we hold the lock), so it may be replaced.
 */
function refuseForeignFile(file: string): void {
  let fd: number;
  try {
    fd = fs.openSync(file, 'r');
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return;
    throw e;
  }
  try {
    const buf = Buffer.alloc(4);
    const n = fs.readSync(fd, buf, 0, 4, HDR_MAGIC);
    if (n === 0) return; // an empty file holds nothing to lose
    if (n < 4 || buf.readUInt32LE(0) !== REGION_MAGIC)
      throw new ServerError(`refusing to overwrite ${file}: it exists and is not a key-value region file`);
    // A stale region: its dead server's data file (in /dev/shm, memory) goes too.
    const header = Buffer.alloc(HEADER_BYTES);
    fs.readSync(fd, header, 0, HEADER_BYTES, 0);
    const ref = readDataRef(header);
    if (ref) removeStaleDataFile(ref.path);
  } finally {
    fs.closeSync(fd);
  }
}

