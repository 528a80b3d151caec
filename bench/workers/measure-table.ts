/**
 * The "table" section: the hash table alone (bench/workers/table-worker.ts), no
 * ring, board or client, on one shared arena per locking mode.
 */
import type { Workload } from '../../src/workload/workload';
import { foreignCores, snapshot } from '../load/cpuload';
import type { Locking } from '../harness/options';
import type { TablePoint } from '../harness/plan';
import type { TableResult } from '../report/results';
import { runTable, tableArena, TableArena } from '../harness/runner';
import { round } from '../report/stats';

/** Raw runs by table point id, in the order measured. */
export type TableRuns = Map<string, TableResult['runs']>;

/** One prefilled arena per locking mode the table points use. */
export function tableArenas(tablePoints: TablePoint[], keys: number): Map<Locking, TableArena> {
  const arenas = new Map<Locking, TableArena>();
  for (const p of tablePoints) if (!arenas.has(p.locking)) arenas.set(p.locking, tableArena(p.locking === 'coarse', keys));
  return arenas;
}

/** Measure table point `p` once, append the run to `raw`, return the progress line. */
export async function measureTablePoint(arenas: Map<Locking, TableArena>, p: TablePoint, w: Workload, requests: number, rep: number, raw: TableRuns): Promise<string> {
  const before = snapshot([process.pid]);
  const r = await runTable(arenas.get(p.locking)!, w, requests, p.threads);
  const foreign = foreignCores(before, snapshot([process.pid]));
  if (!raw.has(p.id)) raw.set(p.id, []);
  raw.get(p.id)!.push({ rep, throughputKps: r.throughputKps, foreignCores: foreign === null ? null : round(foreign, 2) });
  return `${r.throughputKps.toFixed(0)} K/s${foreign !== null && foreign >= 0.25 ? ` [others: ${foreign.toFixed(1)} cores]` : ''}`;
}
