/**
 * ./server: run the key-value server until SIGINT or SIGTERM.
 */
import { parse, parseIntArg, runCli, usage, Spec } from './args';
import * as path from 'node:path';
import { Server, DEFAULT_MAX_TABLE_BYTES } from '../server/server';
import type { EvictionPolicy } from '../store/table-format';
import { Connection } from '../client/connection';
import { dropCache } from '../server/cache-files';
import { defaultDataDir, removeRegularFile } from '../layout/data-file';
import { lockServer, refuseForeignFile, unlinkIfOurs, unlockServer } from '../server/region-files';
import { resolveRegionPath } from '../layout/region';
import { MAX_RING_CAPACITY, MAX_WINDOWS } from '../layout/board';
import { D_SNAPSHOT_RESULT, D_SNAPSHOTS, MAX_DATA_BYTES, MIN_DATA_BYTES, SnapshotResult } from '../layout/data-meta';
import { DEFAULT_MAX_KEY_BYTES, DEFAULT_MAX_VALUE_BYTES, MAX_KEY_BYTES_LIMIT, MAX_VALUE_BYTES_LIMIT } from '../layout/keys-values';
import { DEFAULT_RING_CAPACITY, DEFAULT_WINDOW_COUNT } from '../layout/region-file';
import { MAX_SERVER_THREADS } from '../layout/region-header';
import { ServerError, RegionError, ServerGoneError } from '../errors';

const MiB = 1024 * 1024;
/** How long --snapshot-now waits for the server's snapshot. */
const SNAPSHOT_WAIT_MS = 600_000;

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

runCli('server', [ServerError, RegionError, ServerGoneError], async () => {
  const o = parse(SERVER_SPEC, process.argv.slice(2));
  if (o.help) {
    process.stdout.write(usage('server', '-n THREADS -s INITIAL_TABLE_SIZE [options]', SERVER_SPEC));
    return 0;
  }
  const regionPath = resolveRegionPath(o.path);
  if (o['snapshot-now']) return snapshotNow(regionPath);
  if (o.drop) {
    // The region lock says whether a server still serves the path.
    const lock = lockServer(regionPath);
    try {
      const removed = dropCache(regionPath, o['data-dir'] ?? defaultDataDir());
      refuseAndRemoveRegion(regionPath);
      process.stderr.write(`server: dropped the cache of ${regionPath}${removed.length ? ` (${removed.join(', ')})` : ' (it had no table)'}\n`);
    } finally {
      unlinkIfOurs(`${regionPath}.lock`, lock.id);
      unlockServer(lock.fd);
    }
    return 0;
  }
  const server = await Server.start({
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
  });
  const stop = (): void => void server.stop();
  process.on('SIGINT', stop);
  process.on('SIGTERM', stop);
  process.on('SIGUSR1', () => void server.snapshot());
  if (!o.quiet) {
    const a = server.adoption;
    const loaded = server.loadedKeys;
    const cache = a
      ? `adopted ${a.keys} key(s) from ${server.dataPath} in ${a.ms} ms${a.dropped + a.duplicates > 0 ? ` (${a.dropped + a.duplicates} damaged slot(s) dropped)` : ''}${a.rebooted ? ', deadlines moved to this boot' : ''}`
      : loaded !== null
        ? `${loaded} key(s) from the snapshot in ${server.dataPath}`
        : `an empty table in ${server.dataPath}`;
    process.stderr.write(`server: ready, pid ${process.pid}, region ${server.region.path}, ${o.threads} thread(s), ${o.coarse ? 'coarse' : 'fine-grained'} locking, ${cache}\n`);
  }
  if (server.metricsAddress) process.stderr.write(`server: metrics at http://${server.metricsAddress.host}:${server.metricsAddress.port}/metrics\n`);
  await server.done;
  await server.stop();
  return 0;
});

/** --drop: the region file goes too, when it is one (never a user's file). */
function refuseAndRemoveRegion(regionPath: string): void {
  refuseForeignFile(regionPath);
  removeRegularFile(regionPath);
}

/**
 * --snapshot-now: SIGUSR1 to the path's running server, then wait until its
 * data file counts one more finished snapshot, and say how it went.
 */
async function snapshotNow(regionPath: string): Promise<number> {
  const conn = Connection.open({ path: regionPath });
  const meta = new DataView(conn.data.header.meta);
  const before = meta.getUint32(D_SNAPSHOTS, true);
  process.kill(conn.region.serverPid(), 'SIGUSR1');
  const deadline = Date.now() + SNAPSHOT_WAIT_MS;
  while (meta.getUint32(D_SNAPSHOTS, true) === before) {
    conn.checkServer();
    if (Date.now() > deadline) throw new ServerGoneError(`the server (pid ${conn.region.serverPid()}) wrote no snapshot in ${SNAPSHOT_WAIT_MS / 1000} s`);
    await new Promise((r) => setTimeout(r, 20));
  }
  const result = meta.getUint32(D_SNAPSHOT_RESULT, true);
  if (result === SnapshotResult.Written) {
    process.stderr.write('server: the snapshot is written (the server said where in its log)\n');
    return 0;
  }
  process.stderr.write(result === SnapshotResult.NoFile ? 'server: that server has no --snapshot file: start it with --snapshot FILE\n' : 'server: the snapshot failed: see the server\'s log\n');
  return 1;
}
