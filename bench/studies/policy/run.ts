/**
 * The eviction-policy study (issue 11): miss ratio of each policy on each
 * trace at 1%, 10% and 50% of the trace's distinct keys, then hit throughput.
 * Prints Markdown to stdout (bench/studies/POLICY.md quotes it), progress to stderr.
 *
 *   node dist/bench/studies/policy/run.js [-n REQUESTS] [-r RUNS]
 *
 * Deterministic: traces are seeded, so the miss ratios are exactly
 * reproducible; only the throughput figures vary from run to run.
 */
import * as os from 'node:os';
import { ClockHash } from './clock-hash';
import { Policy, PolicyFactory } from './list';
import { Clock, Lru, Sieve } from './policies';
import { S3Fifo } from './s3fifo';
import { scanTrace, shiftTrace, Trace, zipfTrace } from './traces';

const POLICIES: PolicyFactory[] = [
  (c, k) => new Lru(c, k),
  (c, k) => new Clock(c, k),
  (c, k) => new ClockHash(c, k),
  (c, k) => new Sieve(c, k),
  (c, k) => new S3Fifo(c, k),
  (c, k) => new S3Fifo(c, k, 1),
  (c, k) => new S3Fifo(c, k, 1, 1),
];
const FRACTIONS = [0.01, 0.1, 0.5];
const N = 100_000;

function parseArgs(argv: string[]): { requests: number; runs: number } {
  let requests = 2_000_000;
  let runs = 5;
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === '-n') requests = Number(argv[++i]);
    else if (a === '-r') runs = Number(argv[++i]);
    else {
      process.stderr.write('usage: node dist/bench/studies/policy/run.js [-n REQUESTS (2000000)] [-r RUNS (5)]\n');
      process.exit(a === '-h' ? 0 : 2);
    }
  }
  if (!(Number.isInteger(requests) && requests >= 1000)) throw new Error(`-n: bad request count ${requests}`);
  if (!(Number.isInteger(runs) && runs >= 1)) throw new Error(`-r: bad run count ${runs}`);
  return { requests, runs };
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}

function pct(x: number): string {
  return (100 * x).toFixed(2);
}

/**
 * Metadata each policy would add per entry in the store, beyond what an
 * entry already has (8-byte index slot, 24-byte header with two spare bytes
 * at 14-15 that hold a visited bit or a 2-bit counter for free). Reasoning in
 * bench/studies/POLICY.md; used only for the equal-memory table.
 */
const META_BYTES: Record<string, number> = {
  LRU: 8, // older/newer u32 offsets in the header
  CLOCK: 8, // u32 offset in an insertion-order ring + the entry's ring position (entries move on update)
  'CLOCK-hash': 0, // the hand sweeps the index itself
  SIEVE: 8, // older/newer u32 offsets: the hand evicts from the middle
  'S3-FIFO': 18, // 8 for the S and M queues (as SIEVE) + ghost: 0.9 x 8 B (fingerprint, stamp) at 75% load
  'S3-FIFO(t=1)': 18,
  'S3-FIFO(1 bit)': 18,
};
/** Bytes of a small entry without policy metadata: block header, entry header, key and value, index slot. */
const SMALL_ENTRY_BYTES = 64;

/**
 * One row per (trace, fraction); `capOf(base, name)` turns the base entry
 * count into each policy's capacity (identity, or the equal-memory one).
 * Ends with each policy's mean and worst gap to the row's best, in points.
 */
function missTable(traces: Trace[], fractions: number[], names: string[], capOf: (base: number, name: string) => number): string[] {
  const out: string[] = [];
  const gaps: number[][] = names.map(() => []);
  out.push(`| trace | cache (entries) | cold floor | ${names.join(' | ')} |`);
  out.push(`|---|---:|---:|${names.map(() => '---:').join('|')}|`);
  for (const t of traces) {
    for (const f of fractions) {
      const base = Math.max(1, Math.floor(t.distinct * f));
      const ratios = POLICIES.map((make, i) => {
        const t0 = performance.now();
        const p = make(Math.max(1, capOf(base, names[i])), t.keySpace);
        const r = p.replay(t.keys, 0, t.keys.length) / t.keys.length;
        process.stderr.write(`  ${t.name} ${f * 100}% ${p.name} cap ${p.capacity}: ${pct(r)}% (${((performance.now() - t0) / 1000).toFixed(1)} s)\n`);
        return r;
      });
      const best = Math.min(...ratios);
      ratios.forEach((r, i) => gaps[i].push(100 * (r - best)));
      const cells = ratios.map((r) => (r === best ? `**${pct(r)}**` : pct(r)));
      const floor = pct(t.distinct / t.keys.length);
      out.push(`| ${t.name} | ${f * 100}% (${base.toLocaleString('en-US')}) | ${floor} | ${cells.join(' | ')} |`);
    }
  }
  const mean = (xs: number[]): number => xs.reduce((a, b) => a + b, 0) / xs.length;
  out.push(`| *gap to row best, mean (points)* | | | ${gaps.map((g) => mean(g).toFixed(2)).join(' | ')} |`);
  out.push(`| *gap to row best, worst (points)* | | | ${gaps.map((g) => Math.max(...g).toFixed(2)).join(' | ')} |`);
  return out;
}

/** Passes over the trace per timed run: ~6M accesses, long enough to dwarf timer and scheduler granularity. */
const PASSES = 3;

/**
 * Accesses per second of CPU time of `PASSES` replays (the policy is built
 * and prefilled untimed). CPU time rather than wall time because the machine
 * is shared: a run that is preempted for 100 ms keeps its CPU time but not
 * its wall time, and wall-time medians on a loaded 2-core box were useless.
 */
