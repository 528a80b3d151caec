/**
 * A linearizability checker for a key-value store whose every key is an
 * independent register that may be absent: put writes a value, delete makes
 * the key absent (and may report whether it held a value), get reads.
 * Keys are u32 numbers or strings, and 7 and '7' are different keys (Map
 * semantics, as the store's). Values are numbers or strings, compared with
 * SameValueZero, so 7 and '7' are different values too.
 *
 * Absence: a get that returns null saw the key absent. So does a get that
 * returns the `initial` option (0 by default), because the u32 lanes
 * answer 0 for an absent key; a put of that same value is then
 * indistinguishable from absence to a get, which the model allows (the
 * register is in state "absent" or "holds 0", and either reads as 0).
 *
 * Input: a history, one record per operation, with the time it was invoked
 * (before the request could be seen by the server or the table was read)
 * and the time its response was observed (after). Times are nanoseconds on
 * one monotonic clock (process.hrtime.bigint() is CLOCK_MONOTONIC, shared by
 * every process on the machine). An operation without completeNs is
 * pending: it may have taken effect at any point after its invocation, or
 * never; a pending get constrains nothing and is dropped.
 *
 * Method (Wing & Gong, with Lowe's memoization, as in Porcupine):
 * linearizability is compositional, so the history is split by key and each
 * key is checked alone. For one key, call and return events are sorted into
 * a doubly linked list. A depth-first search repeatedly picks an operation
 * whose call precedes the first remaining return (it may be linearized
 * next), applies it to the register if its result agrees, and removes its
 * call and return from the list; it backtracks when the first remaining
 * entry is a return (that operation should already have taken effect). A
 * cache of (set of linearized operations, register state) prunes states
 * already explored, which makes the search polynomial on the histories a
 * store produces in practice. Values are interned to small integers so a
 * state is an integer (ABSENT = -1).
 *
 * Times that tie count as overlapping (calls sort before returns), so the
 * checker never rejects a history because of clock granularity.
 *
 * Usage as a program: node dist/tools/lincheck.js HISTORY.json
 * (a JSON array of LinOp, times as numbers or decimal strings).
 */
import * as fs from 'node:fs';
import { ABSENT, agrees, describeOp, explain, INF, isValue, LinFailure, LinKey, LinOp, LinValue, Prepared, show, single } from './lincheck-model';

export type { LinFailure, LinKey, LinKind, LinOp, LinValue } from './lincheck-model';

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
  /** What a get of an absent key may return besides null (default 0, the u32 lanes' answer). */
  initial?: LinValue | null;
  /** Give up after this many search steps per key (default 20 million). */
  maxSteps?: number;
}

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

interface KeyResult {
  ok: boolean;
  inconclusive?: boolean;
  steps: number;
  failure?: LinFailure;
}

