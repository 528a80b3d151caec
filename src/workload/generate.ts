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
 *
 * BYTE FORM (keyBytes set): the same draws, written as `set`/`get`/`del`
 * of strings (workload/bytes.ts). Key k is "k" then k zero-padded, keyBytes
 * bytes in all: it starts with a letter so that even a file of nothing but
 * gets reads as the byte form. The value written by request i (0-based, in
 * the file) is i in base 36 then filler, valueBytes bytes: -c thus checks
 * that a get saw exactly the write the model says, not merely one of them.
 * `delPercent` of the requests are deletes (the rest after puts are gets);
 * a get of an absent key expects an empty line.
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
  /** Byte form: key and value sizes in bytes (both set, or neither). */
  keyBytes?: number;
  valueBytes?: number;
  /** Byte form: percentage of deletes. */
  delPercent?: number;
}

const FILL_CHARS = 'abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789';

/** Turns key ids and write numbers into the byte form's key and value strings. */
class ByteText {
  private readonly fill: string;

  constructor(
    private readonly keyBytes: number,
    private readonly valueBytes: number,
    maxKey: number,
  ) {
    const need = String(maxKey).length + 1;
    if (keyBytes < need) throw new RangeError(`--key-bytes ${keyBytes} is too short for keys up to ${maxKey}: it needs at least ${need} ("k" and the digits)`);
    this.fill = FILL_CHARS.repeat(Math.ceil((valueBytes + FILL_CHARS.length) / FILL_CHARS.length));
  }

  key(k: number): string {
    return 'k' + String(k).padStart(this.keyBytes - 1, '0');
  }

  /** Write number i in base 36, then filler that also depends on i; cut to size when too short. */
  value(i: number): string {
    const id = i.toString(36);
    const n = this.valueBytes;
    if (id.length >= n) return id.slice(id.length - n);
    const at = i % FILL_CHARS.length;
    return id + this.fill.slice(at, at + n - id.length);
  }
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
  const text = o.keyBytes !== undefined ? new ByteText(o.keyBytes, o.valueBytes!, toKey(o.keys - 1)) : null;
  const strModel = new Map<number, string>();
  const delPercent = o.delPercent ?? 0;
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
      if (text !== null) {
        // Byte form: one draw picks set, del or get, as the u32 form's one draw picks put or get.
        const r = rand() * 100;
        const k = text.key(key);
        if (r < o.putPercent) {
          const value = text.value(i);
          strModel.set(key, value);
          lines.push(`set ${k} ${value}`);
        } else if (r < o.putPercent + delPercent) {
          strModel.delete(key);
          lines.push(`del ${k}`);
        } else {
          lines.push(`get ${k}`);
          expected.push(strModel.get(key) ?? '');
        }
      } else if (rand() * 100 < o.putPercent) {
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