function timeReplay(p: Policy, keys: Uint32Array, expectMisses: number | null): number {
  const c0 = process.cpuUsage();
  let misses = 0;
  for (let k = 0; k < PASSES; k++) misses += p.replay(keys, 0, keys.length);
  const c = process.cpuUsage(c0);
  if (expectMisses !== null && misses !== expectMisses) throw new Error(`${p.name}: ${misses} misses on an all-hit run`);
  return (PASSES * keys.length * 1e6) / (c.user + c.system);
}

function throughputTable(zipf: Trace, runs: number, names: string[]): string[] {
  const hit: number[][] = names.map(() => []);
  const mixed: number[][] = names.map(() => []);
  const mixedCap = Math.floor(zipf.distinct * 0.1);
  const prefill = new Uint32Array(zipf.keySpace);
  for (let i = 0; i < prefill.length; i++) prefill[i] = i;
  for (let r = 0; r < runs; r++) {
    // Interleaved, and rotated each round, so a noisy neighbour on the shared
    // machine hurts every policy alike rather than whichever ran then.
    for (let j = 0; j < POLICIES.length; j++) {
      const i = (j + r) % POLICIES.length;
      const p = POLICIES[i](zipf.keySpace, zipf.keySpace);
      p.replay(prefill, 0, prefill.length);
      hit[i].push(timeReplay(p, zipf.keys, 0));
      mixed[i].push(timeReplay(POLICIES[i](mixedCap, zipf.keySpace), zipf.keys, null));
    }
    process.stderr.write(`  throughput round ${r + 1}/${runs} done\n`);
  }
  const m = (x: number): string => (x / 1e6).toFixed(1);
  const out: string[] = [];
  out.push(`| policy | all hits: M accesses per CPU-s (median; min-max) | zipf 0.99 at 10%, misses included: M accesses per CPU-s (median; min-max) |`);
  out.push(`|---|---:|---:|`);
  names.forEach((name, i) => {
    const h = hit[i];
    const x = mixed[i];
    out.push(`| ${name} | ${m(median(h))} (${m(Math.min(...h))}-${m(Math.max(...h))}) | ${m(median(x))} (${m(Math.min(...x))}-${m(Math.max(...x))}) |`);
  });
  return out;
}

function main(): void {
  const { requests, runs } = parseArgs(process.argv.slice(2));
  process.stderr.write(`generating traces (${requests} requests each)\n`);
  const zipf = zipfTrace(N, 0.99, requests, 1);
  // Cycles of 60k zipf requests then a 20k-key scan: 25% of requests are scans.
  const scan = scanTrace(N, 0.99, requests, 60_000, 20_000, 2);
  const shift = shiftTrace(N, 0.99, requests, Math.max(1000, Math.floor(requests / 8)), 3);
  const traces = [zipf, scan, shift];
  const names = POLICIES.map((make) => make(1, 1).name);

  const lines: string[] = [];
  lines.push(`Node ${process.version}, ${os.cpus()[0]?.model ?? 'unknown CPU'} (${os.cpus().length} cores), ${new Date().toISOString()}`);
  lines.push(`\`node dist/bench/studies/policy/run.js -n ${requests} -r ${runs}\`; ${N.toLocaleString('en-US')}-key working set, ${requests.toLocaleString('en-US')} requests per trace.`);
  lines.push('');
  lines.push('Traces:');
  for (const t of traces) lines.push(`- ${t.name}: ${t.distinct.toLocaleString('en-US')} distinct keys`);
  lines.push('');
  lines.push('### Miss ratio (%), lower is better; best per row in bold');
  lines.push('');
  lines.push('Cache size is a fraction of the trace\'s distinct keys. "cold floor" = distinct keys / requests, the misses no policy avoids.');
  lines.push('');
  lines.push(...missTable(traces, FRACTIONS, names, (base) => base));
  lines.push('');
  lines.push(`### Miss ratio (%) at equal memory, ${SMALL_ENTRY_BYTES}-byte entries`);
  lines.push('');
  lines.push(
    `The same budget as the first table's 1% and 10% rows (that many entries x ${SMALL_ENTRY_BYTES} B), minus each policy's metadata: ` +
      names.map((n) => `${n} ${META_BYTES[n]} B`).join(', ') +
      ` per entry, so a policy holds budget / (${SMALL_ENTRY_BYTES} + metadata) entries. "cache" is the ${SMALL_ENTRY_BYTES}-byte-entry count.`,
  );
  lines.push('');
  lines.push(...missTable(traces, [0.01, 0.1], names, (base, name) => Math.floor((base * SMALL_ENTRY_BYTES) / (SMALL_ENTRY_BYTES + META_BYTES[name]))));
  lines.push('');
  lines.push(`### Simulated throughput (medians of ${runs} interleaved runs)`);
  lines.push('');
  lines.push(`Accesses per CPU-second (process.cpuUsage), ${PASSES} passes over the zipf 0.99 trace per run. All hits: a cache of all ${N.toLocaleString('en-US')} keys, prefilled untimed. With misses: a fresh cache of 10% of the distinct keys, warm-up included. Indicative only: this is the policy's bookkeeping in JS typed arrays, not the store's hit path (seqlock, hashing, key compare, value decode), and it is single-threaded, so LRU's relinking costs no cache-line transfers here as it would under concurrent readers.`);
  lines.push('');
  lines.push(...throughputTable(zipf, runs, names));
  process.stdout.write(lines.join('\n') + '\n');
}

main();
