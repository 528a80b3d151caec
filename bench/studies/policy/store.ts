/**
 * The eviction policies in the real store (issue 23): the study's traces
 * (traces.ts) replayed against a Table at a memory cap, as a cache is used:
 * each request is a client's direct read (TableReader: a hit stores the
 * visited hint, as in production), and a miss writes the key (a string key
 * `k<n>`, a VALUE_BYTES value), which evicts once the table is full. The
 * table is in private memory (table-format.ts memoryTable), one thread, so
 * the figures are the policies', not the transport's; the queue compaction
 * runs every TIDY_EVERY requests, as the server's tick would.
 *
 * Prints Markdown to stdout: per trace, the miss ratio of `--eviction
 * s3fifo` and `--eviction clock` in the store, and the simulations' LRU,
 * CLOCK-hash and S3-FIFO(1 bit) (policies.ts, clock-hash.ts, s3fifo.ts) with
 * as many entries as the S3-FIFO table held at the end; then the cost of a
 * set at the cap (each one evicting) and of a get (a hit), medians of
 * interleaved rounds. Progress on stderr.
 *
 *   node dist/bench/studies/policy/store.js [-n REQUESTS] [-m MiB]
 */
import * as os from 'node:os';
import { Table } from '../../../src/store/table';
import { ReadResult, TableReader } from '../../../src/store/table-reader';
import { KeyEncoder } from '../../../src/store/keys';
import { EvictionPolicy, memoryTable } from '../../../src/store/table-format';
import { Status } from '../../../src/layout/board';
import { Stat } from '../../../src/layout/data-meta';
import { ValueTag } from '../../../src/layout/keys-values';
import { S3Fifo as StoreS3Fifo } from '../../../src/store/s3fifo';
import { ClockHash } from './clock-hash';
import { Lru } from './policies';
import { S3Fifo } from './s3fifo';
import { scanTrace, shiftTrace, Trace, zipfTrace } from './traces';

const N = 100_000;
const VALUE_BYTES = 100;
const TIDY_EVERY = 10_000;
const VALUE = Buffer.alloc(VALUE_BYTES, 0x61);

interface StoreTable {
  t: Table;
  r: TableReader;
  enc: KeyEncoder;
}

function storeTable(mib: number, eviction: EvictionPolicy): StoreTable {
  const parts = memoryTable({ initialBuckets: 1, seed: 0x5eed, dataBytes: mib * 2 ** 20, eviction });
  return { t: new Table(parts), r: new TableReader(parts.header, parts.chunks), enc: new KeyEncoder(4096, parts.header.seed) };
}

/** One request: a hit, or a miss that writes the key. */
function access(s: StoreTable, key: number): boolean {
  s.enc.encode(`k${key}`);
  if (s.r.read(s.enc.bytes, s.enc.length, s.enc.hash, false) === ReadResult.Found) return true;
  const st = s.t.set(s.enc.bytes, 0, s.enc.length, VALUE, 0, VALUE_BYTES, ValueTag.String);
  if (st !== Status.Ok) throw new Error(`set of k${key}: status ${st}`);
  return false;
}

function replayStore(mib: number, eviction: EvictionPolicy, trace: Trace): { misses: number; held: number; evictions: number; queueBytes: number } {
  const s = storeTable(mib, eviction);
  let misses = 0;
  for (let i = 0; i < trace.keys.length; i++) {
    if (!access(s, trace.keys[i])) misses++;
    if (i % TIDY_EVERY === 0) s.t.tidy(TIDY_EVERY);
  }
  // What S3-FIFO's rings and ghost hold in private memory at the end (s3fifo.ts bytes()).
  const queueBytes = s.t.evictor instanceof StoreS3Fifo ? s.t.evictor.bytes() : 0;
  return { misses, held: s.t.size(), evictions: s.t.stats[Stat.Evictions], queueBytes };
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}

const pct = (misses: number, t: Trace): string => ((100 * misses) / t.keys.length).toFixed(2);

/** Nanoseconds per call of `n` gets of held keys (hits), then of `n` sets of new keys into the full table (each evicts). */
function costs(mib: number, eviction: EvictionPolicy, n: number, round: number): { set: number; get: number } {
  const s = storeTable(mib, eviction);
  let k = 0;
  while (s.t.stats[Stat.Evictions] < 10_000) access(s, k++);
  // The newest 1000 keys still held (read once here: visited, as hot keys are).
  const keys: string[] = [];
  for (let i = k - 1; i >= 0 && keys.length < 1000; i--) {
    s.enc.encode(`k${i}`);
    if (s.r.read(s.enc.bytes, s.enc.length, s.enc.hash, false) === ReadResult.Found) keys.push(`k${i}`);
  }
  let found = 0;
  const t0 = process.hrtime.bigint();
  for (let i = 0; i < n; i++) {
    s.enc.encode(keys[i % keys.length]);
    if (s.r.read(s.enc.bytes, s.enc.length, s.enc.hash, false) === ReadResult.Found) found++;
  }
  const t1 = process.hrtime.bigint();
  if (found !== n) throw new Error(`${eviction}: ${n - found} gets of held keys missed`);
  const evictions = s.t.stats[Stat.Evictions];
  const t2 = process.hrtime.bigint();
  for (let i = 0; i < n; i++) {
    s.enc.encode(`k${k++}-${round}`);
    s.t.set(s.enc.bytes, 0, s.enc.length, VALUE, 0, VALUE_BYTES, ValueTag.String);
  }
  const t3 = process.hrtime.bigint();
  if (s.t.stats[Stat.Evictions] - evictions < n) throw new Error(`${eviction}: sets at the cap evicted ${s.t.stats[Stat.Evictions] - evictions} < ${n}`);
  return { get: Number(t1 - t0) / n, set: Number(t3 - t2) / n };
}

