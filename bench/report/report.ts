/**
 * The bench's human-readable outputs: a short Markdown summary and a
 * hand-written SVG chart of throughput against window size, one line per
 * client thread count (log-log axes), with Redis and LMDB where measured.
 */
import * as fs from 'node:fs';
import { libraryMarkdown, targetDetailLines } from './library-report';
import type { Results, SystemResult } from './results';

const k = (x: number | undefined | null): string => (x === undefined || x === null || !Number.isFinite(x) ? '–' : x >= 100 ? x.toFixed(0) : x.toFixed(1));
const us = (x: number | undefined | null): string => (x === undefined || x === null || !Number.isFinite(x) ? '–' : x >= 100 ? x.toFixed(0) : x.toFixed(1));
/** Throughput, marked † when other processes kept >= NOISY cores busy (median over the runs). */
const NOISY = 0.5;
const tp = (s: SystemResult | undefined): string => (s ? `${k(s.median.throughputKps)}${(s.median.foreignCores ?? 0) >= NOISY ? ' †' : ''}` : '–');
const lat = (s: SystemResult | undefined): string => (s ? `${us(s.median.p50Us)} / ${us(s.median.p99Us)} / ${us(s.median.p999Us)}` : '–');
const ratio = (x: number | undefined): string => (x === undefined || !Number.isFinite(x) ? '–' : `${x.toFixed(2)}x`);

