/**
 * The byte form of workload files: `set KEY VALUE`, `get KEY`, `del KEY`,
 * KEY and VALUE tokens without whitespace read as UTF-8 strings (string
 * keys, string values; `get 5` here is the string key "5", not the u32 5).
 * Keys are at most DEFAULT_MAX_KEY_BYTES UTF-8 bytes and values at most
 * DEFAULT_MAX_VALUE_BYTES, checked here so that a bad file fails before
 * anything is sent (the client checks the server's own limits again).
 *
 * Expected/results files of the byte form: one line per get, in workload
 * order, holding the value, or nothing for an absent key. Every line
 * counts (an empty line is an absent key, not skipped); `del` and `set`
 * have no line.
 */
import { isUtf8 } from 'node:buffer';
import { Op } from '../layout/board';
import { DEFAULT_MAX_KEY_BYTES, DEFAULT_MAX_VALUE_BYTES, KEY_KIND_BYTES, KeyKind } from '../layout/keys-values';
import { CR, InputError, lineCapacity, NL, shared, snippet, SP, TAB } from './input';
import type { Workload } from './workload-types';

const SET_USAGE = "expected 'set KEY VALUE', 'get KEY' or 'del KEY'";

/** Parse a byte-form workload; throws InputError at the first bad line. */
export function parseByteWorkload(buf: Buffer, file: string): Workload {
  if (!isUtf8(buf)) throw new InputError(`${file}:${firstBadUtf8Line(buf)}: is not valid UTF-8 (keys and values are UTF-8 strings)`);
  const cap = lineCapacity(buf);
  const ops = shared((s) => new Uint8Array(s), cap);
  const start = shared((s) => new Uint32Array(s), cap * 4);
  const keyLen = shared((s) => new Uint32Array(s), cap * 4);
  const valueLen = shared((s) => new Uint32Array(s), cap * 4);
  const lines = shared((s) => new Uint32Array(s), cap * 4);
  // Every byte of a key or value comes from the file, plus one KeyKind byte per request.
  const data = shared((s) => new Uint8Array(s), buf.length + cap * KEY_KIND_BYTES);
  let maxKey = 0;
  let maxKeyLine = 0;
  let maxValue = 0;
  let maxValueLine = 0;
  let n = 0;
  let at = 0;
  let pos = 0;
  let line = 0;
  while (pos < buf.length) {
    line++;
    const lineStart = pos;
    let p = pos;
    const fail = (why: string): never => {
      throw new InputError(`${file}:${line}: ${why}: "${snippet(buf, lineStart)}"`);
    };
    // One token: [from, p) up to a blank or the end of the line.
    const token = (): number => {
      while (p < buf.length && (buf[p] === SP || buf[p] === TAB)) p++;
      const from = p;
      while (p < buf.length && buf[p] > SP && buf[p] !== 0x7f) p++;
      if (p < buf.length && buf[p] !== SP && buf[p] !== TAB && buf[p] !== NL && !(buf[p] === CR && (p + 1 === buf.length || buf[p + 1] === NL)))
        fail('a key or value may not hold control characters');
      return from;
    };
    const v = token();
    if (p === v) {
      // blank line
    } else {
      const verb = buf.toString('latin1', v, p);
      const op = verb === 'set' ? Op.Set : verb === 'get' ? Op.Read : verb === 'del' ? Op.Delete : 0;
      if (op === 0)
        fail(verb === 'put' ? "a byte workload (set/get/del of strings) cannot mix in the u32 form's put" : SET_USAGE);
      const k = token();
      const kLen = p - k;
      if (kLen === 0) fail(`'${verb}' needs a KEY`);
      if (kLen > DEFAULT_MAX_KEY_BYTES) fail(`key of ${kLen} bytes is over the limit of ${DEFAULT_MAX_KEY_BYTES} bytes`);
      let val = p;
      let vLen = 0;
      if (op === Op.Set) {
        val = token();
        vLen = p - val;
        if (vLen === 0) fail("'set' needs a KEY and a VALUE");
        if (vLen > DEFAULT_MAX_VALUE_BYTES) fail(`value of ${vLen} bytes is over the limit of ${DEFAULT_MAX_VALUE_BYTES} bytes`);
      }
      if (token() !== p) fail(op === Op.Set ? "unexpected text after 'set KEY VALUE'" : `unexpected text after '${verb} KEY'`);
      ops[n] = op;
      start[n] = at;
      keyLen[n] = KEY_KIND_BYTES + kLen;
      valueLen[n] = vLen;
      lines[n] = line;
      data[at] = KeyKind.String;
      data.set(buf.subarray(k, k + kLen), at + KEY_KIND_BYTES);
      at += KEY_KIND_BYTES + kLen;
      if (vLen > 0) data.set(buf.subarray(val, val + vLen), at);
      at += vLen;
      if (kLen > maxKey) [maxKey, maxKeyLine] = [kLen, line];
      if (vLen > maxValue) [maxValue, maxValueLine] = [vLen, line];
      n++;
    }
    while (p < buf.length && buf[p] !== NL) p++;
    pos = p + 1;
  }
  if (n === 0) throw new InputError(`${file}: the workload holds no requests`);
  const none = new Uint32Array(0);
  return {
    form: 'bytes',
    count: n,
    ops,
    keys: none,
    values: none,
    bytes: { data, start, keyLen, valueLen, maxKey, maxKeyLine, maxValue, maxValueLine },
    lines,
  };
}

