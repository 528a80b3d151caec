/**
 * Deterministic, seeded request traces for the policy simulation. Keys are
 * integers in [0, keySpace) so the policies can index typed arrays by key.
 *
 * The zipf sampler and the PRNG are the workload generator's
 * (src/workload/generate.ts), so "zipf 0.99" means the same thing here as in
 * `./genworkload -z 0.99` and the throughput bench. Ranks are mapped to keys
 * by a seeded shuffle: no policy here looks at key values, but it keeps hot
 * keys from being 0, 1, 2... in case one ever does (e.g. CLOCK-hash's order).
 */
import { rng, zipfSampler } from '../../../src/workload/generate';

export interface Trace {
  name: string;
  /** One key per request. */
  keys: Uint32Array;
  /** Keys are < keySpace. */
  keySpace: number;
  /** Distinct keys requested: cache sizes are fractions of this. */
  distinct: number;
}

function shuffled(n: number, rand: () => number): Uint32Array {
  const a = new Uint32Array(n);
  for (let i = 0; i < n; i++) a[i] = i;
  for (let i = n - 1; i > 0; i--) {
    const j = Math.floor(rand() * (i + 1));
    const t = a[i];
    a[i] = a[j];
    a[j] = t;
  }
  return a;
}

function countDistinct(keys: Uint32Array, keySpace: number): number {
  const seen = new Uint8Array(keySpace);
  let d = 0;
  for (let i = 0; i < keys.length; i++) {
    if (seen[keys[i]] === 0) {
      seen[keys[i]] = 1;
      d++;
    }
  }
  return d;
}

function finish(name: string, keys: Uint32Array, keySpace: number): Trace {
  return { name, keys, keySpace, distinct: countDistinct(keys, keySpace) };
}

/** `requests` draws of zipf(theta) over n keys. */
export function zipfTrace(n: number, theta: number, requests: number, seed: number): Trace {
  const rand = rng(seed);
  const perm = shuffled(n, rand);
  const draw = zipfSampler(n, theta, rand);
  const keys = new Uint32Array(requests);
  for (let i = 0; i < requests; i++) keys[i] = perm[draw()];
  return finish(`zipf ${theta}`, keys, n);
}

/**
 * A zipf(theta) working set of n keys, polluted by sequential scans: cycles
 * of `burst` zipf requests followed by a scan of `scan` fresh keys (n, n+1,
 * ...), each requested once and never again, like a batch job or a backup
 * reading through a table. scan / (burst + scan) of the requests are scans.
 */
export function scanTrace(n: number, theta: number, requests: number, burst: number, scan: number, seed: number): Trace {
  const rand = rng(seed);
  const perm = shuffled(n, rand);
  const draw = zipfSampler(n, theta, rand);
  const keys = new Uint32Array(requests);
  let next = n;
  for (let i = 0; i < requests; ) {
    for (let j = 0; j < burst && i < requests; j++) keys[i++] = perm[draw()];
    for (let j = 0; j < scan && i < requests; j++) keys[i++] = next++;
  }
  const pct = Math.round((100 * scan) / (burst + scan));
  return finish(`zipf ${theta} + ${pct}% scans`, keys, next);
}

/**
 * Shifting popularity: zipf(theta) over n keys whose rank -> key map rotates
 * every `phase` requests, so each phase has a new hot set (the old hot keys
 * become cold ones). Tests how fast a policy forgets.
 */
export function shiftTrace(n: number, theta: number, requests: number, phase: number, seed: number): Trace {
  const rand = rng(seed);
  const perm = shuffled(n, rand);
  const draw = zipfSampler(n, theta, rand);
  const keys = new Uint32Array(requests);
  // A step co-prime with nothing in particular: large enough that the new hot
  // ranks map to keys that were cold in the previous phase.
  const step = Math.floor(n / 7) + 1;
  for (let i = 0; i < requests; i++) {
    const shift = Math.floor(i / phase) * step;
    keys[i] = perm[(draw() + shift) % n];
  }
  return finish(`zipf ${theta}, hot set moves every ${phase / 1000}k`, keys, n);
}
