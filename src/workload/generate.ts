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
 *
 * STREAMING: requests are written as they are drawn, to two TextSinks (the
 * CLI's are files, output.ts), so memory does not grow with the request
 * count: what is kept is the key space's, KEY_BYTES (+ ZIPF_KEY_BYTES with
 * zipf) per key: the rank shuffle, and the model of what each key holds
 * (its u32 value, or the number of the write whose value it holds). A key
 * space that would not fit in memory is refused up front (keySpaceBytes).
 */
import * as os from 'node:os';
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

/** Memory per key of the key space: the shuffle (u32 rank -> key) and the model (u32 per key). */
export const KEY_BYTES = 8;
/** More per key with zipf keys: the sampler's cumulative weights (f64). */
export const ZIPF_KEY_BYTES = 8;

/** Bytes generate() keeps for `o`'s key space (KEY_BYTES a key, ZIPF_KEY_BYTES more with zipf). */
export function keySpaceBytes(o: GenOptions): number {
  return o.keys * (KEY_BYTES + (o.zipf !== undefined ? ZIPF_KEY_BYTES : 0));
}

/** The memory the key space may take: half of the machine's, or of its cgroup's limit (more is refused rather than left to the OOM killer). */
function memoryForKeys(): number {
  const limit = process.constrainedMemory?.() ?? 0;
  const total = os.totalmem();
  return (limit > 0 && limit < total ? limit : total) / 2;
}

/** Where generated text goes: a file (output.ts), or a string in memory. */
export interface TextSink {
  write(text: string): void;
}

/**
 * A workload being generated, a bounded number of requests at a time
 * (run()), so that a caller can stream it and still answer signals.
 */
export class Generation {
  private readonly perm: Uint32Array;
  private readonly draw: () => number;
  private readonly rand: () => number;
  private readonly text: ByteText | null;
  /** By key index: the u32 form's value (0: absent), or the byte form's write number + 1 (0: absent). */
  private readonly model: Uint32Array;
  private readonly parts: Array<[number, number]>;
  private readonly delPercent: number;
  /** The part (client thread) being generated, and its next request. */
  private t = 0;
  private i = 0;
  /** The part's last window - 1 keys, oldest at `recentAt`: none of them may be drawn again. */
  private readonly recent: Float64Array;
  private recentAt = 0;
  private recentLen = 0;
  private readonly recentSet = new Set<number>();

  /** Checks `o` and draws the key space's shuffle: RangeError naming what is wrong. */
  constructor(private readonly o: GenOptions) {
    const perThread = Math.floor(o.keys / o.threads);
    if (o.threads > 1 || o.window > 1) {
      if (perThread < 2 * o.window + 1)
        throw new RangeError(`a deterministic workload for ${o.threads} thread(s) and window ${o.window} needs at least ${o.threads * (2 * o.window + 1)} keys (-k)`);
    }
    const need = keySpaceBytes(o);
    const room = memoryForKeys();
    if (need > room)
      throw new RangeError(
        `-k ${o.keys} needs ${gib(need)} GiB of memory for its key space (${KEY_BYTES} bytes a key${o.zipf !== undefined ? `, ${KEY_BYTES + ZIPF_KEY_BYTES} with -z` : ''}), over the ${gib(room)} GiB it may take (half of this machine's): use a smaller -k`,
      );
    this.text = o.keyBytes !== undefined ? new ByteText(o.keyBytes, o.valueBytes!, this.toKey(o.keys - 1)) : null;
    this.rand = rng(o.seed);
    const rand = this.rand;
    // Rank -> key-space index, shuffled so that zipf's hot ranks are scattered.
    const perm = new Uint32Array(perThread);
    for (let i = 0; i < perThread; i++) perm[i] = i;
    for (let i = perThread - 1; i > 0; i--) {
      const j = Math.floor(rand() * (i + 1));
      const t = perm[i];
      perm[i] = perm[j];
      perm[j] = t;
    }
    this.perm = perm;
    this.draw = o.zipf !== undefined ? zipfSampler(perThread, o.zipf, rand) : () => Math.floor(rand() * perThread);
    this.model = new Uint32Array(perThread * o.threads);
    this.delPercent = o.delPercent ?? 0;
    this.parts = splitParts(o.count, o.threads);
    this.i = this.parts[0][0];
    this.recent = new Float64Array(Math.max(o.window - 1, 1));
  }

  /** Spread: index K-1 -> 2^32-1 when K spans the u32 range; a bijection either way. */
  private toKey(index: number): number {
    return this.o.spread ? Math.floor((index / Math.max(this.o.keys - 1, 1)) * 4294967295) : index;
  }

  /** Generate up to `requests` more requests into the sinks; true while some are left. */
  run(requests: number, workload: TextSink, expected: TextSink): boolean {
    const o = this.o;
    const { perm, draw, rand, text, model, recentSet } = this;
    let left = requests;
    while (this.t < this.parts.length) {
      const t = this.t;
      const end = this.parts[t][1];
      for (; this.i < end && left > 0; this.i++, left--) {
        const i = this.i;
        let index: number;
        let key: number;
        do {
          index = perm[draw()] * o.threads + t;
          key = this.toKey(index);
        } while (recentSet.has(key));
        if (o.window > 1) this.remember(key);
        if (text !== null) {
          // Byte form: one draw picks set, del or get, as the u32 form's one draw picks put or get.
          const r = rand() * 100;
          const k = text.key(key);
          if (r < o.putPercent) {
            model[index] = i + 1;
            workload.write(`set ${k} ${text.value(i)}\n`);
          } else if (r < o.putPercent + this.delPercent) {
            model[index] = 0;
            workload.write(`del ${k}\n`);
          } else {
            workload.write(`get ${k}\n`);
            expected.write(model[index] === 0 ? '\n' : `${text.value(model[index] - 1)}\n`);
          }
        } else if (rand() * 100 < o.putPercent) {
          const value = Math.floor(rand() * 4294967296);
          model[index] = value;
          workload.write(`put ${key} ${value}\n`);
        } else {
          workload.write(`get ${key}\n`);
          expected.write(`${model[index]}\n`);
        }
      }
      if (left === 0 && this.i < end) return true;
      // The next part starts with nothing recent.
      this.t++;
      if (this.t < this.parts.length) this.i = this.parts[this.t][0];
      recentSet.clear();
      this.recentLen = 0;
      this.recentAt = 0;
    }
    return false;
  }

  /** Add `key` to the last window - 1 keys, forgetting the oldest when they are that many already. */
  private remember(key: number): void {
    const cap = this.recent.length;
    if (this.recentLen === cap) {
      this.recentSet.delete(this.recent[this.recentAt]);
      this.recent[this.recentAt] = key;
      this.recentAt = (this.recentAt + 1) % cap;
    } else {
      this.recent[(this.recentAt + this.recentLen) % cap] = key;
      this.recentLen++;
    }
    this.recentSet.add(key);
  }
}

function gib(bytes: number): string {
  return (bytes / 2 ** 30).toFixed(1);
}

/** Generate workload text and expected-results text in memory (benchmarks, tests: small workloads). */
export function generate(o: GenOptions): { workload: string; expected: string } {
  const w: string[] = [];
  const e: string[] = [];
  new Generation(o).run(Infinity, { write: (s) => w.push(s) }, { write: (s) => e.push(s) });
  return { workload: w.join(''), expected: e.join('') };
}