/** Check a single key's operations; `values[id]` is the value of id. */
function checkKey(key: LinKey, list: Prepared[], values: LinValue[], maxSteps: number, t0: bigint): KeyResult {
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

  // Unique values: every put writes a value no other put writes and that no
  // get could take for absence. Then reads of values nobody wrote, or that
  // returned before their put was invoked, fail at once, whatever the order.
  const writer = new Map<number, number>();
  let unique = true;
  let deletes = false;
  const readAsAbsent = new Set(list.filter((q) => q.orAbsent).map((q) => q.id));
  for (let id = 0; id < n; id++) {
    const p = list[id];
    if (p.op.op === 'delete') deletes = true;
    if (p.op.op !== 'put') continue;
    if (writer.has(p.id) || readAsAbsent.has(p.id)) unique = false;
    writer.set(p.id, id);
  }
  for (const p of list) {
    if (p.op.op !== 'get' || p.id === ABSENT || p.orAbsent) continue;
    const w = writer.get(p.id);
    if (w === undefined) return { ok: false, steps: 0, failure: single(key, list, p, `no put on key ${show(key)} writes ${show(values[p.id])}`, t0) };
    if (unique && p.complete < list[w].invoke)
      return { ok: false, steps: 0, failure: single(key, list, p, `it returned before ${describeOp(list[w], t0)} was invoked`, t0) };
  }
  // With unique values, a get returning v must be linearized after the put
  // of v and before the next write (put or delete), since v never comes
  // back. So while the register holds v and some get of v is not linearized
  // yet, no write may go next: that branch is dead. The same holds for
  // absence when no delete can bring it back. This prunes most of the search
  // on histories with many concurrent writes.
  const pendingReads = new Int32Array(values.length);
  let pendingAbsent = 0;
  const readOf = (p: Prepared): number => (p.id === ABSENT || p.orAbsent ? ABSENT : p.id);
  const count = (p: Prepared, d: number): void => {
    if (!unique || p.op.op !== 'get') return;
    const r = readOf(p);
    if (r === ABSENT) pendingAbsent += d;
    else pendingReads[r] += d;
  };
  for (const p of list) count(p, 1);
  const mayWrite = (state: number): boolean =>
    !unique || (state === ABSENT ? deletes || pendingAbsent === 0 : pendingReads[state] === 0);

  const words = (n + 31) >>> 5;
  const bits = new Uint32Array(words);
  const cache = new Set<string>();
  const stateKey = (state: number): string => `${state}:${bits.join(',')}`;
  // A frame is `forced` when its operation is a get that agrees with the
  // register: once it may go next, it can always go first. Moving it ahead
  // of the operations a valid order places before it changes no state they
  // see (a get changes nothing, whatever its place) and breaks no real-time
  // edge (nothing unplaced returned before its call). So the search takes it
  // without trying alternatives, and when that branch fails the whole node
  // fails. Without this, concurrent gets multiply the states by every subset
  // of them (when deletes disable the pruning above). Not so for a write
  // that happens to change nothing (a delete of an absent key): placed
  // later, it may have to change something.
  const stack: { entry: Entry; state: number; forced: boolean }[] = [];
  let state = ABSENT;
  let steps = 0;
  let best: number[] = [];
  let bestState = ABSENT;
  const mayGo = (p: Prepared, s: number): boolean => agrees(p, s) && (p.op.op === 'get' || mayWrite(s));
  const after = (p: Prepared, s: number): number => (p.op.op === 'get' ? s : p.id);
  const take = (entry: Entry, next: number, forced: boolean): boolean => {
    bits[entry.id >>> 5] |= 1 << (entry.id & 31);
    const k = stateKey(next);
    if (cache.has(k)) {
      bits[entry.id >>> 5] &= ~(1 << (entry.id & 31));
      return false;
    }
    cache.add(k);
    stack.push({ entry, state, forced });
    count(list[entry.id], -1);
    state = next;
    lift(entry);
    if (stack.length > best.length) {
      best = stack.map((s) => s.entry.id);
      bestState = state;
    }
    return true;
  };
  /** Undo choices up to the last one that has alternatives; false when none is left. */
  const backtrack = (): Entry | null => {
    for (;;) {
      const top = stack.pop();
      if (top === undefined) return null;
      state = top.state;
      count(list[top.entry.id], 1);
      bits[top.entry.id >>> 5] &= ~(1 << (top.entry.id & 31));
      unlift(top.entry);
      if (!top.forced) return top.entry.next;
    }
  };
  const fail = (): KeyResult => ({ ok: false, steps, failure: explain(key, list, values, best, bestState, unique, deletes, t0) });

  let entry: Entry | null = head.next;
  let fresh = true; // at a node not yet looked at for a forced operation
  while (head.next !== null) {
    if (++steps > maxSteps) return { ok: false, inconclusive: true, steps };
    if (fresh) {
      fresh = false;
      let forced: Entry | null = null;
      for (let e: Entry | null = head.next; e !== null && e.call; e = e.next) {
        const p = list[e.id];
        if (p.op.op === 'get' && agrees(p, state)) {
          forced = e;
          break;
        }
      }
      if (forced !== null) {
        if (take(forced, state, true)) {
          entry = head.next;
          fresh = true;
          continue;
        }
        // Explored already from here (and failed): the node fails.
        entry = backtrack();
        if (entry === null) return fail();
        continue;
      }
    }
    if (entry === null) break; // cannot happen: the list ends with a return
    if (entry.call) {
      const p = list[entry.id];
      if (mayGo(p, state) && take(entry, after(p, state), false)) {
        entry = head.next;
        fresh = true;
        continue;
      }
      entry = entry.next;
    } else {
      // A return before its call was linearized: undo the last choice.
      entry = backtrack();
      if (entry === null) return fail();
    }
  }
  return { ok: true, steps };
}

