/**
 * stats(): the machine-wide picture of a server and its table, read from
 * shared memory without a request: the table's header words, the server
 * threads' counter lines (summed: each thread owns one line, so counting
 * costs the hot path one private store), the board's owners; plus this
 * process's direct-read hits and misses.
 */
import type { Connection } from './connection';
import {
  D_BYTES,
  D_ENTRIES,
  D_STARTED_AT,
  D_STATS,
  D_USED_BYTES,
  HDR_SERVER_THREADS,
  Stat,
  STATS_LINE_BYTES,
  STATS_LINES,
} from '../layout/layout';

export interface Stats {
  /** Keys stored (expired ones count until the sweeper reclaims them). */
  keys: number;
  /** Bytes of the data file in use (entries, indexes, staging) and its size (the budget). */
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
  /** Client processes attached (owning windows), and the server's worker threads. */
  clients: number;
  serverThreads: number;
  uptimeMs: number;
}

/** Read the counters (hits and misses are the caller's). */
export function readStats(conn: Connection, hits: number, misses: number, localCache: Stats['localCache'] = null): Stats {
  const data = new DataView(conn.data);
  const sum = (stat: Stat): number => {
    let n = 0;
    for (let line = 0; line < STATS_LINES; line++) n += data.getFloat64(D_STATS + line * STATS_LINE_BYTES + stat * 8, true);
    return n;
  };
  const owners = new Set<number>();
  for (let w = 0; w < conn.board.windowCount; w++) {
    const pid = conn.board.ownerOf(w);
    if (pid > 0) owners.add(pid);
  }
  return {
    keys: data.getUint32(D_ENTRIES, true),
    bytesUsed: data.getUint32(D_USED_BYTES, true),
    bytesBudget: data.getUint32(D_BYTES, true),
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
    clients: owners.size,
    serverThreads: conn.region.headerGet(HDR_SERVER_THREADS),
    uptimeMs: Date.now() - data.getFloat64(D_STARTED_AT, true),
  };
}
