/**
 * The linearizability checker's model and reports (tools/lincheck.ts runs
 * the search): the history's types, the register every key is (absent, or
 * holding a value), and counterexamples described for people.
 */

export type LinKind = 'put' | 'get' | 'delete';
export type LinKey = number | string;
export type LinValue = number | string;

export interface LinOp {
  key: LinKey;
  op: LinKind;
  /** put: the value written. */
  value?: LinValue;
  /**
   * get: the value returned, null when the key was absent (or `initial`).
   * delete: true when the key held a value; omitted when unknown.
   */
  result?: LinValue | boolean | null;
  /** ns, before the request became visible. */
  invokeNs: bigint | number | string;
  /** ns, after the response was observed; absent/null while pending. */
  completeNs?: bigint | number | string | null;
  /** Free-form origin (process/thread), shown in counterexamples. */
  client?: string;
}

export interface LinFailure {
  key: LinKey;
  /** Operations on that key. */
  ops: number;
  /** Longest valid linearization prefix the search found (operations in order). */
  longestPrefix: LinOp[];
  /** Register value after that prefix (null: absent). */
  stateAfterPrefix: LinValue | null;
  /** Operations that could not be placed next (each one's reason). */
  blocked: string[];
  /** Human-readable description (several lines). */
  description: string;
}

/** A return time that never comes (pending operations). */
export const INF = (1n << 127n) - 1n;
/** The register state of an absent key (values are interned to ids >= 0). */
export const ABSENT = -1;

export const isValue = (v: unknown): v is LinValue => typeof v === 'number' || typeof v === 'string';
export const show = (v: LinValue | null): string => (v === null ? 'absent' : typeof v === 'string' ? JSON.stringify(v) : String(v));

/** One operation, its results as value ids (interned by checkHistory in lincheck.ts). */
export interface Prepared {
  op: LinOp;
  invoke: bigint;
  complete: bigint; // INF when pending
  /** put: the id written; delete: ABSENT; get: the id read (ABSENT for null). */
  id: number;
  /** get: its result also reads as absence (it equals `initial`). */
  orAbsent: boolean;
  /** delete: whether the key held a value, when known. */
  held?: boolean;
}

export function describeOp(p: Prepared, t0: bigint): string {
  const us = (t: bigint): string => (t === INF ? 'pending' : `${(Number(t - t0) / 1000).toFixed(3)}us`);
  const k = show(p.op.key);
  const what =
    p.op.op === 'put'
      ? `put(${k}, ${show(p.op.value!)})`
      : p.op.op === 'get'
        ? `get(${k}) -> ${show(p.op.result as LinValue | null)}`
        : `delete(${k})${p.held === undefined ? '' : ` -> ${p.held}`}`;
  return `${what} [${us(p.invoke)} .. ${us(p.complete)}]${p.op.client !== undefined ? ` by ${p.op.client}` : ''}`;
}

/** May `p` take effect on a register in `state`? (Its result agrees.) */
export function agrees(p: Prepared, state: number): boolean {
  if (p.op.op === 'get') return p.id === state || (p.orAbsent && state === ABSENT);
  if (p.op.op === 'delete') return p.held === undefined || p.held === (state !== ABSENT);
  return true;
}

/** A failure pinned on one operation, found before any search. */
export function single(key: LinKey, list: Prepared[], p: Prepared, why: string, t0: bigint): LinFailure {
  const blocked = [`${describeOp(p, t0)}: ${why}`];
  const description = `key ${show(key)}: not linearizable (${list.length} operations)\n  ${blocked[0]}`;
  return { key, ops: list.length, longestPrefix: [], stateAfterPrefix: null, blocked, description };
}

/** Build the counterexample from the longest prefix found. */
export function explain(key: LinKey, list: Prepared[], values: LinValue[], best: number[], bestState: number, unique: boolean, deletes: boolean, t0: bigint): LinFailure {
  // Replay the prefix; then find what could come next and why it cannot.
  const placed = new Set(best);
  let firstReturn = INF;
  for (let id = 0; id < list.length; id++) if (!placed.has(id) && list[id].complete < firstReturn) firstReturn = list[id].complete;
  const held = bestState === ABSENT ? null : values[bestState];
  const readers = list.filter((p, id) => !placed.has(id) && p.op.op === 'get' && agrees(p, bestState));
  const blocked: string[] = [];
  for (let id = 0; id < list.length; id++) {
    if (placed.has(id)) continue;
    const p = list[id];
    if (p.invoke > firstReturn) continue; // not a candidate: something returned before it was invoked
    if (!agrees(p, bestState)) blocked.push(`${describeOp(p, t0)}: register holds ${show(held)}`);
    else if (p.op.op !== 'get' && unique && readers.length > 0 && (bestState !== ABSENT || !deletes))
      blocked.push(`${describeOp(p, t0)}: would overwrite ${show(held)}, which ${describeOp(readers[0], t0)} still has to read`);
    else blocked.push(`${describeOp(p, t0)}: consistent alone, but every continuation from it fails`);
  }
  const lines: string[] = [];
  lines.push(`key ${show(key)}: not linearizable (${list.length} operations, initially absent)`);
  lines.push(`  longest valid linearization prefix: ${best.length} operation(s)${best.length > 8 ? ', last 8:' : ':'}`);
  for (const id of best.slice(-8)) lines.push(`    ${describeOp(list[id], t0)}`);
  lines.push(`  register after it: ${show(held)}; no remaining operation can take effect next:`);
  for (const b of blocked.slice(0, 12)) lines.push(`    ${b}`);
  if (blocked.length > 12) lines.push(`    ... and ${blocked.length - 12} more`);
  const prefix = best.map((id) => list[id].op);
  return { key, ops: list.length, longestPrefix: prefix, stateAfterPrefix: held, blocked, description: lines.join('\n') };
}
