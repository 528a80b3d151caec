/**
 * ./server: run the key-value server until SIGINT or SIGTERM.
 */
import { parse, runCli, usage } from './args';
import { SERVER_SPEC, serverOptionsOf } from './server-spec';
import { Server } from '../server/server';
import { Connection } from '../client/connection';
import { dropCache } from '../server/cache-files';
import { defaultDataDir, removeRegularFile } from '../layout/data-file';
import { lockServer, refuseForeignFile, unlinkIfOurs, unlockServer } from '../server/region-files';
import { resolveRegionPath } from '../layout/region';
import { D_SNAPSHOT_RESULT, D_SNAPSHOTS, SnapshotResult } from '../layout/data-meta';
import { ServerError, RegionError, ServerGoneError } from '../errors';

/** How long --snapshot-now waits for the server's snapshot. */
const SNAPSHOT_WAIT_MS = 600_000;

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
  const server = await Server.start(serverOptionsOf(o, regionPath));
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
