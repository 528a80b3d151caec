/**
 * ./server's command line: its flags (SERVER_SPEC) and the ServerOptions
 * they make. Its own module (cli/server.ts runs the CLI when imported), so
 * that a test can read back what start: true writes (client/start.ts).
 */
import * as path from 'node:path';
import { parseIntArg, Parsed, Spec } from './args';
import type { EvictionPolicy } from '../store/table-format';
import { DEFAULT_MAX_TABLE_BYTES, type ServerOptions } from '../server/server-options';
import { MAX_RING_CAPACITY, MAX_WINDOWS } from '../layout/board';
import { MAX_DATA_BYTES, MIN_DATA_BYTES } from '../layout/data-meta';
import { DEFAULT_MAX_KEY_BYTES, DEFAULT_MAX_VALUE_BYTES, MAX_KEY_BYTES_LIMIT, MAX_VALUE_BYTES_LIMIT } from '../layout/keys-values';
import { DEFAULT_RING_CAPACITY, DEFAULT_WINDOW_COUNT } from '../layout/region-file';
import { MAX_SERVER_THREADS } from '../layout/region-header';

const MiB = 1024 * 1024;

export const SERVER_SPEC = {
  threads: { kind: 'int', short: 'n', min: 1, max: MAX_SERVER_THREADS, def: 1, arg: 'N', help: 'worker threads' },
  size: { kind: 'int', short: 's', min: 1, max: 2 ** 30, def: 1024, arg: 'N', help: 'initial hash-table size (buckets)' },
  capacity: { kind: 'int', short: 'c', min: 1, max: MAX_WINDOWS, def: DEFAULT_WINDOW_COUNT, arg: 'N', help: 'board windows: room for the sum over clients of threads x window' },
  ring: { kind: 'int', short: 'r', min: 1, max: MAX_RING_CAPACITY, def: DEFAULT_RING_CAPACITY, arg: 'N', help: 'ring capacity (a power of two)' },
  memory: { kind: 'int', short: 'm', min: MIN_DATA_BYTES / MiB, max: MAX_DATA_BYTES / MiB, def: DEFAULT_MAX_TABLE_BYTES / MiB, arg: 'MiB', help: 'cap on the table memory (the data file size)' },
  'max-key-bytes': { kind: 'int', min: 64, max: MAX_KEY_BYTES_LIMIT, def: DEFAULT_MAX_KEY_BYTES, arg: 'N', help: 'longest key in bytes' },
  'max-value-bytes': { kind: 'int', min: 0, max: MAX_VALUE_BYTES_LIMIT, def: 0, arg: 'N', help: `longest value in bytes (0: ${DEFAULT_MAX_VALUE_BYTES}, or a quarter of the memory when -m is small)` },
  eviction: { kind: 'string', arg: 'POLICY', help: "at the memory cap: 's3fifo' (default) or 'clock' evicts entries, 'none' refuses new writes" },
  ttl: { kind: 'int', min: 0, max: 2 ** 32 - 1, def: 0, arg: 'MS', help: 'time to live of writes that give none, in ms (0: never expire)' },
  'data-dir': { kind: 'string', arg: 'DIR', help: 'directory of the data file (default $SHMKV_DATA_DIR, else /dev/shm)' },
  coarse: { kind: 'bool', help: 'one lock for the whole table (for comparison)' },
  fresh: { kind: 'bool', help: "start empty: do not adopt the table the path's previous server left" },
  temporary: { kind: 'bool', help: 'start empty and remove the region and the table at stop' },
  drop: { kind: 'bool', help: "remove a stopped server's region and table (its cache) and exit" },
  snapshot: { kind: 'string', arg: 'FILE', help: 'write the table to FILE at a clean stop, on SIGUSR1 (or --snapshot-now) and every --snapshot-interval; load it at start when there is no data file to adopt' },
  'snapshot-interval': { kind: 'int', min: 0, max: 2 ** 31 / 1000, def: 0, arg: 'S', help: 'seconds between snapshots (0: only at stop and on request)' },
  'snapshot-now': { kind: 'bool', help: "ask the path's running server for a snapshot, wait until it is written, and exit" },
  'metrics-port': { kind: 'string', arg: 'PORT', help: 'serve Prometheus metrics at http://127.0.0.1:PORT/metrics (0: any free port, printed)' },
  path: { kind: 'string', short: 'p', arg: 'FILE', help: 'region file (default $SHMKV_PATH or ./shmem_file)' },
  quiet: { kind: 'bool', short: 'q', help: 'print nothing when ready' },
  help: { kind: 'bool', short: 'h', help: 'show this help' },
} satisfies Spec;

/** The options of the server that flags `o` ask for at `regionPath` (UsageError for a bad --metrics-port). */
export function serverOptionsOf(o: Parsed<typeof SERVER_SPEC>, regionPath: string): ServerOptions {
  return {
    path: regionPath,
    fresh: o.fresh,
    temporary: o.temporary,
    snapshot: o.snapshot === undefined ? undefined : path.resolve(o.snapshot),
    snapshotIntervalS: o['snapshot-interval'],
    threads: o.threads,
    initialBuckets: o.size,
    windows: o.capacity,
    ringCapacity: o.ring,
    maxTableBytes: o.memory * MiB,
    coarse: o.coarse,
    maxKeyBytes: o['max-key-bytes'],
    maxValueBytes: o['max-value-bytes'] === 0 ? undefined : o['max-value-bytes'],
    dataDir: o['data-dir'],
    defaultTtlMs: o.ttl,
    eviction: o.eviction as EvictionPolicy | undefined,
    metricsPort: o['metrics-port'] === undefined ? undefined : parseIntArg('--metrics-port', o['metrics-port'], 0, 65535),
  };
}
