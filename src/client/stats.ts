/**
 * stats(): the machine-wide picture of a server and its table, read from
 * shared memory without a request: the table's header words, the server
 * threads' counter lines (summed: each thread owns one line, so counting
 * costs the hot path one private store), the board's owners; plus this
 * process's direct-read hits and misses.
 */
import type { Connection } from './connection';
import { sumStat } from '../store/counters';
import { D_STARTED_AT, Stat } from '../layout/data-meta';
import { HDR_SERVER_THREADS } from '../layout/region-header';

export interface Stats {
  /** Keys stored (expired ones count until the sweeper reclaims them). */
  keys: number;
  /** Bytes of the table's heaps in use (entries and indexes, block headers included) and the data file's size (the budget). */
  bytesUsed: number;
  bytesBudget: number;
  /** This process's reads that found a value / found none (local cache hits included). */
  hits: number;
  misses: number;
  /**
   * The local cache (connect({ localCache })), null without one: gets it
   * answered without decoding, gets it could not, its entries and their
   * bytes as stored in the table.
   */
  localCache: { hits: number; misses: number; entries: number; bytes: number } | null;
  /** Server-side counts since the server started. */
  requests: number;
  sets: number;
  deletes: number;
  evictions: number;
  expirations: number;
  /** Reads the server answered (contended direct reads, the CLI's ring gets). */
  serverReads: number;
  /** Writes refused at the memory cap (only with --eviction none, or when eviction cannot make room). */
  refused: number;
  /** Chunks the server rebuilt because they held data no server wrote (a process wrote into the data file). */
  repairs: number;
  /** Client processes attached (owning windows), and the server's worker threads. */
  clients: number;
  serverThreads: number;
  uptimeMs: number;
  /**
   * Every client process's counters summed (client stats lines,
   * transport/client-stats.ts), indexed by ClientStat: hits, misses, stale
   * values served, loads, load failures, background refreshes, soft and
   * hard timeouts.
   */
  machine: number[];
}

/** Read the counters (hits and misses are the caller's). */
export function readStats(conn: Connection, hits: number, misses: number, localCache: Stats['localCache'] = null): Stats {
  const header = conn.data.header;
  const sum = (stat: Stat): number => sumStat(header.stats, stat);
  const clients = new Set<number>();
  const owners = conn.current.owners;
  for (let w = 0; w < owners.windowCount; w++) {
    const pid = owners.ownerOf(w);
    if (pid > 0) clients.add(pid);
  }
  return {
    keys: Math.max(0, sum(Stat.Entries)),
    bytesUsed: Math.max(0, sum(Stat.UsedBytes)),
    bytesBudget: header.bytes,
    hits,
    misses,
    localCache,
    requests: sum(Stat.Requests),
    sets: sum(Stat.Sets),
    deletes: sum(Stat.Deletes),
    evictions: sum(Stat.Evictions),
    expirations: sum(Stat.Expirations),
    serverReads: sum(Stat.ServerReads),
    refused: sum(Stat.Refused),
    repairs: sum(Stat.Repairs),
    clients: clients.size,
    serverThreads: conn.region.headerGet(HDR_SERVER_THREADS),
    uptimeMs: Date.now() - new DataView(header.meta).getFloat64(D_STARTED_AT, true),
    machine: [],
  };
}
