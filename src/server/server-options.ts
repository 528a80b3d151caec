/**
 * A server's options, stated once. `Server.start` takes ServerOptions;
 * `connect({ start: true, server })` takes StartOptions (client/start.ts),
 * the part of them a spawned server's command line carries, under the same
 * names and with the same meaning. A contract only: it imports types and
 * nothing else, so the client can name these without loading the server.
 */
import type { EvictionPolicy } from '../store/table-format';
import type { WaitPolicy } from '../sync/waiter';

/** The table's memory budget when none is given (./server -m 1024). */
export const DEFAULT_MAX_TABLE_BYTES = 1024 * 1024 * 1024;

export interface ServerOptions {
  /** Region file path (default $SHMKV_PATH or ./shmem_file). */
  path?: string;
  /** Worker threads serving requests (./server and start: true: 1). */
  threads: number;
  /** Initial hash-table buckets (./server and start: true: 1024). */
  initialBuckets: number;
  /** Windows on the board: the sum of all attached clients' threads x window (default 8192). */
  windows?: number;
  /** Ring capacity, a power of two (default 1024). */
  ringCapacity?: number;
  /** Cap on the table's memory (the data file's size), in bytes (default 1 GiB; start: true wants a whole number of MiB). */
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
