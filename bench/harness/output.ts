/**
 * Results on disk: latest.json (everything), latest.md and throughput.svg
 * (report.ts), library-sweep.svg (library-report.ts), and --rerender, which rebuilds all three from a stored JSON.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { aggregatePoint, finish } from '../report/aggregate';
import type { SystemName } from './options';
import { writeSweepSvg } from '../report/library-report';
import { writeMarkdown, writeSvg } from '../report/report';
import type { Results, Run } from '../report/results';

export function writeOutputs(dir: string, out: Results): void {
  fs.mkdirSync(dir, { recursive: true });
  fs.writeFileSync(path.join(dir, 'latest.json'), JSON.stringify(out, null, 1) + '\n');
  writeMarkdown(path.join(dir, 'latest.md'), out);
  writeSvg(path.join(dir, 'throughput.svg'), out);
  writeSweepSvg(path.join(dir, 'library-sweep.svg'), out.library);
}

/** --rerender FILE: recompute the summaries of a results file and rewrite the outputs. */
export function rerender(file: string, outDir: string): void {
  const old = JSON.parse(fs.readFileSync(file, 'utf8')) as Results;
  const points = old.points.map((p) => {
    const { systems, loaded, ratios: _r, ...point } = p;
    void _r;
    const bySys = new Map<SystemName, Run[]>();
    for (const [sys, res] of Object.entries(systems)) bySys.set(sys as SystemName, res!.runs);
    return aggregatePoint(point, bySys, loaded && { requests: loaded.requests, quiet: loaded.quiet.runs, loaded: loaded.loaded.runs });
  });
  const out: Results = { ...old, points, targets: [] };
  delete out.meta.timingOverheadMedian;
  finish(out);
  writeOutputs(outDir, out);
}
