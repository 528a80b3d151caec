/**
 * Workload files: one request per line, in one of two forms; a file is
 * wholly one form (mixing them is an error), told apart by its first line
 * that decides (see detectForm).
 *
 * U32 FORM (the original one, as the seed describes it): `put KEY VALUE` or `get KEY`, with KEY and VALUE
 * decimal integers in 0..4294967295, replayed as Op.PutU32/Op.GetU32.
 * Expected/results files: one decimal u32 per line (0 for absent), one line
 * per get, in workload order; blank lines are skipped.
 *
 * BYTE FORM (bytes.ts): `set KEY VALUE`, `get KEY`, `del KEY` with string
 * keys and values (tokens without whitespace), replayed as
 * Op.Set/Op.Read/Op.Delete.
 *
 * Blank lines are skipped; every request keeps the line number it came from
 * for error messages.
 */
import { Op } from '../layout/board';
import { parseByteWorkload } from './bytes';
import type { Workload, WorkloadForm } from './workload-types';
import { CR, InputError, lineCapacity, NL, shared, snippet, SP, TAB } from './input';


export { ByteRequests, Workload, WorkloadForm } from './workload-types';

const D0 = 0x30;
const D9 = 0x39;
const MAX_U32 = 4294967295;

/** Three-letter verbs as 24-bit numbers (no string per line while scanning). */
const verb3 = (s: string): number => (s.charCodeAt(0) << 16) | (s.charCodeAt(1) << 8) | s.charCodeAt(2);
const PUT = verb3('put');
const GET = verb3('get');
const SET = verb3('set');
const DEL = verb3('del');

const isBlank = (c: number): boolean => c === SP || c === TAB || c === CR;

/**
 * The form of a workload, from its first line that decides: `put` means
 * u32; `set` or `del` means bytes; `get` decides only when its key is not a
 * decimal number (then bytes: a string key). A file of nothing but `get`s
 * of decimal numbers is u32, as the seed's workloads are; genworkload's string
 * keys start with a letter so that its byte files always decide. A line
 * with an unknown verb stops the search: the u32 parser reports it.
 */
export function detectForm(buf: Buffer): WorkloadForm {
  let p = 0;
  while (p < buf.length) {
    while (p < buf.length && isBlank(buf[p])) p++;
    const v = p;
    while (p < buf.length && buf[p] !== NL && !isBlank(buf[p])) p++;
    const verb = p - v === 3 ? (buf[v] << 16) | (buf[v + 1] << 8) | buf[v + 2] : -1;
    if (verb === PUT) return 'u32';
    if (verb === SET || verb === DEL) return 'bytes';
    if (verb === GET) {
      while (p < buf.length && (buf[p] === SP || buf[p] === TAB)) p++;
      while (p < buf.length && buf[p] >= D0 && buf[p] <= D9) p++;
      // Digits up to the end of the token (or no token at all) do not decide.
      if (!(p === buf.length || buf[p] === NL || isBlank(buf[p]))) return 'bytes';
    } else if (p !== v) {
      return 'u32';
    }
    while (p < buf.length && buf[p] !== NL) p++;
    p++;
  }
  return 'u32';
}

/** Parse a workload buffer of either form; throws InputError at the first bad line. */
export function parseWorkload(buf: Buffer, file: string): Workload {
  return detectForm(buf) === 'bytes' ? parseByteWorkload(buf, file) : parseU32Workload(buf, file);
}

