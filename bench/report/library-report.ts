/**
 * The "library" section in latest.md (its targets with their figures, the
 * calls quiet and loaded, the value-size sweep) and library-sweep.svg
 * (throughput against value size, one line per system and call, log-log,
 * drawn like throughput.svg).
 */
import * as fs from 'node:fs';
import type { LibStat, LibraryResult, Results } from './results';

const NOISY = 0.5;
const kps = (s: LibStat | null | undefined): string =>
  !s || !Number.isFinite(s.median) ? '–' : `${s.median >= 100 ? s.median.toFixed(0) : s.median >= 1 ? s.median.toFixed(1) : s.median.toFixed(3)}${(s.foreignCores ?? 0) >= NOISY ? ' †' : ''}`;
const usPer = (s: LibStat | null | undefined): string => (!s || !(s.median > 0) ? '–' : 1000 / s.median >= 100 ? (1000 / s.median).toFixed(0) : (1000 / s.median).toFixed(2));
const range = (s: LibStat | null | undefined): string => (!s ? '–' : `${s.min}-${s.max}`);
const x = (v: number | undefined): string => (v === undefined || !Number.isFinite(v) ? '–' : v < 0.1 ? `${v.toFixed(3)}x` : `${v.toFixed(2)}x`);
const size = (b: number): string => (b >= 1048576 ? `${b / 1048576} MiB` : b >= 1024 ? `${b / 1024} KiB` : `${b} B`);

/** Targets of the library section and the u32 replay, one row each with the figures. */
export function targetDetailLines(r: Results): string[] {
  const ts = r.targets.filter((t) => t.name.startsWith('library:') || t.name.startsWith('u32 replay ') || t.name.startsWith('end-to-end '));
  if (!ts.length) return [];
  const L = ['Issue 9 / issue 12 targets on the library calls, the u32 replay and the end-to-end ceiling, one by one:', '', '| target | status | ratio | want | figures (medians; rep ranges) |', '| --- | --- | ---: | ---: | --- |'];
  for (const t of ts) L.push(`| ${t.name.replace(/^library: /, '')} | **${t.status}** | ${x(t.ratio)} | ${t.want}x | ${t.detail} |`);
  L.push('');
  return L;
}