/**
 * Check a whole history. Pending gets are dropped (they constrain nothing);
 * pending puts and deletes may take effect at any time after their call, or
 * never (a pending delete's result is unknown).
 */
export function checkHistory(history: readonly LinOp[], opts: LinOptions = {}): LinResult {
  const initial = opts.initial === undefined ? 0 : opts.initial;
  const maxSteps = opts.maxSteps ?? 20_000_000;
  const byKey = new Map<LinKey, Prepared[]>();
  const ids = new Map<LinValue, number>();
  const values: LinValue[] = [];
  const intern = (v: LinValue): number => {
    let id = ids.get(v);
    if (id === undefined) {
      ids.set(v, (id = values.length));
      values.push(v);
    }
    return id;
  };
  let t0: bigint | null = null;
  for (const op of history) {
    if (op.op !== 'put' && op.op !== 'get' && op.op !== 'delete') throw new RangeError(`unknown op ${String(op.op)}`);
    if (!isValue(op.key)) throw new RangeError(`a key must be a number or a string, got ${String(op.key)}`);
    if (op.op === 'put' && !isValue(op.value)) throw new RangeError('a put needs a value (a number or a string)');
    const invoke = toNs(op.invokeNs);
    if (invoke === null) throw new RangeError('every operation needs invokeNs');
    const done = toNs(op.completeNs);
    if (done !== null && done < invoke) throw new RangeError(`operation completes (${done}) before it is invoked (${invoke})`);
    if (op.op === 'get' && done !== null && op.result !== null && !isValue(op.result))
      throw new RangeError('a completed get needs a result (a number, a string, or null for absent)');
    if (op.op === 'delete' && op.result !== undefined && op.result !== null && typeof op.result !== 'boolean')
      throw new RangeError('a delete result must be a boolean');
    if (op.op === 'get' && done === null) continue;
    if (t0 === null || invoke < t0) t0 = invoke;
    let l = byKey.get(op.key);
    if (!l) byKey.set(op.key, (l = []));
    const p: Prepared = { op, invoke, complete: done ?? INF, id: ABSENT, orAbsent: false };
    if (op.op === 'put') p.id = intern(op.value!);
    else if (op.op === 'get' && op.result !== null) {
      p.id = intern(op.result as LinValue);
      p.orAbsent = initial !== null && ids.get(initial) === p.id;
    } else if (op.op === 'delete' && done !== null && typeof op.result === 'boolean') p.held = op.result;
    l.push(p);
  }
  let steps = 0;
  let inconclusive = false;
  // Numbers first, then strings: a stable order for reports.
  const keys = [...byKey.keys()].sort((a, b) =>
    typeof a !== typeof b ? (typeof a === 'number' ? -1 : 1) : a < b ? -1 : a > b ? 1 : 0,
  );
  for (const key of keys) {
    const r = checkKey(key, byKey.get(key)!, values, maxSteps, t0 ?? 0n);
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
    process.stderr.write('usage: node dist/tools/lincheck.js HISTORY.json   (a JSON array of {key, op: put|get|delete, value|result, invokeNs, completeNs})\n');
    process.exit(file ? 0 : 2);
  }
  const history = JSON.parse(fs.readFileSync(file, 'utf8')) as LinOp[];
  const r = checkHistory(history);
  if (r.ok) process.stdout.write(`lincheck: ${summarize(r)}\n`);
  else process.stdout.write(`lincheck: ${r.failure ? r.failure.description : summarize(r)}\n`);
  process.exit(r.ok ? 0 : 1);
}
