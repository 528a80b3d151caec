/**
 * In-process tests of workload parsing: which form a file is, how the byte
 * form packs its requests into shared arrays, and byte expected files.
 * (The CLIs' handling of the same files is in e2e-bytes and cli-errors-bytes.)
 */
import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import { detectForm, parseWorkload, Workload } from '../../src/workload/workload';
import { byteKey, parseStringValues, resultLine } from '../../src/workload/bytes';
import { Op } from '../../src/layout/board';
import { KeyKind } from '../../src/layout/keys-values';

const form = (text: string): string => detectForm(Buffer.from(text));

test('form detection: the first line that decides', () => {
  assert.equal(form('put 1 2\nget 1\n'), 'u32');
  assert.equal(form('get 1\nget 2\n'), 'u32', 'gets of numbers only: the u32 form');
  assert.equal(form('\n  \nget 1\nput 1 2\n'), 'u32');
  assert.equal(form('get 1\nset 1 x\n'), 'bytes', 'a later set decides');
  assert.equal(form('get k1\n'), 'bytes', 'a key that is not a number');
  assert.equal(form('get 1.5\n'), 'bytes');
  assert.equal(form('del 7\n'), 'bytes');
  assert.equal(form('set a b\nput 1 2\n'), 'bytes');
  assert.equal(form('get 1\r\nget 2\r\n'), 'u32');
  assert.equal(form('fetch 1\nset a b\n'), 'u32', 'an unknown verb stops the search; the u32 parser reports it');
  assert.equal(form(''), 'u32');
});

test('byte form: requests packed as key material then value, shared, with their lines', () => {
  const w: Workload = parseWorkload(Buffer.from('set ab xyz\n\n get\tab \r\ndel é\nget 5\n'), 'f.txt');
  assert.equal(w.form, 'bytes');
  assert.equal(w.count, 4);
  assert.deepEqual([...w.ops.subarray(0, 4)], [Op.Set, Op.Read, Op.Delete, Op.Read]);
  assert.deepEqual([...w.lines.subarray(0, 4)], [1, 3, 4, 5]);
  const b = w.bytes!;
  assert.ok(b.data.buffer instanceof SharedArrayBuffer && b.start.buffer instanceof SharedArrayBuffer);
  const req = (i: number): Buffer => Buffer.from(b.data.buffer, b.data.byteOffset + b.start[i], b.keyLen[i] + b.valueLen[i]);
  assert.deepEqual(req(0), Buffer.from([KeyKind.String, ...Buffer.from('abxyz')]));
  assert.equal(b.keyLen[0], 3);
  assert.equal(b.valueLen[0], 3);
  assert.equal(b.valueLen[1], 0);
  assert.equal(byteKey(w, 2), 'é');
  assert.equal(b.keyLen[2], 3, 'é is 2 UTF-8 bytes after the kind byte');
  assert.equal(byteKey(w, 3), '5');
  assert.equal(b.maxKey, 2);
  assert.equal(b.maxValue, 3);
  assert.equal(b.maxValueLine, 1);
});

test('u32 form is parsed as before', () => {
  const w = parseWorkload(Buffer.from('put 1 2\nget 4294967295\n'), 'f.txt');
  assert.equal(w.form, 'u32');
  assert.equal(w.bytes, null);
  assert.deepEqual([...w.ops.subarray(0, 2)], [Op.PutU32, Op.GetU32]);
  assert.deepEqual([...w.keys.subarray(0, 2)], [1, 4294967295]);
  assert.equal(w.values[0], 2);
});

test('byte expected files: every line counts, a final newline does not', () => {
  assert.deepEqual(parseStringValues(Buffer.from('a\n\nb\n'), 'e').values, ['a', '', 'b']);
  assert.deepEqual(parseStringValues(Buffer.from('a\r\n\r\n'), 'e').values, ['a', '']);
  assert.deepEqual(parseStringValues(Buffer.from('\n\n'), 'e').values, ['', '']);
  assert.deepEqual(parseStringValues(Buffer.from(''), 'e').values, []);
  assert.throws(() => parseStringValues(Buffer.from('a\nb c\n'), 'e'), /e:2: /);
});

test('result lines: values, absent, and what only a library client can store', () => {
  assert.equal(resultLine('v1'), 'v1');
  assert.equal(resultLine(undefined), '');
  assert.equal(resultLine(''), '""');
  assert.equal(resultLine('a b\nc'), '"a b\\nc"');
  assert.equal(resultLine(5), '<number:5>');
  assert.equal(resultLine(null), '<null:null>');
  assert.equal(resultLine(Buffer.from('abc')), '<bytes:3>');
  assert.equal(resultLine({ a: 1 }), '<Object>');
});