export function writeMarkdown(file: string, r: Results): void {
  const m = r.meta as Record<string, unknown>;
  const L: string[] = [];
  const wlLabel = new Map(r.workloads.map((w) => [w.id, w.label]));
  L.push(`# Benchmark results${m.quick ? ' (quick mode)' : ''}${m.complete ? '' : ` (PARTIAL: ${m.repsDone} repetition(s) done so far)`}`);
  L.push('');
  L.push(
    `\`${m.command}\` — ${m.started}, ${m.durationSec} s, ${m.requestsPerRun} requests per run, ${m.reps} repetitions (medians; ` +
      `systems interleaved), ${m.keys} keys prefilled, node ${m.node}, ${m.cpus} cores (${m.cpuModel}), load average at the end ${(m.loadavgAtEnd as number[]).join(' ')}.`,
  );
  L.push('');
  L.push('Throughput in K requests/s (median of the repetitions); latency = submit-to-completion per request, p50 / p99 / p99.9 in µs (medians of the per-repetition percentiles).');
  if (m.foreignCoresMedian !== null && m.foreignCoresMedian !== undefined) {
    L.push(
      `The machine may be shared: other processes kept a median ${m.foreignCoresMedian} of ${m.cpus} cores busy during the runs, and ${Math.round(
        100 * (m.quietRunsShare as number),
      )}% of the runs were quiet (others < 0.25 cores); † marks figures whose runs had a median of ${NOISY} cores or more taken by others, and "quiet" columns use the quiet runs only.`,
    );
  }
  const ov = m.timingOverheadPercentByWindow as Record<string, number> | undefined;
  if (ov && Object.keys(ov).length) {
    L.push(
      `This store's throughput comes from untimed runs and its latencies from separate timed runs: the timed runs (one process.hrtime.bigint() per request) lost a median of ${Object.entries(
        ov,
      )
        .map(([w, x]) => `${x}% at window ${w.slice(1)}`)
        .join(', ')} (quiet runs; negative: the timed runs were faster).`,
    );
  }
  L.push('');

  // Targets.
  L.push('## Targets');
  L.push('');
  const groups = new Map<string, { met: number; within: number; missed: string[]; quietMet: number; quietOf: number }>();
  for (const t of r.targets) {
    const g = groups.get(t.name) ?? { met: 0, within: 0, missed: [], quietMet: 0, quietOf: 0 };
    if (t.quietMet !== null) {
      g.quietOf++;
      if (t.quietMet) g.quietMet++;
    }
    if (t.status === 'met') g.met++;
    else {
      if (t.status === 'missed (within noise)') g.within++;
      g.missed.push(`${t.point} (${t.ratio}x${t.status === 'missed (within noise)' ? ', within noise' : ''})`);
    }
    groups.set(t.name, g);
  }
  L.push('| target | met | missed | met on quiet runs | where missed (ratio of medians) |');
  L.push('| --- | ---: | ---: | ---: | --- |');
  for (const [name, g] of groups) L.push(`| ${name} | ${g.met} | ${g.missed.length} | ${g.quietMet} of ${g.quietOf} | ${g.missed.join('; ') || '–'} |`);
  L.push('');
  L.push(...targetDetailLines(r));
  L.push(...libraryMarkdown(r.library));

  // Quiet vs loaded (the loaded section, issue 12).
  // Sorted like the README's table (window 1 first), whatever order the sections added the points in.
  const ld = r.points.filter((p) => p.loaded).sort((a, b) => a.clientThreads - b.clientThreads || a.window - b.window || a.serverThreads - b.serverThreads);
  // Loaded ratios can be far below 0.01x on a busy machine: keep them readable.
  const small = (x: number | undefined): string => (x !== undefined && Number.isFinite(x) && x < 0.1 ? `${x.toFixed(3)}x` : ratio(x));
  if (ld.length) {
    const lm = m.loaded as { procs: number; loadedSeconds?: number } | undefined;
    L.push('## Quiet vs loaded');
    L.push('');
    L.push(
      `This store at the headline points (the u32 replay of the 50/50 uniform workload, fine locking, against the bench's running, prefilled server): in every repetition a quiet run and a run beside ` +
        `${lm?.procs ?? 'N'} busy-looping processes (one per core, normal priority), back to back, ${ld[0].loaded!.requests} requests each` +
        `${lm?.loadedSeconds ? ` or fewer (a run stops after ${lm.loadedSeconds} s)` : ''}. ` +
        'loaded / quiet is the ratio of the medians: the share of its quiet throughput the store keeps when every core is also wanted by another process.',
    );
    L.push('');
    L.push('| client | quiet K/s | loaded / quiet | loaded K/s | latency quiet | latency loaded |');
    L.push('| --- | ---: | ---: | ---: | --- | --- |');
    for (const p of ld)
      L.push(
        `| \`-n ${p.clientThreads} -w ${p.window} -t ${p.serverThreads}\` | ${tp(p.loaded!.quiet)} | ${small(p.ratios.loadedVsQuiet)} | ${tp(p.loaded!.loaded)} | ${lat(p.loaded!.quiet)} | ${lat(p.loaded!.loaded)} |`,
      );
    L.push('');
  }

  // Comparison.
  const cmp = r.points.filter((p) => p.compare && (p.systems.redis || p.systems.lmdb));
  if (cmp.length) {
    const rd = m.redis as { version: string; mode: string } | null;
    const lm = m.lmdb as { version: string; options: string } | null;
    L.push('## This store vs Redis and LMDB');
    L.push('');
    L.push(
      `Same workload, same client threads, same requests in flight. This store: fine locking, 2 server threads. ` +
        (rd ? `Redis ${rd.version}: ioredis, unix socket, persistence off, ${rd.mode === 'batch' ? 'pipeline() of W commands per exec' : 'sliding window of W commands'}; ` : '') +
        (lm ? `LMDB: lmdb ${lm.version} (${lm.options}), putSync at window 1, async put with up to W in flight otherwise.` : ''),
    );
    L.push('');
    L.push('| workload | client threads | window | this store K/s | Redis K/s | LMDB K/s | vs Redis | vs LMDB | vs Redis, quiet | vs LMDB, quiet | latency this store | latency Redis | latency LMDB |');
    L.push('| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- | --- | --- |');
    for (const p of cmp)
      L.push(
        `| ${wlLabel.get(p.workload)} | ${p.clientThreads} | ${p.window} | ${tp(p.systems.shmkv)} | ${tp(p.systems.redis)} | ${tp(p.systems.lmdb)} | ${ratio(p.ratios.vsRedis)} | ${ratio(p.ratios.vsLmdb)} | ${ratio(p.ratios.vsRedisQuiet)} | ${ratio(p.ratios.vsLmdbQuiet)} | ${lat(p.systems.shmkv)} | ${lat(p.systems.redis)} | ${lat(p.systems.lmdb)} |`,
      );
    L.push('');
  }

  // Locking matrix.
  const fine = r.points.filter((p) => p.locking === 'fine' && p.sections.includes('locking'));
  const byId = new Map(r.points.map((p) => [p.id, p]));
  if (fine.length) {
    L.push('## Coarse vs fine locking');
    L.push('');
    L.push('| workload | client threads | window | server threads | coarse K/s | fine K/s | fine/coarse | fine/coarse, quiet | latency coarse | latency fine |');
    L.push('| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- | --- |');
    for (const p of fine) {
      const c = byId.get(p.id.replace(/\/fine$/, '/coarse'));
      const f = p.systems.shmkv;
      const cs = c?.systems.shmkv;
      L.push(
        `| ${wlLabel.get(p.workload)} | ${p.clientThreads} | ${p.window} | ${p.serverThreads} | ${tp(cs)} | ${tp(f)} | ${
          f && cs ? ratio(f.median.throughputKps / cs.median.throughputKps) : '–'
        } | ${f?.quiet.throughputKps && cs?.quiet.throughputKps ? ratio(f.quiet.throughputKps / cs.quiet.throughputKps) : '–'} | ${lat(cs)} | ${lat(f)} |`,
      );
    }
    L.push('');
  }

  // The table alone.
  const tab = r.table ?? [];
  if (tab.length) {
    const byTid = new Map(tab.map((t) => [t.id, t]));
    L.push('## The hash table alone: coarse vs fine');
    L.push('');
    L.push('Table.getU32/putU32 straight from 1 or 2 threads on one data buffer (bench/workers/table-worker.ts): no ring, no board, no client; what locking alone changes.');
    L.push('');
    L.push('| workload | threads | coarse K/s | fine K/s | fine/coarse | fine/coarse, quiet |');
    L.push('| --- | ---: | ---: | ---: | ---: | ---: |');
    const tk = (t: { median: { throughputKps: number; foreignCores: number | null } } | undefined): string =>
      t ? `${k(t.median.throughputKps)}${(t.median.foreignCores ?? 0) >= NOISY ? ' †' : ''}` : '–';
    for (const f of tab.filter((t) => t.locking === 'fine')) {
      const c = byTid.get(f.id.replace(/\/fine$/, '/coarse'));
      L.push(
        `| ${wlLabel.get(f.workload)} | ${f.threads} | ${tk(c)} | ${tk(f)} | ${c ? ratio(f.median.throughputKps / c.median.throughputKps) : '–'} | ${
          c && f.quiet.throughputKps && c.quiet.throughputKps ? ratio(f.quiet.throughputKps / c.quiet.throughputKps) : '–'
        } |`,
      );
    }
    L.push('');
  }

  // Scaling grid.
  const sc = r.points.filter((p) => p.sections.includes('scaling'));
  if (sc.length) {
    const cs = [...new Set(sc.map((p) => p.clientThreads))].sort((a, b) => a - b);
    const ws = [...new Set(sc.map((p) => p.window))].sort((a, b) => a - b);
    L.push('## Scaling (50/50 uniform, fine locking, 2 server threads): K/s, p99 µs in brackets');
    L.push('');
    L.push(`| client threads \\ window | ${ws.join(' | ')} |`);
    L.push(`| ---: | ${ws.map(() => '---:').join(' | ')} |`);
    for (const c of cs) {
      const row = ws.map((w) => {
        const p = sc.find((x) => x.clientThreads === c && x.window === w);
        const s = p?.systems.shmkv;
        return s ? `${tp(s)} (${us(s.median.p99Us)})` : '–';
      });
      L.push(`| ${c} | ${row.join(' | ')} |`);
    }
    L.push('');
    L.push('![throughput](throughput.svg)');
    L.push('');
  }
  if (r.notes.length) {
    L.push('## Notes');
    L.push('');
    for (const n of r.notes) L.push(`- ${n}`);
    L.push('');
  }
  fs.writeFileSync(file, L.join('\n'));
}

