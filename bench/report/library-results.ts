/**
 * The "library" section's summaries: medians of the runs (all, and quiet
 * ones), the ratios issue 9 and issue 12 set targets for, and the targets.
 * Pure functions of the stored runs, so --rerender recomputes them.
 */
import type { LibCaseResult, LibraryResult, LibRun, LibStat, Target } from './results';
import { QUIET_CORES } from './results';
import { median, round } from './stats';

/** K/s with 3 significant digits at least (lmdb's synced putSync runs at ~0.1 K/s). */
const kr = (x: number): number => round(x, x >= 100 ? 1 : x >= 1 ? 2 : 4);

/** Medians of a call's runs (null without runs). */
export function statOf(runs: LibRun[]): LibStat | null {
  if (!runs.length) return null;
  const kps = runs.map((r) => r.kps);
  const quiet = runs.filter((r) => r.foreignCores !== null && r.foreignCores < QUIET_CORES);
  return {
    runs: runs.map((r) => ({ ...r, kps: kr(r.kps) })),
    median: kr(median(kps)),
    min: kr(Math.min(...kps)),
    max: kr(Math.max(...kps)),
    foreignCores: runs.some((r) => r.foreignCores !== null) ? round(median(runs.map((r) => r.foreignCores ?? 0)), 2) : null,
    quiet: { runs: quiet.length, kps: quiet.length ? kr(median(quiet.map((r) => r.kps))) : null },
  };
}

/** The ratio checks: [ratios key, numerator case, its setting, denominator case, its setting, target name, want]. */
const CHECKS: ReadonlyArray<readonly [string, string, 'quiet' | 'loaded', string, 'quiet' | 'loaded', string, number]> = [
  ['getSyncVsLmdbGet', 'shmkv/get', 'quiet', 'lmdb/get', 'quiet', 'library: getSync >= 1.5x lmdb-js get (16 B string keys, 100 B string values)', 1.5],
  ['getSyncLoadedVsQuiet', 'shmkv/get', 'loaded', 'shmkv/get', 'quiet', 'library: getSync loaded keeps >= 0.7x of quiet', 0.7],
  ['setSyncVsLmdbPutSync', 'shmkv/set', 'quiet', 'lmdb/set', 'quiet', 'library: setSync >= 3x lmdb-js putSync', 3],
  ['setSyncVsRedisSet', 'shmkv/set', 'quiet', 'redis/set', 'quiet', 'library: setSync >= 30x Redis SET one at a time (ioredis, unix socket)', 30],
  ['awaitGetVsGetSync', 'shmkv/aget', 'quiet', 'shmkv/get', 'quiet', 'library: one-at-a-time await get() >= 0.5x getSync (quiet)', 0.5],
  ['awaitSetVsSetSync', 'shmkv/aset', 'quiet', 'shmkv/set', 'quiet', 'library: one-at-a-time await set() >= 0.3x setSync (quiet)', 0.3],
  ['getSyncObjVsLmdbGetObj', 'shmkv/get/obj', 'quiet', 'lmdb/get/obj', 'quiet', 'library: getSync obj >= 2x lmdb-js get obj (~200 B objects, default codecs; issue 22)', 2],
  ['hotGetSyncObjVsLruHot', 'shmkv/hot/obj', 'quiet', 'lru/hot/obj', 'quiet', 'library: hot-key getSync obj with localCache >= 0.5x lru-cache get (issue 22)', 0.5],
  ['setSyncObjVsLmdbPutSyncObjNoSync', 'shmkv/set/obj', 'quiet', 'lmdb/setns/obj', 'quiet', 'library: setSync obj >= 3x lmdb-js putSync obj, noSync (issue 22)', 3],
];

