/**
 * A linearizability checker for a key-value store whose every key is an
 * independent read/write register (put writes, get reads, a get of a key
 * never written returns 0).
 *
 * Input: a history, one record per operation, with the time it was invoked
 * (before the request could be seen by the server) and the time its
 * response was observed (after). Times are nanoseconds on one monotonic
 * clock (process.hrtime.bigint() is CLOCK_MONOTONIC, shared by every process
 * on the machine). An operation without completeNs is pending: it may have
 * taken effect at any point after its invocation, or never.
 *
 * Method (Wing & Gong, with Lowe's memoization, as in Porcupine):
 * linearizability is compositional, so the history is split by key and each
 * key is checked alone. For one key, call and return events are sorted into
 * a doubly linked list. A depth-first search repeatedly picks an operation
 * whose call precedes the first remaining return (it may be linearized
 * next), applies it to the register if its result agrees, and removes its
 * call and return from the list; it backtracks when the first remaining
 * entry is a return (that operation should already have taken effect). A
 * cache of (set of linearized operations, register value) prunes states
 * already explored, which makes the search polynomial on the histories a
 * store produces in practice.
 *
 * Times that tie count as overlapping (calls sort before returns), so the
 * checker never rejects a history because of clock granularity.
 *
 * Usage as a program: node dist/tools/lincheck.js HISTORY.json
 * (a JSON array of LinOp, times as numbers or decimal strings).
 */
import * as fs from 'node:fs';

export type LinKind = 'put' | 'get';

export interface LinOp {
  key: number;
  op: LinKind;
  /** put: the value written. */
  value?: number;
  /** get: the value returned (0 when the key was absent). */
  result?: number;
  /** ns, before the request became visible. */
  invokeNs: bigint | number | string;
  /** ns, after the response was observed; absent/null while pending. */
  completeNs?: bigint | number | string | null;
  /** Free-form origin (process/thread), shown in counterexamples. */
  client?: string;
}

export interface LinFailure {
  key: number;
  /** Operations on that key. */
  ops: number;
  /** Longest valid linearization prefix the search found (operations in order). */
  longestPrefix: LinOp[];
  /** Register value after that prefix. */
  stateAfterPrefix: number;
  /** Operations that could not be placed next (each one's reason). */
  blocked: string[];
  /** Human-readable description (several lines). */
  description: string;
}

export interface LinResult {
  ok: boolean;
  /** True when the search gave up (budget exhausted) without a verdict. */
  inconclusive?: boolean;
  keys: number;
  ops: number;
  /** Search steps taken (all keys). */
  steps: number;
  failure?: LinFailure;
}

export interface LinOptions {
  /** Register value of a key never written (default 0). */
  initial?: number;
  /** Give up after this many search steps per key (default 20 million). */
  maxSteps?: number;
}

const INF = (1n << 127n) - 1n;

function toNs(t: bigint | number | string | null | undefined): bigint | null {
  if (t === null || t === undefined) return null;
  if (typeof t === 'bigint') return t;
  if (typeof t === 'number') {
    if (!Number.isFinite(t)) throw new RangeError(`time must be finite, got ${t}`);
    return BigInt(Math.round(t));
  }
  if (!/^-?\d+$/.test(t)) throw new RangeError(`time must be an integer, got "${t}"`);
  return BigInt(t);
}

interface Entry {
  id: number;
  call: boolean;
  time: bigint;
  match: Entry | null; // call -> its return
  prev: Entry | null;
  next: Entry | null;
}

interface Prepared {
  op: LinOp;
  invoke: bigint;
  complete: bigint; // INF when pending
}

function describeOp(p: Prepared, t0: bigint): string {
  const us = (t: bigint): string => (t === INF ? 'pending' : `${(Number(t - t0) / 1000).toFixed(3)}us`);
  const what = p.op.op === 'put' ? `put(${p.op.key}, ${p.op.value})` : `get(${p.op.key}) -> ${p.op.result}`;
  return `${what} [${us(p.invoke)} .. ${us(p.complete)}]${p.op.client !== undefined ? ` by ${p.op.client}` : ''}`;
}