/** The section's Markdown (empty when the run had no library section). */
export function libraryMarkdown(lib: LibraryResult | undefined): string[] {
  if (!lib || !lib.cases.length) return [];
  const m = lib.meta as Record<string, unknown> & { headline: { keys: number; valueBytes: number } };
  const L: string[] = [];
  L.push('## Library calls (16-byte string keys; 100-byte string values, and ~200 B objects: "obj")');
  L.push('');
  L.push(
    `One call at a time at random keys of ${m.headline.keys} prefilled keys, each measurement in its own client process ` +
      `(\`${m.worker}\`): ${m.warmupMs} ms of warm-up, then ${m.timedMs} ms timed; "loaded" beside ${m.loadProcs} busy-looping processes, ` +
      `quiet and loaded back to back. This store: ${m.shmkv}. lmdb-js ${m.lmdbVersion}: ${m.lmdb}; value encoding: ${m.lmdbEncoding ?? '?'}. Redis: ${m.redis}. ` +
      (m.objects ? `Objects ("obj" rows): ${m.objects}. lru-cache: ${m.lru}. ` : '') +
      'Medians of the repetitions, interleaved; † marks figures whose runs had other processes keep 0.5 cores or more busy.',
  );
  L.push('');
  L.push('| call | quiet K/s | µs/call | quiet reps | loaded K/s | loaded reps | loaded / quiet |');
  L.push('| --- | ---: | ---: | --- | ---: | --- | ---: |');
  for (const c of lib.cases)
    L.push(
      `| ${c.label} | ${kps(c.quiet)} | ${usPer(c.quiet)} | ${range(c.quiet)} | ${kps(c.loaded)} | ${range(c.loaded)} | ${c.quiet && c.loaded ? x(c.loaded.median / c.quiet.median) : '–'} |`,
    );
  L.push('');
  const R = lib.ratios;
  L.push('| ratio of medians | quiet | loaded |');
  L.push('| --- | ---: | ---: |');
  L.push(`| getSync / lmdb-js get | ${x(R.getSyncVsLmdbGet)} | ${x(R.getSyncVsLmdbGetLoaded)} |`);
  L.push(`| setSync / lmdb-js putSync (default, synced) | ${x(R.setSyncVsLmdbPutSync)} | ${x(R.setSyncVsLmdbPutSyncLoaded)} |`);
  L.push(`| setSync / lmdb-js putSync (noSync) | ${x(R.setSyncVsLmdbPutSyncNoSync)} | – |`);
  L.push(`| setSync / Redis SET | ${x(R.setSyncVsRedisSet)} | ${x(R.setSyncVsRedisSetLoaded)} |`);
  L.push(`| await get() / getSync | ${x(R.awaitGetVsGetSync)} | ${x(R.awaitGetVsGetSyncLoaded)} |`);
  L.push(`| await set() / setSync | ${x(R.awaitSetVsSetSync)} | ${x(R.awaitSetVsSetSyncLoaded)} |`);
  L.push(`| getSync obj / lmdb-js get obj | ${x(R.getSyncObjVsLmdbGetObj)} | ${x(R.getSyncObjVsLmdbGetObjLoaded)} |`);
  L.push(`| getSync obj, hot keys, localCache / lru-cache get, hot keys | ${x(R.hotGetSyncObjVsLruHot)} | ${x(R.hotGetSyncObjVsLruHotLoaded)} |`);
  L.push(`| getSync obj / lru-cache get obj | ${x(R.getSyncObjVsLruGetObj)} | – |`);
  L.push(`| setSync obj / lmdb-js putSync obj (noSync) | ${x(R.setSyncObjVsLmdbPutSyncObjNoSync)} | ${x(R.setSyncObjVsLmdbPutSyncObjNoSyncLoaded)} |`);
  L.push(`| getSync obj / Redis GET obj | ${x(R.getSyncObjVsRedisGetObj)} | – |`);
  L.push(`| setSync obj / Redis SET obj | ${x(R.setSyncObjVsRedisSetObj)} | – |`);
  L.push('');
  if (lib.sweep.length) {
    const sizes = [...new Set(lib.sweep.map((s) => s.valueBytes))];
    const cols = [...new Set(lib.sweep.map((s) => `${s.system}/${s.op}`))];
    const name = (c: string): string => ({ 'shmkv/get': 'getSync', 'shmkv/set': 'setSync', 'lmdb/get': 'lmdb get', 'lmdb/set': 'lmdb putSync', 'redis/get': 'Redis GET', 'redis/set': 'Redis SET' })[c] ?? c;
    L.push(`## Value-size sweep (16-byte string keys, string values; quiet; K/s, ${m.sweepMs} ms timed per point)`);
    L.push('');
    L.push(`| value | keys | ${cols.map(name).join(' | ')} |`);
    L.push(`| ---: | ---: | ${cols.map(() => '---:').join(' | ')} |`);
    for (const b of sizes) {
      const row = lib.sweep.filter((s) => s.valueBytes === b);
      L.push(`| ${size(b)} | ${row[0].keys} | ${cols.map((c) => kps(row.find((s) => `${s.system}/${s.op}` === c)?.stat)).join(' | ')} |`);
    }
    L.push('');
    L.push('![value-size sweep](library-sweep.svg)');
    L.push('');
  }
  return L;
}

const STYLE: Record<string, { color: string; label: string }> = {
  shmkv: { color: '#1f77b4', label: 'this store' },
  lmdb: { color: '#ff7f0e', label: 'lmdb-js' },
  redis: { color: '#d62728', label: 'Redis' },
};

function esc(s: string): string {
  return s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
}

