/**
 * Histories for the linearizability checker's tests: simulated concurrent
 * histories (linearizable by construction), injections that make one
 * non-linearizable, and an independent brute-force checker for tiny ones.
 */
import type { LinKey, LinOp, LinValue } from '../../tools/lincheck';
import { rng } from '../../src/workload/generate';

const put = (key: LinKey, value: LinValue, inv: number, comp: number | null, client?: string): LinOp => ({ key, op: 'put', value, invokeNs: inv, completeNs: comp, client });
const get = (key: LinKey, result: LinValue | null, inv: number, comp: number | null, client?: string): LinOp => ({ key, op: 'get', result, invokeNs: inv, completeNs: comp, client });
const del = (key: LinKey, result: boolean | undefined, inv: number, comp: number | null, client?: string): LinOp => ({ key, op: 'delete', result, invokeNs: inv, completeNs: comp, client });

/**
 * A random history that is linearizable by construction: each operation
 * takes effect at a random instant inside its interval; results follow from
 * those instants. Many operations overlap (wide intervals, few keys).
 * With `deletes` > 0, that fraction of the operations are deletes (their
 * result recorded) and keys are strings, values strings, absence null.
 */
export function simulated(seed: number, n: number, keys: number, width: number, valueOf = (i: number): number => i + 1, deletes = 0): LinOp[] {
  const rand = rng(seed);
  const ops: Array<LinOp & { at: number }> = [];
  for (let i = 0; i < n; i++) {
    const inv = Math.floor(rand() * n * 10);
    const len = 1 + Math.floor(rand() * width);
    const at = inv + rand() * len;
    const k = Math.floor(rand() * keys);
    const key: LinKey = deletes > 0 ? `key-${k}` : k;
    const r = rand();
    if (r < deletes) ops.push({ ...del(key, undefined, inv, inv + len, `s${i % 7}`), at });
    else if (r < 0.5) ops.push({ ...put(key, deletes > 0 ? `v${valueOf(i)}` : valueOf(i), inv, inv + len, `s${i % 7}`), at });
    else ops.push({ ...get(key, 0, inv, inv + len, `s${i % 7}`), at });
  }
  const reg = new Map<LinKey, LinValue>();
  for (const op of [...ops].sort((a, b) => a.at - b.at)) {
    if (op.op === 'put') reg.set(op.key, op.value!);
    else if (op.op === 'delete') op.result = reg.delete(op.key);
    else op.result = reg.get(op.key) ?? (deletes > 0 ? null : 0);
  }
  return ops.map(({ at: _at, ...op }) => op);
}

/**
 * Make a history non-linearizable: a get G on a key where put P1 finished
 * before put P2 started and P2 finished before G started now returns P1's
 * value (values are unique, so only P1 wrote it). Returns the key, or -1.
 */
export function injectStaleRead(h: LinOp[]): LinKey {
  const t = (x: LinOp['invokeNs'] | LinOp['completeNs']): bigint => BigInt(x as string | number | bigint);
  const byKey = new Map<LinKey, LinOp[]>();
  for (const op of h) {
    let l = byKey.get(op.key);
    if (!l) byKey.set(op.key, (l = []));
    l.push(op);
  }
  for (const [key, l] of byKey) {
    const puts = l.filter((o) => o.op === 'put').sort((a, b) => (t(a.completeNs) < t(b.completeNs) ? -1 : 1));
    for (const g of l) {
      if (g.op !== 'get') continue;
      // P2: a put finished before g started; P1: a put finished before P2 started.
      const p2 = puts.filter((p) => t(p.completeNs) < t(g.invokeNs)).pop();
      if (!p2) continue;
      const p1 = puts.filter((p) => t(p.completeNs) < t(p2.invokeNs) && p.value !== p2.value).pop();
      if (!p1 || g.result === p1.value) continue;
      g.result = p1.value;
      return key;
    }
  }
  return -1;
}

/**
 * Linearizability by enumeration of every order (tiny histories only), with
 * its own register model written independently of the checker's: the state
 * is ABSENT or a value; a get of ABSENT returns null or 0 (the u32 lanes'
 * answer); a delete makes the key ABSENT and, if its result is known,
 * reports whether it held a value; a pending delete's result is unknown.
 */
const ABSENT = Symbol('absent');
export function bruteForce(h: LinOp[]): boolean {
  const byKey = new Map<LinKey, LinOp[]>();
  for (const op of h) {
    if (op.op === 'get' && (op.completeNs === null || op.completeNs === undefined)) continue;
    let l = byKey.get(op.key);
    if (!l) byKey.set(op.key, (l = []));
    l.push(op);
  }
  const end = (o: LinOp): number => (o.completeNs === null || o.completeNs === undefined ? Infinity : Number(o.completeNs));
  type Reg = LinValue | typeof ABSENT;
  const fits = (o: LinOp, reg: Reg): boolean => {
    if (o.op === 'get') return reg === ABSENT ? o.result === null || o.result === 0 : o.result === reg;
    if (o.op === 'delete' && end(o) !== Infinity && typeof o.result === 'boolean') return o.result === (reg !== ABSENT);
    return true;
  };
  const one = (ops: LinOp[]): boolean => {
    const pending = ops.filter((o) => end(o) === Infinity);
    // A pending write either takes effect (sometime after its call) or not.
    for (let mask = 0; mask < 1 << pending.length; mask++) {
      const use = ops.filter((o) => end(o) !== Infinity || (mask >> pending.indexOf(o)) & 1);
      const used = new Set<LinOp>();
      const search = (reg: Reg): boolean => {
        if (used.size === use.length) return true;
        for (const o of use) {
          if (used.has(o)) continue;
          // o may go next only if no unplaced op returned before o was called.
          if (use.some((x) => !used.has(x) && x !== o && end(x) < Number(o.invokeNs))) continue;
          if (!fits(o, reg)) continue;
          used.add(o);
          if (search(o.op === 'put' ? o.value! : o.op === 'delete' ? ABSENT : reg)) return true;
          used.delete(o);
        }
        return false;
      };
      if (search(ABSENT)) return true;
    }
    return false;
  };
  return [...byKey.values()].every(one);
}


const ns = (x: LinOp['invokeNs'] | LinOp['completeNs']): bigint => BigInt(x as string | number | bigint);

/**
 * Make a history non-linearizable the way a store that lost a delete would:
 * a get G that must see the key absent (a delete D that found the value
 * completed before G started, and every put on the key that could take
 * effect before G completed had completed before D started) now returns the
 * value of such a put, as if D never happened. Returns the key, or -1.
 */
export function injectResurrection(h: LinOp[]): LinKey {
  const byKey = new Map<LinKey, LinOp[]>();
  for (const op of h) {
    let l = byKey.get(op.key);
    if (!l) byKey.set(op.key, (l = []));
    l.push(op);
  }
  for (const [key, l] of byKey) {
    const puts = l.filter((o) => o.op === 'put');
    for (const d of l) {
      if (d.op !== 'delete' || d.result !== true || d.completeNs === null || d.completeNs === undefined) continue;
      for (const g of l) {
        if (g.op !== 'get' || g.result !== null || g.completeNs === null || g.completeNs === undefined || ns(g.invokeNs) <= ns(d.completeNs)) continue;
        const before = puts.filter((p) => ns(p.invokeNs) <= ns(g.completeNs));
        if (before.length === 0 || before.some((p) => p.completeNs === null || p.completeNs === undefined || ns(p.completeNs) >= ns(d.invokeNs))) continue;
        g.result = before[before.length - 1].value!;
        return key;
      }
    }
  }
  return -1;
}