/** Check a single key's operations. */
function checkKey(key: number, list: Prepared[], initial: number, maxSteps: number, t0: bigint): { ok: boolean; inconclusive?: boolean; steps: number; failure?: LinFailure } {
  const n = list.length;
  if (n === 0) return { ok: true, steps: 0 };
  // Events, calls before returns at equal times (ties overlap).
  const events: Entry[] = [];
  for (let id = 0; id < n; id++) {
    const ret: Entry = { id, call: false, time: list[id].complete, match: null, prev: null, next: null };
    const call: Entry = { id, call: true, time: list[id].invoke, match: ret, prev: null, next: null };
    events.push(call, ret);
  }
  events.sort((a, b) => (a.time < b.time ? -1 : a.time > b.time ? 1 : a.call === b.call ? a.id - b.id : a.call ? -1 : 1));
  const head: Entry = { id: -1, call: false, time: -INF, match: null, prev: null, next: null };
  let prev = head;
  for (const e of events) {
    prev.next = e;
    e.prev = prev;
    prev = e;
  }
  const lift = (call: Entry): void => {
    call.prev!.next = call.next;
    if (call.next) call.next.prev = call.prev;
    const ret = call.match!;
    ret.prev!.next = ret.next;
    if (ret.next) ret.next.prev = ret.prev;
  };
  const unlift = (call: Entry): void => {
    const ret = call.match!;
    ret.prev!.next = ret;
    if (ret.next) ret.next.prev = ret;
    call.prev!.next = call;
    if (call.next) call.next.prev = call;
  };

  // Reads of values nobody wrote fail at once, whatever the order.
  const writer = new Map<number, number>();
  let unique = true;
  for (let id = 0; id < n; id++) {
    const op = list[id].op;
    if (op.op !== 'put') continue;
    const v = op.value! >>> 0;
    if (v === initial || writer.has(v)) unique = false;
    writer.set(v, id);
  }
  for (let id = 0; id < n; id++) {
    const p = list[id];
    if (p.op.op !== 'get') continue;
    const r = p.op.result! >>> 0;
    const w = writer.get(r);
    if (r !== initial && w === undefined) return { ok: false, steps: 0, failure: single(key, list, p, `no put on key ${key} writes ${r}`, t0) };
    if (unique && w !== undefined && p.complete < list[w].invoke)
      return { ok: false, steps: 0, failure: single(key, list, p, `it returned before ${describeOp(list[w], t0)} was invoked`, t0) };
  }
  // With unique values (every put writes a value no other put writes, nor
  // the initial value), a get returning v must be linearized after the put
  // of v and before the next put. So while the register holds v and some get
  // of v is not linearized yet, no put may go next: that branch is dead.
  // This prunes most of the search on histories with many concurrent puts.
  const pendingReads = new Map<number, number>();
  if (unique)
    for (const p of list) if (p.op.op === 'get') pendingReads.set(p.op.result! >>> 0, (pendingReads.get(p.op.result! >>> 0) ?? 0) + 1);

  const words = (n + 31) >>> 5;
  const bits = new Uint32Array(words);
  const cache = new Set<string>();
  const stateKey = (state: number): string => `${state}:${bits.join(',')}`;
  const stack: { entry: Entry; state: number }[] = [];
  let state = initial;
  let steps = 0;
  let best: number[] = [];
  let bestState = initial;

  let entry: Entry | null = head.next;
  while (head.next !== null) {
    if (++steps > maxSteps) return { ok: false, inconclusive: true, steps };
    if (entry === null) break; // cannot happen: the list ends with a return
    if (entry.call) {
      const p = list[entry.id];
      let okStep: boolean;
      let next: number;
      if (p.op.op === 'put') {
        okStep = !unique || (pendingReads.get(state) ?? 0) === 0;
        next = p.op.value! >>> 0;
      } else {
        okStep = (p.op.result! >>> 0) === state;
        next = state;
      }
      if (okStep) {
        bits[entry.id >>> 5] |= 1 << (entry.id & 31);
        const k = stateKey(next);
        if (!cache.has(k)) {
          cache.add(k);
          stack.push({ entry, state });
          if (unique && p.op.op === 'get') pendingReads.set(state, pendingReads.get(state)! - 1);
          state = next;
          lift(entry);
          if (stack.length > best.length) {
            best = stack.map((s) => s.entry.id);
            bestState = state;
          }
          entry = head.next;
          continue;
        }
        bits[entry.id >>> 5] &= ~(1 << (entry.id & 31));
      }
      entry = entry.next;
    } else {
      // A return before its call was linearized: undo the last choice.
      if (stack.length === 0) {
        return { ok: false, steps, failure: explain(key, list, best, bestState, initial, t0) };
      }
      const top = stack.pop()!;
      state = top.state;
      if (unique && list[top.entry.id].op.op === 'get') pendingReads.set(state, pendingReads.get(state)! + 1);
      bits[top.entry.id >>> 5] &= ~(1 << (top.entry.id & 31));
      unlift(top.entry);
      entry = top.entry.next;
    }
  }
  return { ok: true, steps };
}

/** A failure pinned on one operation, found before any search. */
function single(key: number, list: Prepared[], p: Prepared, why: string, t0: bigint): LinFailure {
  const blocked = [`${describeOp(p, t0)}: ${why}`];
  const description = `key ${key}: not linearizable (${list.length} operations)\n  ${blocked[0]}`;
  return { key, ops: list.length, longestPrefix: [], stateAfterPrefix: 0, blocked, description };
}

