/**
 * Number (u32) workloads as text, for the end-to-end tests of the CLIs
 * (test/e2e/replay-u32, shared-server and server-lifecycle tests): parse and
 * write `put K V` / `get K` lines, and a workload long enough to interrupt.
 */
export interface Req {
  op: 'put' | 'get';
  key: number;
  value: number;
  /** 1-based line in the file. */
  line: number;
}

export function parseReqs(text: string): Req[] {
  const out: Req[] = [];
  text.split('\n').forEach((row, i) => {
    const f = row.trim().split(/\s+/);
    if (f[0] === 'put') out.push({ op: 'put', key: Number(f[1]), value: Number(f[2]), line: i + 1 });
    else if (f[0] === 'get') out.push({ op: 'get', key: Number(f[1]), value: 0, line: i + 1 });
  });
  return out;
}

export function formatReqs(reqs: Req[]): string {
  return reqs.map((r) => (r.op === 'put' ? `put ${r.key} ${r.value}` : `get ${r.key}`)).join('\n') + '\n';
}

export function valuesText(values: number[]): string {
  return values.length ? values.join('\n') + '\n' : '';
}

/** A workload long enough (several seconds at -n 1 -w 1) to be interrupted mid-run. */
export const LONG = 'get 1\n'.repeat(3_000_000);