/** Further ratios reported without a target (the loaded side of the same comparisons). */
const INFO: ReadonlyArray<readonly [string, string, 'quiet' | 'loaded', string, 'quiet' | 'loaded']> = [
  ['getSyncVsLmdbGetLoaded', 'shmkv/get', 'loaded', 'lmdb/get', 'loaded'],
  ['lmdbGetLoadedVsQuiet', 'lmdb/get', 'loaded', 'lmdb/get', 'quiet'],
  ['setSyncLoadedVsQuiet', 'shmkv/set', 'loaded', 'shmkv/set', 'quiet'],
  ['awaitGetVsGetSyncLoaded', 'shmkv/aget', 'loaded', 'shmkv/get', 'loaded'],
  ['awaitSetVsSetSyncLoaded', 'shmkv/aset', 'loaded', 'shmkv/set', 'loaded'],
  ['setSyncVsLmdbPutSyncNoSync', 'shmkv/set', 'quiet', 'lmdb/setns', 'quiet'],
  ['setSyncVsLmdbPutSyncLoaded', 'shmkv/set', 'loaded', 'lmdb/set', 'loaded'],
  ['setSyncVsRedisSetLoaded', 'shmkv/set', 'loaded', 'redis/set', 'loaded'],
  ['getSyncObjVsLruGetObj', 'shmkv/get/obj', 'quiet', 'lru/get/obj', 'quiet'],
  ['getSyncObjVsRedisGetObj', 'shmkv/get/obj', 'quiet', 'redis/get/obj', 'quiet'],
  ['setSyncObjVsRedisSetObj', 'shmkv/set/obj', 'quiet', 'redis/set/obj', 'quiet'],
  ['getSyncObjVsLmdbGetObjLoaded', 'shmkv/get/obj', 'loaded', 'lmdb/get/obj', 'loaded'],
  ['hotGetSyncObjVsLruHotLoaded', 'shmkv/hot/obj', 'loaded', 'lru/hot/obj', 'loaded'],
  ['setSyncObjVsLmdbPutSyncObjNoSyncLoaded', 'shmkv/set/obj', 'loaded', 'lmdb/setns/obj', 'loaded'],
];

function pick(cases: Map<string, LibCaseResult>, id: string, setting: 'quiet' | 'loaded'): LibStat | null {
  return cases.get(id)?.[setting] ?? null;
}

/** Recompute every stat and ratio from the stored runs. */
export function aggregateLibrary(r: LibraryResult): LibraryResult {
  const cases = r.cases.map((c) => ({ ...c, quiet: statOf(c.quiet?.runs ?? []), loaded: statOf(c.loaded?.runs ?? []) }));
  const sweep = r.sweep.map((s) => ({ ...s, stat: statOf(s.stat?.runs ?? []) }));
  const byId = new Map(cases.map((c) => [c.id, c]));
  const ratios: Record<string, number> = {};
  for (const [key, a, sa, b, sb] of [...CHECKS, ...INFO]) {
    const x = pick(byId, a, sa);
    const y = pick(byId, b, sb);
    if (x && y) ratios[key] = round(x.median / y.median, 3);
  }
  return { ...r, cases, sweep, ratios };
}

/** The issue's targets on the library calls (medians; "within noise" when the repetition ranges still allow it). */
export function libraryTargets(r: LibraryResult): Target[] {
  const byId = new Map(r.cases.map((c) => [c.id, c]));
  const out: Target[] = [];
  for (const [, a, sa, b, sb, name, want] of CHECKS) {
    const x = pick(byId, a, sa);
    const y = pick(byId, b, sb);
    if (!x || !y) continue;
    const ratio = x.median / y.median;
    const q = x.quiet.kps !== null && y.quiet.kps !== null ? round(x.quiet.kps / y.quiet.kps, 3) : null;
    const la = `${byId.get(a)!.label}${sa === 'loaded' ? ' loaded' : ''}`;
    const lb = `${byId.get(b)!.label}${sb === 'loaded' ? ' loaded' : ''}`;
    out.push({
      name,
      point: `${a}${sa === 'loaded' ? ' (loaded)' : ''} vs ${b}${sb === 'loaded' ? ' (loaded)' : ''}`,
      ratio: round(ratio, 3),
      want,
      status: ratio >= want ? 'met' : x.max >= y.min * want ? 'missed (within noise)' : 'missed',
      quietRatio: q,
      quietMet: q === null ? null : q >= want,
      detail: `${la} ${x.median.toFixed(1)} K/s vs ${lb} ${y.median.toFixed(1)} K/s (x${ratio.toFixed(2)}; reps ${x.min}-${x.max} vs ${y.min}-${y.max})${
        q === null ? '; no quiet runs' : `; quiet runs only: x${q.toFixed(2)}`
      }`,
    });
  }
  return out;
}
