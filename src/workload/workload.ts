/**
 * Workload files: one request per line, `put KEY VALUE` or `get KEY`, with
 * KEY and VALUE decimal integers in 0..4294967295. Blank lines are skipped;
 * every request keeps the line number it came from for error messages.
 * Expected/results files: one decimal u32 per line, one line per get, in
 * workload order.
 */
import * as fs from 'node:fs';
import { Op } from '../layout/layout';

/** A user mistake in an input file; the message names the file and line. */
export class InputError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'InputError';
  }
}

/** A parsed workload in shared typed arrays (worker threads read them in place). */
export interface Workload {
  count: number;
  ops: Uint8Array;
  keys: Uint32Array;
  values: Uint32Array;
  /** 1-based source line of each request. */
  lines: Uint32Array;
}

function shared<T>(make: (sab: SharedArrayBuffer) => T, bytes: number): T {
  return make(new SharedArrayBuffer(Math.max(bytes, 8)));
}

export function readInput(file: string, what: string): Buffer {
  try {
    return fs.readFileSync(file);
  } catch (e) {
    const err = e as NodeJS.ErrnoException;
    const why =
      err.code === 'ENOENT' ? 'no such file' : err.code === 'EACCES' ? 'permission denied' : err.code === 'EISDIR' ? 'is a directory' : err.code ?? err.message;
    throw new InputError(`cannot read ${what} ${file}: ${why}`);
  }
}

const SP = 0x20;
const TAB = 0x09;
const CR = 0x0d;
const NL = 0x0a;
const D0 = 0x30;
const D9 = 0x39;
const MAX_U32 = 4294967295;

/** Parse a workload buffer; throws InputError at the first bad line. */
export function parseWorkload(buf: Buffer, file: string): Workload {
  let lineCount = 0;
  for (let i = 0; i < buf.length; i++) if (buf[i] === NL) lineCount++;
  const cap = lineCount + 1;
  const ops = shared((s) => new Uint8Array(s), cap);
  const keys = shared((s) => new Uint32Array(s), cap * 4);
  const values = shared((s) => new Uint32Array(s), cap * 4);
  const lines = shared((s) => new Uint32Array(s), cap * 4);
  let n = 0;
  let pos = 0;
  let line = 0;
  const fail = (why: string, start: number): never => {
    let end = start;
    while (end < buf.length && buf[end] !== NL && buf[end] !== CR) end++;
    const text = buf.subarray(start, Math.min(end, start + 60)).toString('utf8');
    throw new InputError(`${file}:${line}: ${why}: "${text}"`);
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
      if (buf[p] === 0x70 && buf[p + 1] === 0x75 && buf[p + 2] === 0x74) op = Op.Put; // put
      else if (buf[p] === 0x67 && buf[p + 1] === 0x65 && buf[p + 2] === 0x74) op = Op.Get; // get
      else return fail("expected 'put KEY VALUE' or 'get KEY'", start);
      p += 3;
      if (!atEol() && buf[p] !== SP && buf[p] !== TAB) fail("expected 'put KEY VALUE' or 'get KEY'", start);
      ops[n] = op;
      keys[n] = number('key');
      values[n] = op === Op.Put ? number('value') : 0;
      skipBlank();
      if (!atEol()) fail(op === Op.Put ? "unexpected text after 'put KEY VALUE'" : "unexpected text after 'get KEY'", start);
      lines[n] = line;
      n++;
    }
    while (p < buf.length && buf[p] !== NL) p++;
    pos = p + 1;
  }
  if (n === 0) throw new InputError(`${file}: the workload holds no requests`);
  return { count: n, ops, keys, values, lines };
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
