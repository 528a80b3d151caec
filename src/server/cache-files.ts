/**
 * A starting server's cache: adopt the data file its previous server left
 * on this region path, or make a fresh one; and the exchange file, always
 * fresh. The names and the orphan rule are in layout/data-file.ts; what
 * adoption repairs, in store/recovery.ts.
 *
 * ADOPT OR NOT. A data file is adopted when it is this version's, has the
 * same memory budget (-m) and key and value limits as the new start asks,
 * and its chunks check out. Everything else may change between starts:
 * threads, windows, ring, --ttl, --eviction, --coarse, the initial size.
 * A file that cannot be adopted is replaced by an empty table, with one
 * line saying why (memcached does the same on an incompatible restart);
 * --fresh replaces it without a word.
 *
 * ROOM. The data file is sparse: its pages are taken as the table grows.
 * A budget larger than what the data directory's filesystem has free
 * would end in SIGBUS later (a tmpfs that cannot supply a page), so the
 * start is refused now, with the fix.
 */
import * as fs from 'node:fs';
import { ServerError } from '../errors';
import { adoptTable, Adoption } from '../store/recovery';
import { PrivateState } from '../store/private-state';
import { chunkViews, evictionWord, formatTable, tableLimits, TableOptions, TableTransfer } from '../store/table-format';
import { TableParts } from '../store/segments';
import {
  cacheFiles,
  createDataFile,
  createExchangeFile,
  DataGeometry,
  lockDataFile,
  MappedExchange,
  openDataFile,
  readDataHeader,
  removeCacheFiles,
  removeOrphans,
  unlockDataFile,
} from '../layout/data-file';
import { arenaBytesOf, hintBytesOf } from '../layout/exchange';
import { DEFAULT_MAX_KEY_BYTES, DEFAULT_MAX_VALUE_BYTES } from '../layout/keys-values';

export interface CacheOptions {
  regionPath: string;
  dataDir: string;
  table: TableOptions;
  geometry: DataGeometry;
  /** Start empty even when a data file could be adopted. */
  fresh: boolean;
  /** Lines for the log (not adopting a file, and why). */
  log: (line: string) => void;
}

/** An open cache: the table's parts, its files, and what happened to the old one. */
export interface OpenCache {
  parts: TableParts;
  transfer: TableTransfer;
  dataPath: string;
  xchg: MappedExchange;
  /** The flock held on the data file while this server serves. */
  dataLock: number;
  /** Set when the table was adopted. */
  adoption: Adoption | null;
}

/** ServerError when a cache file exists and is not a regular file (a device, FIFO, socket, directory or symbolic link). */
function refuseSpecialFiles(...files: string[]): void {
  for (const f of files) {
    let st: fs.Stats | null = null;
    try {
      st = fs.lstatSync(f);
    } catch {
      // absent: fine
    }
    if (st && !st.isFile()) throw new ServerError(`refusing to use ${f}: it exists and is not a regular file`);
  }
}

