/**
 * ./genworkload: write a random workload and its expected results.
 *
 * Keys are uniform or zipf(theta) over a key space; zipf ranks are mapped
 * to keys by a seeded shuffle so hot keys are spread over the space. With
 * --threads T --window W the workload is deterministic under the client's
 * split: part i (the client's thread i) draws only keys k with k % T == i,
 * and never reuses a key within W consecutive requests of its part, so no
 * two requests in flight together touch the same key and every run's get
 * results equal the sequential expected file, at any server thread count.
 */
import { splitParts } from './workload';

/** mulberry32: small, fast, seedable; plenty for workload generation. */
export function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** A sampler of ranks 0..n-1 with P(r) proportional to 1/(r+1)^theta. */
export function zipfSampler(n: number, theta: number, rand: () => number): () => number {
  const cdf = new Float64Array(n);
  let sum = 0;
  for (let i = 0; i < n; i++) cdf[i] = sum += 1 / Math.pow(i + 1, theta);
  return () => {
    const u = rand() * sum;
    let lo = 0;
    let hi = n - 1;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (cdf[mid] < u) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  };
}

export interface GenOptions {
  count: number;
  putPercent: number;
  keys: number;
  zipf?: number;
  seed: number;
  threads: number;
  window: number;
  spread: boolean;
}

/** Generate workload text and expected-results text. */
export function generate(o: GenOptions): { workload: string; expected: string } {
  const perThread = Math.floor(o.keys / o.threads);
  if (o.threads > 1 || o.window > 1) {
    if (perThread < 2 * o.window + 1)
      throw new RangeError(`a deterministic workload for ${o.threads} thread(s) and window ${o.window} needs at least ${o.threads * (2 * o.window + 1)} keys (-k)`);
  }
  const rand = rng(o.seed);
  // Rank -> key-space index, shuffled so that zipf's hot ranks are scattered.
  const perm = new Uint32Array(perThread);
  for (let i = 0; i < perThread; i++) perm[i] = i;
  for (let i = perThread - 1; i > 0; i--) {
    const j = Math.floor(rand() * (i + 1));
    const t = perm[i];
    perm[i] = perm[j];
    perm[j] = t;
  }
  const draw = o.zipf !== undefined ? zipfSampler(perThread, o.zipf, rand) : () => Math.floor(rand() * perThread);
  // Spread: an odd multiplier is a bijection on u32, and index K-1 -> 2^32-1 when K spans it.
  const toKey = (index: number): number => (o.spread ? Math.floor((index / Math.max(o.keys - 1, 1)) * 4294967295) : index);
  const model = new Map<number, number>();
  const lines: string[] = [];
  const expected: string[] = [];
  for (const [t, [start, end]] of splitParts(o.count, o.threads).entries()) {
    const recent: number[] = [];
    const recentSet = new Set<number>();
    for (let i = start; i < end; i++) {
      let key: number;
      do key = toKey(perm[draw()] * o.threads + t);
      while (recentSet.has(key));
      if (o.window > 1) {
        recent.push(key);
        recentSet.add(key);
        if (recent.length >= o.window) recentSet.delete(recent.shift()!);
      }
      if (rand() * 100 < o.putPercent) {
        const value = Math.floor(rand() * 4294967296);
        model.set(key, value);
        lines.push(`put ${key} ${value}`);
      } else {
        lines.push(`get ${key}`);
        expected.push(String(model.get(key) ?? 0));
      }
    }
  }
  return { workload: lines.join('\n') + '\n', expected: expected.length ? expected.join('\n') + '\n' : '' };
}

