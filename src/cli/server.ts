/**
 * ./server: run the key-value server until SIGINT or SIGTERM.
 */
import { parse, parseIntArg, runCli, usage, Spec } from './args';
import { Server, DEFAULT_MAX_TABLE_BYTES } from '../server/server';
import { resolveRegionPath } from '../layout/region';
import {
  DEFAULT_MAX_KEY_BYTES,
  DEFAULT_MAX_VALUE_BYTES,
  DEFAULT_RING_CAPACITY,
  DEFAULT_WINDOW_COUNT,
  MAX_KEY_BYTES_LIMIT,
  MAX_RING_CAPACITY,
  MAX_SERVER_THREADS,
  MAX_VALUE_BYTES_LIMIT,
  MAX_WINDOWS,
} from '../layout/layout';
import { ServerError, RegionError } from '../errors';

const MiB = 1024 * 1024;

export const SERVER_SPEC = {
  threads: { kind: 'int', short: 'n', min: 1, max: MAX_SERVER_THREADS, def: 1, arg: 'N', help: 'worker threads' },
  size: { kind: 'int', short: 's', min: 1, max: 2 ** 30, def: 1024, arg: 'N', help: 'initial hash-table size (buckets)' },
  capacity: { kind: 'int', short: 'c', min: 1, max: MAX_WINDOWS, def: DEFAULT_WINDOW_COUNT, arg: 'N', help: 'board windows: room for the sum over clients of threads x window' },
  ring: { kind: 'int', short: 'r', min: 1, max: MAX_RING_CAPACITY, def: DEFAULT_RING_CAPACITY, arg: 'N', help: 'ring capacity (a power of two)' },
  memory: { kind: 'int', short: 'm', min: 1, max: 4095, def: DEFAULT_MAX_TABLE_BYTES / MiB, arg: 'MiB', help: 'cap on the table memory (the data file size)' },
  'max-key-bytes': { kind: 'int', min: 64, max: MAX_KEY_BYTES_LIMIT, def: DEFAULT_MAX_KEY_BYTES, arg: 'N', help: 'longest key in bytes' },
  'max-value-bytes': { kind: 'int', min: 64, max: MAX_VALUE_BYTES_LIMIT, def: DEFAULT_MAX_VALUE_BYTES, arg: 'N', help: 'longest value in bytes' },
  eviction: { kind: 'string', arg: 'POLICY', help: "at the memory cap: 'clock' evicts entries (default), 'none' refuses new writes" },
  ttl: { kind: 'int', min: 0, max: 2 ** 32 - 1, def: 0, arg: 'MS', help: 'time to live of writes that give none, in ms (0: never expire)' },
  'data-dir': { kind: 'string', arg: 'DIR', help: 'directory of the data file (default $SHMKV_DATA_DIR, else /dev/shm)' },
  coarse: { kind: 'bool', help: 'one lock for the whole table (for comparison)' },
  'metrics-port': { kind: 'string', arg: 'PORT', help: 'serve Prometheus metrics at http://127.0.0.1:PORT/metrics (0: any free port, printed)' },
  path: { kind: 'string', short: 'p', arg: 'FILE', help: 'region file (default $SHMKV_PATH or ./shmem_file)' },
  quiet: { kind: 'bool', short: 'q', help: 'print nothing when ready' },
  help: { kind: 'bool', short: 'h', help: 'show this help' },
} satisfies Spec;

runCli('server', [ServerError, RegionError], async () => {
  const o = parse(SERVER_SPEC, process.argv.slice(2));
  if (o.help) {
    process.stdout.write(usage('server', '-n THREADS -s INITIAL_TABLE_SIZE [options]', SERVER_SPEC));
    return 0;
  }
  const server = await Server.start({
    path: resolveRegionPath(o.path),
    threads: o.threads,
    initialBuckets: o.size,
    windows: o.capacity,
    ringCapacity: o.ring,
    maxTableBytes: o.memory * MiB,
    coarse: o.coarse,
    maxKeyBytes: o['max-key-bytes'],
    maxValueBytes: o['max-value-bytes'],
    dataDir: o['data-dir'],
    defaultTtlMs: o.ttl,
    eviction: o.eviction as 'clock' | 'none' | undefined,
    metricsPort: o['metrics-port'] === undefined ? undefined : parseIntArg('--metrics-port', o['metrics-port'], 0, 65535),
  });
  const stop = (): void => void server.stop();
  process.on('SIGINT', stop);
  process.on('SIGTERM', stop);
  if (!o.quiet)
    process.stderr.write(`server: ready, pid ${process.pid}, region ${server.region.path}, ${o.threads} thread(s), ${o.coarse ? 'coarse' : 'fine-grained'} locking\n`);
  if (server.metricsAddress) process.stderr.write(`server: metrics at http://${server.metricsAddress.host}:${server.metricsAddress.port}/metrics\n`);
  await server.done;
  await server.stop();
  return 0;
});