function parseArgs(argv: string[]): { requests: number; mib: number } {
  let requests = 1_000_000;
  let mib = 2;
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === '-n') requests = Number(argv[++i]);
    else if (a === '-m') mib = Number(argv[++i]);
    else {
      process.stderr.write('usage: node dist/bench/studies/policy/store.js [-n REQUESTS (1000000)] [-m MiB (2)]\n');
      process.exit(a === '-h' ? 0 : 2);
    }
  }
  if (!(Number.isInteger(requests) && requests >= 100_000)) {
    process.stderr.write(`-n: a request count of at least 100000, got ${requests}\n`);
    process.exit(2);
  }
  if (!(Number.isInteger(mib) && mib >= 1 && mib <= 1024)) {
    process.stderr.write(`-m: MiB in 1..1024, got ${mib}\n`);
    process.exit(2);
  }
  return { requests, mib };
}

function main(): void {
  const { requests, mib } = parseArgs(process.argv.slice(2));
  const traces = [
    zipfTrace(N, 0.99, requests, 1),
    // The study's: cycles of 60k zipf requests then a 20k-key scan (25% of requests).
    scanTrace(N, 0.99, requests, 60_000, 20_000, 2),
    // Scan-heavy: cycles of 20k zipf requests then a 60k-key scan (75%).
    scanTrace(N, 0.99, requests, 20_000, 60_000, 4),
    shiftTrace(N, 0.99, requests, Math.max(1000, Math.floor(requests / 8)), 3),
  ];
  const out: string[] = [];
  out.push(`Node ${process.version}, ${os.cpus()[0]?.model ?? 'unknown CPU'} (${os.cpus().length} cores), ${new Date().toISOString()}`);
  out.push(`\`node dist/bench/studies/policy/store.js -n ${requests} -m ${mib}\`: a ${mib} MiB table, ${VALUE_BYTES}-byte values under keys \`k<n>\`, ${requests.toLocaleString('en-US')} requests per trace over a ${N.toLocaleString('en-US')}-key working set.`);
  out.push('');
  out.push('| trace | distinct keys | entries held (s3fifo / clock) | S3-FIFO queues, B per entry held | store s3fifo | store clock | sim LRU | sim CLOCK-hash | sim S3-FIFO(1 bit) |');
  out.push('|---|---:|---:|---:|---:|---:|---:|---:|---:|');
  for (const t of traces) {
    const s3 = replayStore(mib, 's3fifo', t);
    const ck = replayStore(mib, 'clock', t);
    if (s3.evictions === 0 || ck.evictions === 0) throw new Error(`${t.name}: the table never reached its cap (-m too large)`);
    const cap = s3.held;
    const sims = [new Lru(cap, t.keySpace), new ClockHash(cap, t.keySpace), new S3Fifo(cap, t.keySpace, 1, 1)].map((p) => p.replay(t.keys, 0, t.keys.length));
    const row = [pct(s3.misses, t), pct(ck.misses, t), ...sims.map((m) => pct(m, t))];
    process.stderr.write(`  ${t.name}: ${row.join(' ')}\n`);
    out.push(`| ${t.name} | ${t.distinct.toLocaleString('en-US')} | ${s3.held.toLocaleString('en-US')} / ${ck.held.toLocaleString('en-US')} | ${(s3.queueBytes / s3.held).toFixed(1)} | ${row.join(' | ')} |`);
  }
  out.push('');
  out.push('Miss ratio (%), lower is better; "sim" columns: the study\'s simulations with as many entries as the S3-FIFO table held at the end.');
  out.push('');
  const ROUNDS = 7;
  const n = 50_000;
  const policies: EvictionPolicy[] = ['s3fifo', 'clock'];
  const sets: number[][] = policies.map(() => []);
  const gets: number[][] = policies.map(() => []);
  for (let r = 0; r < ROUNDS; r++) {
    // Interleaved, alternating which goes first: a noisy neighbour hurts both alike.
    for (let j = 0; j < policies.length; j++) {
      const i = (j + r) % policies.length;
      const c = costs(mib, policies[i], n, r);
      sets[i].push(c.set);
      gets[i].push(c.get);
    }
    process.stderr.write(`  cost round ${r + 1}/${ROUNDS}\n`);
  }
  out.push(`| policy | set at the cap, ns (median of ${ROUNDS}; min-max) | get (hit), ns (median; min-max) |`);
  out.push('|---|---:|---:|');
  policies.forEach((p, i) => {
    const f = (xs: number[]): string => `${median(xs).toFixed(0)} (${Math.min(...xs).toFixed(0)}-${Math.max(...xs).toFixed(0)})`;
    out.push(`| ${p} | ${f(sets[i])} | ${f(gets[i])} |`);
  });
  out.push('');
  out.push(`Wall clock per call over ${n.toLocaleString('en-US')} calls, one thread, in-process (no transport): a direct read of one of 1,000 held keys, then a set of a new key into the full table (every one evicting).`);
  process.stdout.write(out.join('\n') + '\n');
}

main();
