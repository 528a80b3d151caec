/**
 * The client stats area, the region file's last area: one counter line per
 * client process and the retired sums the server folds them into. Only the
 * words: the protocol (claim, fold, sum) is transport/client-stats.ts, run
 * by the client and by server/metrics.ts; region-file.ts places the area.
 */
import { CACHE_LINE, Fields } from './fields';

/*
 * Counters only clients know (direct-read hits and misses, fetch's loads,
 * stale values served...), published where the server and ./stat can sum
 * them over processes (transport/client-stats.ts: a client writes its
 * line, server/metrics.ts folds and reads). A client claims a line by CAS
 * of its owner word 0 -> pid; a line is free again only after the server
 * folded it (added its counters to the retired ones and zeroed them,
 * inside the fold seqlock), so the machine's sums never go down while the
 * server runs: Prometheus counters stay monotonic when processes come and
 * go.
 */
export const enum ClientStat {
  Hits = 0,
  Misses = 1,
  /** Stale values served (grace: a failed or slow loader, allowStale). */
  StaleServed = 2,
  /** Loader calls this process ran (fetch misses and refreshes). */
  Loads = 3,
  LoadFailures = 4,
  /** Loads started in the background (early refresh, a stale value served while it reloads). */
  Refreshes = 5,
  SoftTimeouts = 6,
  HardTimeouts = 7,
}
export const CLIENT_STAT_COUNT = 8;
export const CLIENT_STATS_LINES = 1024;
export const CS_IN_USE = 0;
export const CS_RELEASED = 1;

/*
 * CLIENT STATS LINE (CLIENT_STATS_LINE_BYTES each, from CS_LINES)
 *   offset    bytes  field
 *        0        4  CS_OWNER                  Int32 owner pid: 0 = free
 *        4        4  CS_STATE                  Int32 CS_IN_USE, or CS_RELEASED once its client closed
 *        8       64  CS_COUNTERS               CLIENT_STAT_COUNT f64 (ClientStat), written by the owner only
 *      128        0  CLIENT_STATS_LINE_BYTES   the end: whole cache lines
 */
export const clientStatsLineRecord = new Fields('CLIENT STATS LINE (CLIENT_STATS_LINE_BYTES each, from CS_LINES)');
export const CS_OWNER = clientStatsLineRecord.field('CS_OWNER', 4, 'Int32 owner pid: 0 = free');
export const CS_STATE = clientStatsLineRecord.field('CS_STATE', 4, 'Int32 CS_IN_USE, or CS_RELEASED once its client closed');
export const CS_COUNTERS = clientStatsLineRecord.field('CS_COUNTERS', CLIENT_STAT_COUNT * 8, 'CLIENT_STAT_COUNT f64 (ClientStat), written by the owner only', 8);
export const CLIENT_STATS_LINE_BYTES = clientStatsLineRecord.field('CLIENT_STATS_LINE_BYTES', 0, 'the end: whole cache lines', CACHE_LINE);

/*
 * CLIENT STATS AREA (offsets from RegionLayout.clientStatsOffset)
 *   offset    bytes  field
 *        0        4  CS_SEQ                    Int32 fold seqlock: odd while the server folds a line (main thread only)
 *       64      128  CS_RETIRED                retired counters: CLIENT_STAT_COUNT f64, the sums of every line folded so far
 *      192   131072  CS_LINES                  CLIENT_STATS_LINES lines (CLIENT STATS LINE)
 *   131264        0  CLIENT_STATS_BYTES        the end
 */
export const clientStatsAreaRecord = new Fields('CLIENT STATS AREA (offsets from RegionLayout.clientStatsOffset)');
export const CS_SEQ = clientStatsAreaRecord.field('CS_SEQ', 4, 'Int32 fold seqlock: odd while the server folds a line (main thread only)');
export const CS_RETIRED = clientStatsAreaRecord.line().field('CS_RETIRED', CLIENT_STATS_LINE_BYTES, 'retired counters: CLIENT_STAT_COUNT f64, the sums of every line folded so far', CACHE_LINE);
export const CS_LINES = clientStatsAreaRecord.line().field('CS_LINES', CLIENT_STATS_LINES * CLIENT_STATS_LINE_BYTES, 'CLIENT_STATS_LINES lines (CLIENT STATS LINE)', CACHE_LINE);
export const CLIENT_STATS_BYTES = clientStatsAreaRecord.field('CLIENT_STATS_BYTES', 0, 'the end');
