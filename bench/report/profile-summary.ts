/**
 * Summarize V8 .cpuprofile files (from node --cpu-prof): self and total
 * time per function, heaviest first. For the bench's profiling notes:
 *
 *   node --cpu-prof --cpu-prof-dir=/tmp/prof-client dist/bench/harness/run.js ... \
 *     --server-node-args="--cpu-prof --cpu-prof-dir=/tmp/prof-server"
 *   node dist/bench/profile-summary.js /tmp/prof-server/*.cpuprofile
 *
 * Each file is one thread (the server's main thread and each worker thread
 * write their own); pass --top N for more rows.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';

interface Node {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  hitCount?: number;
  children?: number[];
}

interface Profile {
  nodes: Node[];
  samples?: number[];
  timeDeltas?: number[];
  startTime: number;
  endTime: number;
}

function label(n: Node): string {
  const f = n.callFrame;
  const name = f.functionName || '(anonymous)';
  if (!f.url) return name;
  return `${name} ${path.basename(f.url)}:${f.lineNumber + 1}`;
}

function summarize(file: string, top: number): string {
  const p = JSON.parse(fs.readFileSync(file, 'utf8')) as Profile;
  const byId = new Map(p.nodes.map((n) => [n.id, n]));
  // Time per sample: timeDeltas[i] precedes samples[i].
  const selfUs = new Map<number, number>();
  const samples = p.samples ?? [];
  const deltas = p.timeDeltas ?? [];
  for (let i = 0; i < samples.length; i++) {
    const dt = deltas[i + 1] ?? 0;
    selfUs.set(samples[i], (selfUs.get(samples[i]) ?? 0) + Math.max(dt, 0));
  }
  const parent = new Map<number, number>();
  for (const n of p.nodes) for (const c of n.children ?? []) parent.set(c, n.id);
  const self = new Map<string, number>();
  const total = new Map<string, number>();
  for (const [id, us] of selfUs) {
    const n = byId.get(id)!;
    self.set(label(n), (self.get(label(n)) ?? 0) + us);
    const seen = new Set<string>();
    for (let x: number | undefined = id; x !== undefined; x = parent.get(x)) {
      const l = label(byId.get(x)!);
      if (seen.has(l)) continue;
      seen.add(l);
      total.set(l, (total.get(l) ?? 0) + us);
    }
  }
  const all = [...selfUs.values()].reduce((a, b) => a + b, 0);
  const pct = (x: number): string => `${((100 * x) / all).toFixed(1).padStart(5)}%`;
  const out: string[] = [`${path.basename(file)}: ${(all / 1e3).toFixed(0)} ms sampled`];
  out.push('  self:');
  for (const [l, us] of [...self].sort((a, b) => b[1] - a[1]).slice(0, top)) out.push(`    ${pct(us)}  ${l}`);
  out.push('  total (inclusive):');
  for (const [l, us] of [...total].sort((a, b) => b[1] - a[1]).slice(0, top)) out.push(`    ${pct(us)}  ${l}`);
  return out.join('\n');
}

const args = process.argv.slice(2);
let top = 15;
const files: string[] = [];
for (let i = 0; i < args.length; i++) {
  if (args[i] === '--top') top = Number(args[++i]);
  else files.push(args[i]);
}
if (files.length === 0) {
  process.stderr.write('usage: node dist/bench/profile-summary.js [--top N] FILE.cpuprofile...\n');
  process.exitCode = 2;
} else for (const f of files) process.stdout.write(summarize(f, top) + '\n\n');
