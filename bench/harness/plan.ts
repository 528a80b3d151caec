/**
 * The matrix: which points one run measures, for which sections, on which
 * workloads. See "Choice of the matrix" in bench/README.md for why these.
 */
import type { DistName, Locking, MixName, Options } from './options';

export interface WorkloadSpec {
  id: string;
  mix: MixName;
  dist: DistName;
  putPercent: number;
  zipf: number | null;
  /** Key space of this workload (genworkload -k), or null for the run's --keys. */
  keys: number | null;
  label: string;
}

/** One end-to-end configuration (client threads x window x server threads x locking x workload). */
export interface Point {
  id: string;
  sections: string[];
  workload: string;
  clientThreads: number;
  window: number;
  serverThreads: number;
  locking: Locking;
  /** Run Redis and LMDB at this point too. */
  compare: boolean;
}

/** One configuration of the "table" section: the hash table alone. */
export interface TablePoint {
  id: string;
  workload: string;
  threads: number;
  locking: Locking;
}

export interface Plan {
  points: Point[];
  tablePoints: TablePoint[];
  workloads: WorkloadSpec[];
}

const MIX_PUT_PERCENT: Record<MixName, number> = { read: 5, mixed: 50, write: 95, hot: 0 };
const MIX_LABEL: Record<MixName, string> = { read: 'read-heavy (95% gets)', mixed: '50/50', write: 'write-heavy (95% puts)', hot: 'gets of one key (the hand-off alone)' };

/**
 * The end-to-end ceiling (issue 12): the u32 replay at -n 2 -w 16 -t 2
 * against the table alone at 2 threads, and the hand-off alone at the same
 * point: gets of one key (key 0, prefilled), whose lookup is one slot on a
 * line that stays in the cache, so nearly all of the time is the ring, the
 * board and the two processes' own work. (Gets of absent keys would not
 * do: on a prefilled table a miss probes to the first empty slot, the
 * dearest lookup there is.)
 */
export const CEILING = { clientThreads: 2, window: 16, serverThreads: 2, tableThreads: 2 } as const;
const ZIPF_THETA = 0.99;

/**
 * The headline points, measured quiet and loaded in the "loaded" section: the
 * README's `./client -f -n C -w W -t S` figures on the demo's workload (50/50,
 * uniform keys, fine locking), [client threads, window, server threads]. The
 * first two are the u32 replay points that issue 12 sets targets for.
 */
export const HEADLINE: ReadonlyArray<readonly [number, number, number]> = [
  [1, 1, 1],
  [2, 16, 2],
  [1, 1, 2],
  [2, 16, 1],
];

function workloadSpec(mix: MixName, dist: DistName): WorkloadSpec {
  return {
    id: `${mix}-${dist}`,
    mix,
    dist,
    putPercent: MIX_PUT_PERCENT[mix],
    zipf: dist === 'zipf' ? ZIPF_THETA : null,
    keys: mix === 'hot' ? 1 : null,
    label: `${MIX_LABEL[mix]}, ${dist === 'zipf' ? `zipf ${ZIPF_THETA}` : 'uniform'}`,
  };
}

/** Build the list of points (deduplicated: a point may serve several sections). */
export function plan(o: Options): Plan {
  const byId = new Map<string, Point>();
  const add = (p: Omit<Point, 'id' | 'sections' | 'compare'>, section: string, compare = false): void => {
    const id = `${p.workload}/c${p.clientThreads}/w${p.window}/s${p.serverThreads}/${p.locking}`;
    const have = byId.get(id);
    if (have) {
      if (!have.sections.includes(section)) have.sections.push(section);
      have.compare ||= compare;
    } else byId.set(id, { id, sections: [section], compare, ...p });
  };
  const a = o.axes;
  if (o.sections.has('locking'))
    for (const mix of a.mixes)
      for (const dist of a.dists)
        for (const c of a.clientThreads)
          for (const w of a.windows)
            for (const s of a.serverThreads)
              for (const l of a.locking) add({ workload: `${mix}-${dist}`, clientThreads: c, window: w, serverThreads: s, locking: l }, 'locking');
  // Scaling (the chart): throughput against client threads and window, on the
  // 50/50 uniform workload (the demo's), fine locking, 2 server threads.
  if (o.sections.has('scaling')) {
    const cs = [1, 2, 4];
    const ws = [1, 4, 16, 64];
    for (const c of cs) for (const w of ws) add({ workload: 'mixed-uniform', clientThreads: c, window: w, serverThreads: 2, locking: 'fine' }, 'scaling');
  }
  // Comparison with Redis and LMDB: same workload, same client threads and
  // requests in flight; this store with fine locking and 2 server threads.
  if (o.sections.has('compare')) {
    const mixes: MixName[] = o.quick ? ['mixed'] : ['read', 'mixed', 'write'];
    const dists: DistName[] = ['uniform'];
    for (const mix of mixes)
      for (const dist of dists)
        for (const c of [1, 2])
          for (const w of [1, 16]) add({ workload: `${mix}-${dist}`, clientThreads: c, window: w, serverThreads: 2, locking: 'fine' }, 'compare', true);
  }
  if (o.sections.has('ceiling'))
    for (const mix of ['mixed', 'hot'] as const)
      add({ workload: `${mix}-uniform`, clientThreads: CEILING.clientThreads, window: CEILING.window, serverThreads: CEILING.serverThreads, locking: 'fine' }, 'ceiling');
  // Quiet vs loaded: the headline points, also measured beside busy loops.
  if (o.sections.has('loaded')) for (const [c, w, s] of HEADLINE) add({ workload: 'mixed-uniform', clientThreads: c, window: w, serverThreads: s, locking: 'fine' }, 'loaded');
  const points = [...byId.values()];
  // Table: the hash table alone (bench/workers/table-worker.ts), 1 and 2 threads x
  // coarse/fine x every mix and key distribution of the locking matrix.
  const tablePoints: TablePoint[] = [];
  if (o.sections.has('table'))
    for (const mix of a.mixes)
      for (const dist of a.dists)
        for (const threads of [1, 2])
          for (const locking of ['coarse', 'fine'] as const) tablePoints.push({ id: `table/${mix}-${dist}/t${threads}/${locking}`, workload: `${mix}-${dist}`, threads, locking });
  const ceilingTable = `table/mixed-uniform/t${CEILING.tableThreads}/fine`;
  if (o.sections.has('ceiling') && !tablePoints.some((p) => p.id === ceilingTable))
    tablePoints.push({ id: ceilingTable, workload: 'mixed-uniform', threads: CEILING.tableThreads, locking: 'fine' });
  const wl = new Map<string, WorkloadSpec>();
  for (const p of [...points, ...tablePoints]) {
    const [mix, dist] = p.workload.split('-') as [MixName, DistName];
    wl.set(p.workload, workloadSpec(mix, dist));
  }
  return { points, tablePoints, workloads: [...wl.values()] };
}
