/**
 * Metrics of a server and of every client process attached to it, in the
 * Prometheus text exposition format (version 0.0.4), for
 * `shmkv-stat --prometheus` and the server's `--metrics-port` endpoint
 * (metrics-http.ts). Read from shared memory only: the table's header and
 * the server threads' counter lines (data file), and the client stats
 * lines summed over processes (transport/client-stats.ts; this module's
 * MetricsFolder folds the lines of closed clients and dead processes, on
 * the server's main thread, so that the sums never go down).
 *
 * Names follow Prometheus's conventions (snake case, `shmkv_` prefix,
 * counters end in `_total`, sizes in bytes, times in seconds).
 */
import { ClientStats } from '../transport/client-stats';
import { sumStat } from '../store/counters';
import type { Region } from '../layout/region';
import type { DataHeader } from '../layout/data-file';
import { ClientStat } from '../layout/client-stats-area';
import { D_STARTED_AT, Stat } from '../layout/data-meta';
import { HDR_SERVER_THREADS } from '../layout/region-header';

/** The folder runs every tick; the liveness of owners (a syscall each) every LIVENESS_TICKS. */
const LIVENESS_TICKS = 10;

export class MetricsFolder {
  private ticks = 0;
  private readonly stats: ClientStats;

  constructor(region: Region) {
    this.stats = new ClientStats(region.sab, region.layout.clientStatsOffset);
  }

  tick(): void {
    this.stats.fold(++this.ticks % LIVENESS_TICKS === 0);
  }
}

interface Family {
  name: string;
  type: 'counter' | 'gauge';
  help: string;
  samples: Array<{ labels?: Record<string, string>; value: number }>;
}

const SERVER_COUNTERS: Array<[Stat, string, string]> = [
  [Stat.Requests, 'shmkv_requests_total', 'Requests the server threads took from the ring.'],
  [Stat.Sets, 'shmkv_sets_total', 'Writes the server applied (set, put, incr, compare-and-set).'],
  [Stat.Deletes, 'shmkv_deletes_total', 'Keys the server deleted.'],
  [Stat.Evictions, 'shmkv_evictions_total', 'Entries evicted at the memory budget.'],
  [Stat.Expirations, 'shmkv_expirations_total', 'Expired entries reclaimed.'],
  [Stat.ServerReads, 'shmkv_server_reads_total', 'Reads answered by a server thread (contended direct reads, ring gets).'],
  [Stat.Refused, 'shmkv_refused_total', 'Writes refused at the memory cap.'],
  [Stat.Repairs, 'shmkv_repairs_total', 'Chunks the server rebuilt because they held data no server wrote.'],
];

const CLIENT_COUNTERS: Array<[ClientStat, string, string]> = [
  [ClientStat.Hits, 'shmkv_hits_total', 'Direct reads that found a value, summed over client processes.'],
  [ClientStat.Misses, 'shmkv_misses_total', 'Direct reads that found none, summed over client processes.'],
  [ClientStat.StaleServed, 'shmkv_stale_served_total', 'Stale values served (grace), summed over client processes.'],
  [ClientStat.Loads, 'shmkv_loads_total', 'fetch() loader calls, summed over client processes.'],
  [ClientStat.LoadFailures, 'shmkv_load_failures_total', 'fetch() loader calls that threw, summed over client processes.'],
  [ClientStat.Refreshes, 'shmkv_background_loads_total', 'Loads that went on in the background (early refresh, a stale value served meanwhile).'],
];

/** The metric families of the server whose region and data file these are. */
export function collect(region: Region, data: DataHeader): Family[] {
  const sum = (stat: Stat): number => sumStat(data.stats, stat);
  const clients = new ClientStats(region.sab, region.layout.clientStatsOffset).sum();
  const out: Family[] = [
    { name: 'shmkv_keys', type: 'gauge', help: 'Keys stored (expired ones count until reclaimed).', samples: [{ value: Math.max(0, sum(Stat.Entries)) }] },
    { name: 'shmkv_memory_used_bytes', type: 'gauge', help: "Bytes of the table's heaps in use (entries and indexes).", samples: [{ value: Math.max(0, sum(Stat.UsedBytes)) }] },
    { name: 'shmkv_memory_budget_bytes', type: 'gauge', help: 'Size of the data file: the memory budget.', samples: [{ value: data.bytes }] },
    { name: 'shmkv_server_threads', type: 'gauge', help: 'Server worker threads.', samples: [{ value: region.headerGet(HDR_SERVER_THREADS) }] },
    { name: 'shmkv_client_lines', type: 'gauge', help: 'Client stats lines in use (attached clients that publish counters).', samples: [{ value: clients.lines }] },
    { name: 'shmkv_uptime_seconds', type: 'gauge', help: 'Seconds since the server started.', samples: [{ value: (Date.now() - new DataView(data.meta).getFloat64(D_STARTED_AT, true)) / 1000 }] },
  ];
  for (const [stat, name, help] of SERVER_COUNTERS) out.push({ name, type: 'counter', help, samples: [{ value: sum(stat) }] });
  for (const [stat, name, help] of CLIENT_COUNTERS) out.push({ name, type: 'counter', help, samples: [{ value: clients.counters[stat] }] });
  out.push({
    name: 'shmkv_fetch_timeouts_total',
    type: 'counter',
    help: 'fetch() timeouts: soft (a stale value served) and hard (the caller rejected), summed over client processes.',
    samples: [
      { labels: { kind: 'soft' }, value: clients.counters[ClientStat.SoftTimeouts] },
      { labels: { kind: 'hard' }, value: clients.counters[ClientStat.HardTimeouts] },
    ],
  });
  return out;
}

function number(v: number): string {
  if (Number.isNaN(v)) return 'NaN';
  if (v === Infinity) return '+Inf';
  if (v === -Infinity) return '-Inf';
  return String(v);
}

function labelText(labels: Record<string, string> | undefined): string {
  if (!labels) return '';
  const parts = Object.entries(labels).map(([k, v]) => `${k}="${v.replace(/\\/g, '\\\\').replace(/\n/g, '\\n').replace(/"/g, '\\"')}"`);
  return `{${parts.join(',')}}`;
}

/** The text exposition of `families`. */
export function exposition(families: Family[]): string {
  let s = '';
  for (const f of families) {
    s += `# HELP ${f.name} ${f.help.replace(/\\/g, '\\\\').replace(/\n/g, '\\n')}\n# TYPE ${f.name} ${f.type}\n`;
    for (const x of f.samples) s += `${f.name}${labelText(x.labels)} ${number(x.value)}\n`;
  }
  return s;
}

/** The Prometheus text of the server whose region and data file these are. */
export function prometheusText(region: Region, data: DataHeader): string {
  return exposition(collect(region, data));
}