function firstBadUtf8Line(buf: Buffer): number {
  let line = 1;
  let from = 0;
  for (let i = 0; i <= buf.length; i++) {
    if (i === buf.length || buf[i] === NL) {
      if (!isUtf8(buf.subarray(from, i))) return line;
      line++;
      from = i + 1;
    }
  }
  return line;
}

/** The key of byte request i, as a string (messages). */
export function byteKey(w: Workload, i: number): string {
  const b = w.bytes!;
  return Buffer.from(b.data.buffer, b.data.byteOffset + b.start[i] + KEY_KIND_BYTES, b.keyLen[i] - KEY_KIND_BYTES).toString('utf8');
}

/** Lines of a byte-form expected file: one value per line, '' for absent. */
export interface StringFile {
  values: string[];
  lines: Uint32Array;
}

/**
 * Parse a byte-form expected file. Every line is one get's value, an empty
 * line an absent key (so blank lines count here, unlike in the u32 form); a
 * final newline ends the last line rather than adding one; CRLF is accepted.
 */
export function parseStringValues(buf: Buffer, file: string): StringFile {
  if (!isUtf8(buf)) throw new InputError(`${file}:${firstBadUtf8Line(buf)}: is not valid UTF-8`);
  const rows = buf.toString('utf8').split('\n');
  if (rows[rows.length - 1] === '') rows.pop();
  const values = rows.map((r, i) => {
    const s = r.endsWith('\r') ? r.slice(0, -1) : r;
    if (/\s/.test(s)) throw new InputError(`${file}:${i + 1}: expected one value (no whitespace), or an empty line for an absent key: "${s.slice(0, 60)}"`);
    return s;
  });
  return { values, lines: Uint32Array.from(rows, (_r, i) => i + 1) };
}

/** Strings no workload line can hold as a value (empty, or with whitespace or control characters). */
const NOT_A_TOKEN = /^$|[\x00-\x20\x7f]/;

/**
 * A byte get's result line: the string, or '' when the key is absent. What
 * only another client can have stored prints so that it keeps to one line
 * and equals no workload value: a string that is not a token as JSON, a
 * value of another type as a tag such as <number:5>.
 */
export function resultLine(v: unknown): string {
  if (typeof v === 'string') return NOT_A_TOKEN.test(v) ? JSON.stringify(v) : v;
  if (v === undefined) return '';
  if (typeof v === 'number' || typeof v === 'boolean' || v === null) return `<${v === null ? 'null' : typeof v}:${String(v)}>`;
  if (v instanceof Uint8Array) return `<bytes:${v.length}>`;
  return `<${(v as object).constructor?.name ?? 'object'}>`;
}