// ---- SVG ---------------------------------------------------------------------

const COLORS = ['#1f77b4', '#2ca02c', '#9467bd', '#8c564b', '#17becf'];
const ALT_COLORS: Record<string, string> = { redis: '#d62728', lmdb: '#ff7f0e' };

function esc(s: string): string {
  return s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
}

export function writeSvg(file: string, r: Results): void {
  const sc = r.points.filter((p) => p.sections.includes('scaling') && p.systems.shmkv);
  // Alternatives at the comparison points of the scaling workload.
  const alt = r.points.filter((p) => p.compare && p.workload === 'mixed-uniform');
  // Points: [window, K/s, noisy (others kept >= NOISY cores busy)].
  type Series = { name: string; color: string; dash: string; pts: Array<[number, number, boolean]> };
  const noisy = (s: SystemResult): boolean => (s.median.foreignCores ?? 0) >= NOISY;
  const series: Series[] = [];
  const cs = [...new Set(sc.map((p) => p.clientThreads))].sort((a, b) => a - b);
  cs.forEach((c, i) => {
    const pts = sc
      .filter((p) => p.clientThreads === c)
      .map((p): [number, number, boolean] => [p.window, p.systems.shmkv!.median.throughputKps, noisy(p.systems.shmkv!)])
      .sort((a, b) => a[0] - b[0]);
    series.push({ name: `this store, ${c} client thread${c > 1 ? 's' : ''}`, color: COLORS[i % COLORS.length], dash: '', pts });
  });
  for (const sys of ['redis', 'lmdb'] as const) {
    for (const c of [...new Set(alt.map((p) => p.clientThreads))].sort((a, b) => a - b)) {
      const pts = alt
        .filter((p) => p.clientThreads === c && p.systems[sys])
        .map((p): [number, number, boolean] => [p.window, p.systems[sys]!.median.throughputKps, noisy(p.systems[sys]!)])
        .sort((a, b) => a[0] - b[0]);
      if (pts.length) series.push({ name: `${sys === 'redis' ? 'Redis' : 'LMDB'}, ${c} client thread${c > 1 ? 's' : ''}`, color: ALT_COLORS[sys], dash: c === 1 ? '6 4' : '2 3', pts });
    }
  }
  const W = 760;
  const H = 460;
  const ml = 70;
  const mr = 250;
  const mt = 40;
  const mb = 50;
  const all = series.flatMap((s) => s.pts);
  const xs = all.map((p) => p[0]);
  const ys = all.map((p) => p[1]).filter((y) => y > 0);
  const x0 = Math.log2(Math.min(1, ...xs));
  const x1 = Math.max(Math.log2(Math.max(2, ...xs)), x0 + 1);
  // Axis ends on the 1-2-5 ticks around the data.
  const ticks = (e0: number, e1: number): number[] => {
    const t: number[] = [];
    for (let e = e0; e <= e1; e++) for (const m of [1, 2, 5]) t.push(m * 10 ** e);
    return t;
  };
  const lo = Math.min(...ys, 1000);
  const hi = Math.max(...ys, 10);
  const cand = ticks(Math.floor(Math.log10(lo)) - 1, Math.ceil(Math.log10(hi)) + 1);
  const y0 = Math.log10(cand.filter((t) => t <= lo).pop()!);
  const y1 = Math.log10(cand.find((t) => t >= hi)!);
  const px = (x: number): number => ml + ((Math.log2(x) - x0) / (x1 - x0)) * (W - ml - mr);
  const py = (y: number): number => mt + (1 - (Math.log10(y) - y0) / (y1 - y0)) * (H - mt - mb);
  const S: string[] = [];
  S.push(`<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}" font-family="sans-serif" font-size="12">`);
  S.push(`<rect width="${W}" height="${H}" fill="white"/>`);
  S.push(`<text x="${ml}" y="22" font-size="15" font-weight="bold">Throughput vs window and client threads (50/50, uniform keys, median of ${esc(String(r.meta.reps))})</text>`);
  // Grid and axes.
  for (const y of cand) {
    const ly = Math.log10(y);
    if (ly < y0 - 1e-9 || ly > y1 + 1e-9) continue;
    const yy = py(y);
    S.push(`<line x1="${ml}" y1="${yy.toFixed(1)}" x2="${W - mr}" y2="${yy.toFixed(1)}" stroke="${Math.abs(ly - Math.round(ly)) < 1e-9 ? '#ccc' : '#eee'}"/>`);
    S.push(`<text x="${ml - 6}" y="${(yy + 4).toFixed(1)}" text-anchor="end" fill="#444">${y >= 1000 ? `${y / 1000}M` : `${y}K`}</text>`);
  }
  for (let e = Math.ceil(x0); e <= Math.floor(x1); e++) {
    const xx = px(2 ** e);
    S.push(`<line x1="${xx.toFixed(1)}" y1="${mt}" x2="${xx.toFixed(1)}" y2="${H - mb}" stroke="#eee"/>`);
    S.push(`<text x="${xx.toFixed(1)}" y="${H - mb + 16}" text-anchor="middle" fill="#444">${2 ** e}</text>`);
  }
  S.push(`<rect x="${ml}" y="${mt}" width="${W - ml - mr}" height="${H - mt - mb}" fill="none" stroke="#888"/>`);
  S.push(`<text x="${(ml + W - mr) / 2}" y="${H - 12}" text-anchor="middle">window (requests in flight per client thread, log scale)</text>`);
  S.push(`<text transform="translate(18 ${(mt + H - mb) / 2}) rotate(-90)" text-anchor="middle">requests/s (log scale)</text>`);
  // Series.
  series.forEach((s, i) => {
    const d = s.pts.map((p, j) => `${j ? 'L' : 'M'}${px(p[0]).toFixed(1)} ${py(p[1]).toFixed(1)}`).join(' ');
    S.push(`<path d="${d}" fill="none" stroke="${s.color}" stroke-width="2"${s.dash ? ` stroke-dasharray="${s.dash}"` : ''}/>`);
    for (const p of s.pts)
      S.push(
        `<circle cx="${px(p[0]).toFixed(1)}" cy="${py(p[1]).toFixed(1)}" r="${p[2] ? 4.5 : 3}" fill="${p[2] ? 'white' : s.color}" stroke="${s.color}" stroke-width="1.5"><title>${esc(s.name)}, window ${p[0]}: ${p[1].toFixed(0)} K/s${p[2] ? ' (noisy: other processes busy)' : ''}</title></circle>`,
      );
    const ly = mt + 10 + i * 20;
    S.push(`<line x1="${W - mr + 12}" y1="${ly}" x2="${W - mr + 40}" y2="${ly}" stroke="${s.color}" stroke-width="2"${s.dash ? ` stroke-dasharray="${s.dash}"` : ''}/>`);
    S.push(`<text x="${W - mr + 46}" y="${ly + 4}">${esc(s.name)}</text>`);
  });
  const ny = mt + 10 + series.length * 20 + 10;
  S.push(`<circle cx="${W - mr + 26}" cy="${ny}" r="4.5" fill="white" stroke="#555" stroke-width="1.5"/>`);
  S.push(`<text x="${W - mr + 46}" y="${ny + 4}">others kept ≥ ${NOISY} cores busy</text>`);
  S.push(`<text x="${W - mr + 46}" y="${ny + 20}">(median of the runs): noisy</text>`);
  S.push('</svg>');
  fs.writeFileSync(file, S.join('\n') + '\n');
}