/** Build the counterexample from the longest prefix found. */
function explain(key: number, list: Prepared[], best: number[], bestState: number, initial: number, t0: bigint): LinFailure {
  // Replay the prefix; then find what could come next and why it cannot.
  const placed = new Set(best);
  let firstReturn = INF;
  for (let id = 0; id < list.length; id++) if (!placed.has(id) && list[id].complete < firstReturn) firstReturn = list[id].complete;
  const blocked: string[] = [];
  const puts = list.filter((p) => p.op.op === 'put').map((p) => p.op.value! >>> 0);
  const unique = new Set(puts).size === puts.length && !puts.includes(initial);
  const readers = list.filter((p, id) => !placed.has(id) && p.op.op === 'get' && (p.op.result! >>> 0) === bestState);
  for (let id = 0; id < list.length; id++) {
    if (placed.has(id)) continue;
    const p = list[id];
    if (p.invoke > firstReturn) continue; // not a candidate: something returned before it was invoked
    if (p.op.op === 'get' && (p.op.result! >>> 0) !== bestState) blocked.push(`${describeOp(p, t0)}: register holds ${bestState}`);
    else if (p.op.op === 'put' && unique && readers.length > 0)
      blocked.push(`${describeOp(p, t0)}: would overwrite ${bestState}, which ${describeOp(readers[0], t0)} still has to read`);
    else blocked.push(`${describeOp(p, t0)}: consistent alone, but every continuation from it fails`);
  }
  const prefix = best.map((id) => list[id].op);
  const lines: string[] = [];
  lines.push(`key ${key}: not linearizable (${list.length} operations, initial value ${initial})`);
  lines.push(`  longest valid linearization prefix: ${best.length} operation(s)${best.length > 8 ? ', last 8:' : ':'}`);
  for (const id of best.slice(-8)) lines.push(`    ${describeOp(list[id], t0)}`);
  lines.push(`  register after it: ${bestState}; no remaining operation can take effect next:`);
  for (const b of blocked.slice(0, 12)) lines.push(`    ${b}`);
  if (blocked.length > 12) lines.push(`    ... and ${blocked.length - 12} more`);
  return { key, ops: list.length, longestPrefix: prefix, stateAfterPrefix: bestState, blocked, description: lines.join('\n') };
}

/**
 * Check a whole history. Pending gets are dropped (they constrain nothing);
 * pending puts may take effect at any time after their call, or never.
 */
export function checkHistory(history: readonly LinOp[], opts: LinOptions = {}): LinResult {
  const initial = (opts.initial ?? 0) >>> 0;
  const maxSteps = opts.maxSteps ?? 20_000_000;
  const byKey = new Map<number, Prepared[]>();
  let t0: bigint | null = null;
  for (const op of history) {
    if (op.op !== 'put' && op.op !== 'get') throw new RangeError(`unknown op ${String(op.op)}`);
    if (op.op === 'put' && typeof op.value !== 'number') throw new RangeError('a put needs a value');
    const invoke = toNs(op.invokeNs);
    if (invoke === null) throw new RangeError('every operation needs invokeNs');
    const done = toNs(op.completeNs);
    if (op.op === 'get' && done !== null && typeof op.result !== 'number') throw new RangeError('a completed get needs a result');
    if (done !== null && done < invoke) throw new RangeError(`operation completes (${done}) before it is invoked (${invoke})`);
    if (op.op === 'get' && done === null) continue;
    if (t0 === null || invoke < t0) t0 = invoke;
    let l = byKey.get(op.key);
    if (!l) byKey.set(op.key, (l = []));
    l.push({ op, invoke, complete: done ?? INF });
  }
  let steps = 0;
  let inconclusive = false;
  const keys = [...byKey.keys()].sort((a, b) => a - b);
  for (const key of keys) {
    const r = checkKey(key, byKey.get(key)!, initial, maxSteps, t0 ?? 0n);
    steps += r.steps;
    if (r.failure) return { ok: false, keys: byKey.size, ops: history.length, steps, failure: r.failure };
    if (r.inconclusive) inconclusive = true;
  }
  return inconclusive ? { ok: false, inconclusive: true, keys: byKey.size, ops: history.length, steps } : { ok: true, keys: byKey.size, ops: history.length, steps };
}

/** One line: "linearizable (N ops, K keys)" or the first line of the failure. */
export function summarize(r: LinResult): string {
  if (r.ok) return `linearizable (${r.ops} operations on ${r.keys} keys, ${r.steps} search steps)`;
  if (r.inconclusive) return `inconclusive: search budget exhausted (${r.ops} operations on ${r.keys} keys)`;
  return r.failure!.description.split('\n')[0];
}

if (require.main === module) {
  const file = process.argv[2];
  if (!file || file === '-h' || file === '--help') {
    process.stderr.write('usage: node dist/tools/lincheck.js HISTORY.json   (a JSON array of {key, op, value|result, invokeNs, completeNs})\n');
    process.exit(file ? 0 : 2);
  }
  const history = JSON.parse(fs.readFileSync(file, 'utf8')) as LinOp[];
  const r = checkHistory(history);
  if (r.ok) process.stdout.write(`lincheck: ${summarize(r)}\n`);
  else process.stdout.write(`lincheck: ${r.failure ? r.failure.description : summarize(r)}\n`);
  process.exit(r.ok ? 0 : 1);
}
