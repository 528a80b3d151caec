/**
 * ./stat: a server's counters, once or refreshing every -i seconds like
 * top, as a table or as one JSON object per line (--json). Reads shared
 * memory only: it reserves no window and sends no request.
 */
import { parse, runCli, usage, Spec, UsageError } from './args';
import { Connection } from '../client/connection';
import { readStats, Stats } from '../client/stats';
import { resolveRegionPath } from '../layout/region';
import { ServerGoneError, RegionError } from '../errors';
import { prometheusText } from '../server/metrics';

export const STAT_SPEC = {
  path: { kind: 'string', short: 'p', arg: 'FILE', help: 'region file (default $SHMKV_PATH or ./shmem_file)' },
  interval: { kind: 'int', short: 'i', min: 0, max: 3600, def: 0, arg: 'SECONDS', help: 'refresh every SECONDS until Ctrl-C (0: print once)' },
  json: { kind: 'bool', help: 'one JSON object per line instead of a table' },
  prometheus: { kind: 'bool', help: 'the Prometheus text exposition (counters summed over client processes)' },
  help: { kind: 'bool', short: 'h', help: 'show this help' },
} satisfies Spec;

const MiB = 1024 * 1024;

function table(s: Stats, opsPerSec: number | null): string {
  const rows: Array<[string, string]> = [
    ['keys', String(s.keys)],
    ['memory', `${(s.bytesUsed / MiB).toFixed(1)} MiB of ${(s.bytesBudget / MiB).toFixed(0)} MiB (${((100 * s.bytesUsed) / s.bytesBudget).toFixed(1)}%)`],
    ['requests', String(s.requests) + (opsPerSec === null ? '' : `  (${opsPerSec.toFixed(0)}/s)`)],
    ['sets', String(s.sets)],
    ['deletes', String(s.deletes)],
    ['evictions', String(s.evictions)],
    ['expirations', String(s.expirations)],
    ['server reads', String(s.serverReads)],
    ['refused (full)', String(s.refused)],
    ['clients', `${s.clients} process(es)`],
    ['server threads', String(s.serverThreads)],
    ['uptime', `${(s.uptimeMs / 1000).toFixed(0)} s`],
  ];
  return rows.map(([k, v]) => `${k.padEnd(16)} ${v}`).join('\n') + '\n';
}

runCli('stat', [RegionError, ServerGoneError], async () => {
  const o = parse(STAT_SPEC, process.argv.slice(2));
  if (o.help) {
    process.stdout.write(usage('stat', '[-p FILE] [-i SECONDS] [--json | --prometheus]', STAT_SPEC));
    return 0;
  }
  if (o.json && o.prometheus) throw new UsageError('--json and --prometheus are two different outputs: give one');
  const conn = Connection.open({ path: resolveRegionPath(o.path) });
  let last: { at: number; requests: number } | null = null;
  for (;;) {
    conn.checkServer();
    const s = readStats(conn, 0, 0);
    const now = Date.now();
    const rate = last && now > last.at ? ((s.requests - last.requests) * 1000) / (now - last.at) : null;
    last = { at: now, requests: s.requests };
    if (o.prometheus) {
      process.stdout.write(prometheusText(conn.region, conn.data.header));
    } else if (o.json) {
      const { hits: _h, misses: _m, localCache: _l, ...server } = s; // this process's own: not the server's
      process.stdout.write(JSON.stringify({ ...server, requestsPerSec: rate }) + '\n');
    } else {
      if (o.interval > 0 && process.stdout.isTTY) process.stdout.write('\x1b[H\x1b[2J');
      process.stdout.write(table(s, rate));
    }
    if (o.interval === 0) return 0;
    await new Promise((r) => setTimeout(r, o.interval * 1000));
  }
});
