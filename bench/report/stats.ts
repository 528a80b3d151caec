/** Small statistics helpers for the bench: medians, percentiles, spreads. */

export function median(xs: number[]): number {
  if (xs.length === 0) return NaN;
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}

/** Nearest-rank percentile (q in 0..1) of an ascending-sorted array. */
export function percentileSorted(sorted: Float64Array, q: number): number {
  if (sorted.length === 0) return NaN;
  const rank = Math.ceil(q * sorted.length);
  return sorted[Math.min(Math.max(rank - 1, 0), sorted.length - 1)];
}

export interface LatencySummary {
  /** Nanoseconds. */
  p50: number;
  p99: number;
  p999: number;
  max: number;
  mean: number;
}

/** Merge per-thread latency arrays and summarize them. */
export function summarize(parts: Float64Array[]): LatencySummary {
  let n = 0;
  for (const p of parts) n += p.length;
  const all = new Float64Array(n);
  let o = 0;
  let sum = 0;
  for (const p of parts) {
    all.set(p, o);
    o += p.length;
    for (let i = 0; i < p.length; i++) sum += p[i];
  }
  all.sort();
  return {
    p50: percentileSorted(all, 0.5),
    p99: percentileSorted(all, 0.99),
    p999: percentileSorted(all, 0.999),
    max: all.length ? all[all.length - 1] : NaN,
    mean: n ? sum / n : NaN,
  };
}

export function round(x: number, digits = 1): number {
  if (!Number.isFinite(x)) return x;
  const f = 10 ** digits;
  return Math.round(x * f) / f;
}