/** Parse a u32-form workload; throws InputError at the first bad line. */
function parseU32Workload(buf: Buffer, file: string): Workload {
  const cap = lineCapacity(buf);
  const ops = shared((s) => new Uint8Array(s), cap);
  const keys = shared((s) => new Uint32Array(s), cap * 4);
  const values = shared((s) => new Uint32Array(s), cap * 4);
  const lines = shared((s) => new Uint32Array(s), cap * 4);
  let n = 0;
  let pos = 0;
  let line = 0;
  const fail = (why: string, start: number): never => {
    throw new InputError(`${file}:${line}: ${why}: "${snippet(buf, start)}"`);
  };
  while (pos < buf.length) {
    line++;
    const start = pos;
    let p = pos;
    const skipBlank = (): void => {
      while (p < buf.length && (buf[p] === SP || buf[p] === TAB)) p++;
    };
    const atEol = (): boolean => p >= buf.length || buf[p] === NL || (buf[p] === CR && (p + 1 >= buf.length || buf[p + 1] === NL));
    const number = (what: string): number => {
      skipBlank();
      const s = p;
      let v = 0;
      while (p < buf.length && buf[p] >= D0 && buf[p] <= D9) {
        v = v * 10 + (buf[p] - D0);
        p++;
        if (v > MAX_U32) fail(`${what} is out of range 0..4294967295`, start);
      }
      if (p === s) fail(`expected a ${what} (a decimal number)`, start);
      if (!atEol() && buf[p] !== SP && buf[p] !== TAB) fail(`${what} is not a decimal number`, start);
      return v;
    };
    skipBlank();
    if (atEol()) {
      // blank line
    } else {
      let op: Op;
      if (buf[p] === 0x70 && buf[p + 1] === 0x75 && buf[p + 2] === 0x74) op = Op.PutU32; // put
      else if (buf[p] === 0x67 && buf[p + 1] === 0x65 && buf[p + 2] === 0x74) op = Op.GetU32; // get
      else if ((buf[p] === 0x73 && buf[p + 1] === 0x65 && buf[p + 2] === 0x74) || (buf[p] === 0x64 && buf[p + 1] === 0x65 && buf[p + 2] === 0x6c))
        return fail("a u32 workload (its requests are 'put KEY VALUE' / 'get KEY' of numbers) cannot mix in the byte form's set/del", start);
      else return fail("expected 'put KEY VALUE' or 'get KEY'", start);
      p += 3;
      if (!atEol() && buf[p] !== SP && buf[p] !== TAB) fail("expected 'put KEY VALUE' or 'get KEY'", start);
      ops[n] = op;
      keys[n] = number('key');
      values[n] = op === Op.PutU32 ? number('value') : 0;
      skipBlank();
      if (!atEol()) fail(op === Op.PutU32 ? "unexpected text after 'put KEY VALUE'" : "unexpected text after 'get KEY'", start);
      lines[n] = line;
      n++;
    }
    while (p < buf.length && buf[p] !== NL) p++;
    pos = p + 1;
  }
  if (n === 0) throw new InputError(`${file}: the workload holds no requests`);
  return { form: 'u32', count: n, ops, keys, values, bytes: null, lines };
}

/** Values of an expected-results file, with the 1-based line of each. */
export interface ValueFile {
  values: Uint32Array;
  lines: Uint32Array;
}

/** Parse an expected-results file: one u32 per non-blank line. */
export function parseValues(buf: Buffer, file: string): ValueFile {
  const text = buf.toString('utf8');
  const values: number[] = [];
  const lines: number[] = [];
  const rows = text.split('\n');
  for (let i = 0; i < rows.length; i++) {
    const s = rows[i].trim();
    if (s === '') continue;
    if (!/^\d+$/.test(s) || Number(s) > MAX_U32) throw new InputError(`${file}:${i + 1}: expected a number in 0..4294967295: "${s.slice(0, 60)}"`);
    values.push(Number(s));
    lines.push(i + 1);
  }
  return { values: Uint32Array.from(values), lines: Uint32Array.from(lines) };
}

/**
 * Split `count` requests into `parts` contiguous ranges, the first
 * count % parts ranges one longer: every request belongs to exactly one.
 */
export function splitParts(count: number, parts: number): Array<[number, number]> {
  const base = Math.floor(count / parts);
  const extra = count % parts;
  const out: Array<[number, number]> = [];
  let start = 0;
  for (let i = 0; i < parts; i++) {
    const len = base + (i < extra ? 1 : 0);
    out.push([start, start + len]);
    start += len;
  }
  return out;
}