/** Open the cache of `opts.regionPath`: adopted, or fresh. Throws ServerError with one line. */
export function openCache(opts: CacheOptions): OpenCache {
  const { data, xchg } = cacheFiles(opts.regionPath, opts.dataDir);
  let dir: fs.Stats;
  try {
    dir = fs.statSync(opts.dataDir);
  } catch (e) {
    throw new ServerError(`the data directory ${opts.dataDir} cannot be used: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
  }
  if (!dir.isDirectory()) throw new ServerError(`the data directory ${opts.dataDir} is not a directory`);
  removeOrphans(opts.dataDir, data);
  refuseSpecialFiles(data, xchg);
  const existed = fs.existsSync(data);
  let lock = lockDataFile(data);
  if (lock === null) throw new ServerError(`another server is serving from ${data}`);
  try {
    let adoption: Adoption | null = null;
    let parts: TableParts | null = null;
    let transfer: TableTransfer | null = null;
    const exists = fs.statSync(data).size > 0;
    if (exists && !opts.fresh) {
      const why = incompatible(data, opts);
      if (why !== null) opts.log(`not adopting the cache in ${data} (${why}): starting empty`);
      else {
        const mapped = openDataFile(data, false);
        const priv = PrivateState.forGeometry(mapped.header);
        checkRoom(opts, fileBytesAllocated(data));
        try {
          adoption = adoptTable({ header: mapped.header, chunks: chunkViews(mapped.header, mapped.chunks, null), priv }, { defaultTtlMs: opts.table.defaultTtlMs ?? 0, eviction: evictionWord(opts.table.eviction) });
          const header = readDataHeader(data, mapped.header.meta, mapped.header.bytes);
          transfer = { path: data, meta: header.meta, chunks: mapped.chunks, hints: null, priv: priv.transferable() };
          parts = { header, chunks: [], priv };
        } catch (e) {
          // Whatever rebuilding met that it could not mend: a cache may be lost, its service not.
          opts.log(`not adopting the cache in ${data} (rebuilding it failed: ${(e as Error).message.split('\n')[0]}): starting empty`);
          adoption = null;
        }
      }
    }
    if (parts === null || transfer === null) {
      checkRoom(opts, 0);
      const g = opts.geometry;
      const made = createDataFile(data, g);
      const priv = PrivateState.forGeometry(g);
      const header = formatTable(data, made.meta, made.chunks, priv, opts.table, g, opts.regionPath);
      made.publish();
      unlockDataFile(lock);
      lock = made.lock;
      const { meta, chunks } = made;
      transfer = { path: data, meta, chunks, hints: null, priv: priv.transferable() };
      parts = { header, chunks: [], priv };
    }
    const h = parts.header;
    const ex = createExchangeFile(xchg, h.chunks, hintBytesOf(h.chunkBytes), arenaBytesOf(h.maxKeyBytes, h.maxValueBytes));
    transfer.hints = ex.hints;
    parts = { header: h, chunks: chunkViews(h, transfer.chunks, ex.hints), priv: parts.priv };
    return { parts, transfer, dataPath: data, xchg: ex, dataLock: lock, adoption };
  } catch (e) {
    unlockDataFile(lock);
    // The flock made an empty file where there was none: it goes too.
    if (!existed) removeCacheFiles(data);
    if (e instanceof ServerError || e instanceof RangeError) throw e;
    const err = e as NodeJS.ErrnoException;
    throw new ServerError(`cannot open the cache ${data}: ${err.code ?? err.message}`);
  }
}

/** Why the data file cannot be adopted by this start, or null when it can. */
function incompatible(data: string, opts: CacheOptions): string | null {
  let header;
  try {
    header = openDataFile(data, true).header;
  } catch (e) {
    return (e as Error).message;
  }
  const want = opts.table;
  if (header.bytes !== opts.geometry.bytes) return `it was made for -m ${header.bytes / 2 ** 20} MiB, this start asks ${opts.geometry.bytes / 2 ** 20}`;
  if (header.segmentBits !== opts.geometry.segmentBits) return `it has ${2 ** header.segmentBits} segments, this start asks ${2 ** opts.geometry.segmentBits}`;
  const { maxKeyBytes: key, maxValueBytes: value } = tableLimits(want, opts.geometry);
  if (header.maxKeyBytes !== key) return `its longest key is ${header.maxKeyBytes} bytes, this start asks ${key}`;
  if (header.maxValueBytes !== value) return `its longest value is ${header.maxValueBytes} bytes, this start asks ${value}`;
  return null;
}

/** Bytes of a file's pages actually allocated (a sparse file's holes take none). */
function fileBytesAllocated(file: string): number {
  const st = fs.statSync(file);
  return st.blocks * 512;
}

/**
 * Refuse a budget the data directory's filesystem cannot supply: free space
 * plus what the adopted file already holds must cover the budget.
 */
function checkRoom(opts: CacheOptions, held: number): void {
  let free: number;
  try {
    const s = fs.statfsSync(opts.dataDir);
    free = s.bavail * s.bsize;
  } catch {
    return; // no statfs here: the SIGBUS line would say it later
  }
  const need = opts.geometry.bytes + arenaBytesOf(opts.table.maxKeyBytes ?? DEFAULT_MAX_KEY_BYTES, opts.table.maxValueBytes ?? DEFAULT_MAX_VALUE_BYTES) / 4;
  if (free + held < need) {
    const mib = (n: number): string => `${Math.floor(n / 2 ** 20)} MiB`;
    throw new ServerError(
      `the table's memory (-m ${mib(opts.geometry.bytes)}) does not fit in ${opts.dataDir}, which has ${mib(free + held)} free: lower -m, use --data-dir on a larger filesystem, or give the container more shared memory (docker run --shm-size)`,
    );
  }
}

/**
 * `shmkv-server --drop`: remove the cache of a region path whose server is
 * stopped (its data and exchange files, and the region file). Throws
 * ServerError when a server still serves it.
 */
export function dropCache(regionPath: string, dataDir: string): string[] {
  const { data, xchg } = cacheFiles(regionPath, dataDir);
  // Locking opens the file: a FIFO, a device or a socket is never opened.
  refuseSpecialFiles(data, xchg);
  const removed: string[] = [];
  if (fs.existsSync(data)) {
    const lock = lockDataFile(data);
    if (lock === null) throw new ServerError(`a server is serving the cache ${data}: stop it first`);
    try {
      removeCacheFiles(data);
      removed.push(data);
    } finally {
      unlockDataFile(lock);
    }
  }
  return removed;
}