/** library-sweep.svg: K/s against value size, get solid and set dashed, log-log. */
export function writeSweepSvg(file: string, lib: LibraryResult | undefined): void {
  if (!lib || !lib.sweep.length) return;
  type Series = { name: string; color: string; dash: string; pts: Array<[number, number, boolean]> };
  const series: Series[] = [];
  for (const sys of ['shmkv', 'lmdb', 'redis'] as const)
    for (const op of ['get', 'set'] as const) {
      const pts = lib.sweep
        .filter((s) => s.system === sys && s.op === op && s.stat && s.stat.median > 0)
        .map((s): [number, number, boolean] => [s.valueBytes, s.stat!.median, (s.stat!.foreignCores ?? 0) >= NOISY]);
      const call = sys === 'shmkv' ? (op === 'get' ? 'getSync' : 'setSync') : sys === 'lmdb' ? (op === 'get' ? 'get' : 'putSync') : op.toUpperCase();
      if (pts.length) series.push({ name: `${STYLE[sys].label} ${call}`, color: STYLE[sys].color, dash: op === 'set' ? '6 4' : '', pts });
    }
  if (!series.length) return;
  const W = 760;
  const H = 460;
  const [ml, mr, mt, mb] = [70, 230, 40, 50];
  const all = series.flatMap((s) => s.pts);
  const x0 = Math.log2(Math.min(...all.map((p) => p[0])));
  const x1 = Math.max(Math.log2(Math.max(...all.map((p) => p[0]))), x0 + 1);
  const ys = all.map((p) => p[1]);
  const ticks: number[] = [];
  for (let e = Math.floor(Math.log10(Math.min(...ys))) - 1; e <= Math.ceil(Math.log10(Math.max(...ys))) + 1; e++) for (const k of [1, 2, 5]) ticks.push(k * 10 ** e);
  const y0 = Math.log10(ticks.filter((t) => t <= Math.min(...ys)).pop()!);
  const y1 = Math.log10(ticks.find((t) => t >= Math.max(...ys))!);
  const px = (v: number): number => ml + ((Math.log2(v) - x0) / (x1 - x0)) * (W - ml - mr);
  const py = (v: number): number => mt + (1 - (Math.log10(v) - y0) / Math.max(y1 - y0, 1e-9)) * (H - mt - mb);
  const S: string[] = [];
  S.push(`<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}" font-family="sans-serif" font-size="12">`);
  S.push(`<rect width="${W}" height="${H}" fill="white"/>`);
  S.push(`<text x="${ml}" y="22" font-size="15" font-weight="bold">Library calls vs value size (one at a time, 16 B string keys, median of the repetitions)</text>`);
  for (const t of ticks) {
    const lt = Math.log10(t);
    if (lt < y0 - 1e-9 || lt > y1 + 1e-9) continue;
    const yy = py(t).toFixed(1);
    S.push(`<line x1="${ml}" y1="${yy}" x2="${W - mr}" y2="${yy}" stroke="${Math.abs(lt - Math.round(lt)) < 1e-9 ? '#ccc' : '#eee'}"/>`);
    S.push(`<text x="${ml - 6}" y="${(Number(yy) + 4).toFixed(1)}" text-anchor="end" fill="#444">${t >= 1000 ? `${t / 1000}M` : t >= 1 ? `${t}K` : `${Math.round(t * 1000)}`}</text>`);
  }
  for (const b of [...new Set(all.map((p) => p[0]))]) {
    const xx = px(b).toFixed(1);
    S.push(`<line x1="${xx}" y1="${mt}" x2="${xx}" y2="${H - mb}" stroke="#eee"/>`);
    S.push(`<text x="${xx}" y="${H - mb + 16}" text-anchor="middle" fill="#444">${size(b)}</text>`);
  }
  S.push(`<rect x="${ml}" y="${mt}" width="${W - ml - mr}" height="${H - mt - mb}" fill="none" stroke="#888"/>`);
  S.push(`<text x="${(ml + W - mr) / 2}" y="${H - 12}" text-anchor="middle">value size (bytes, log scale)</text>`);
  S.push(`<text transform="translate(18 ${(mt + H - mb) / 2}) rotate(-90)" text-anchor="middle">calls/s (log scale)</text>`);
  series.forEach((s, i) => {
    const d = s.pts.map((p, j) => `${j ? 'L' : 'M'}${px(p[0]).toFixed(1)} ${py(p[1]).toFixed(1)}`).join(' ');
    S.push(`<path d="${d}" fill="none" stroke="${s.color}" stroke-width="2"${s.dash ? ` stroke-dasharray="${s.dash}"` : ''}/>`);
    for (const p of s.pts)
      S.push(
        `<circle cx="${px(p[0]).toFixed(1)}" cy="${py(p[1]).toFixed(1)}" r="${p[2] ? 4.5 : 3}" fill="${p[2] ? 'white' : s.color}" stroke="${s.color}" stroke-width="1.5"><title>${esc(s.name)}, ${size(p[0])}: ${p[1].toPrecision(3)} K/s${p[2] ? ' (noisy: other processes busy)' : ''}</title></circle>`,
      );
    const ly = mt + 10 + i * 20;
    S.push(`<line x1="${W - mr + 12}" y1="${ly}" x2="${W - mr + 40}" y2="${ly}" stroke="${s.color}" stroke-width="2"${s.dash ? ` stroke-dasharray="${s.dash}"` : ''}/>`);
    S.push(`<text x="${W - mr + 46}" y="${ly + 4}">${esc(s.name)}</text>`);
  });
  const ny = mt + 10 + series.length * 20 + 10;
  S.push(`<circle cx="${W - mr + 26}" cy="${ny}" r="4.5" fill="white" stroke="#555" stroke-width="1.5"/>`);
  S.push(`<text x="${W - mr + 46}" y="${ny + 4}">others kept ≥ ${NOISY} cores busy</text>`);
  S.push('</svg>');
  fs.writeFileSync(file, S.join('\n') + '\n');
}
