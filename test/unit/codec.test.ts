// Round trips, refusals and garbage for the three structured-value codecs
// (src/codec/structured.ts). What each codec loses is asserted here, so a
// msgpackr or Node upgrade that changes it fails a test instead of data.
import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { DEFAULT_ENCODING, Encoding, decodeStructured, encodeStructured } from '../../src/codec/structured';
import { CodecError } from '../../src/errors';

const ENCODINGS: Encoding[] = ['msgpack', 'v8', 'json'];
// A copy (new Uint8Array, not Buffer#slice, which is a view), as a store would write it.
const roundTrip = (v: unknown, e: Encoding): unknown => decodeStructured(new Uint8Array(encodeStructured(v, e)), e);

// Values JSON carries; every codec must give them back deepStrictEqual.
const plain: Record<string, unknown> = {
  object: { id: 1, name: 'n', nested: { a: [1, 2, { b: null }] } },
  array: [1, 'two', true, null, [3, [4]], { five: 5 }],
  emptyObjectAndArray: [{}, []],
  nonAscii: 'héllo 世界 🎉 \u0000 \uffff',
  numbers: [0, 1, -1, 0.1, 2 ** 31, 2 ** 32 + 1, 2 ** 53 - 1, -(2 ** 53 - 1), 1e300, 5e-324],
  booleansAndNull: [true, false, null],
};
// Values only the richer codecs carry.
const rich: Record<string, unknown> = {
  date: new Date(1_700_000_000_123),
  map: new Map<unknown, unknown>([['a', 1], [2, { x: new Date(0) }], [3n, 'big key']]),
  set: new Set([1, 'a', new Date(5)]),
  bigint64: [5n, 2n ** 63n - 1n, -(2n ** 63n), 2n ** 64n - 1n],
  bigintHuge: [2n ** 200n + 7n, -(2n ** 300n) - 1n],
  typedArrays: [new Uint8Array([1, 2, 255]), new Float64Array([1.5, NaN, -Infinity]), new Int32Array([-1, 2 ** 31 - 1]), new Uint16Array([9]), new BigInt64Array([-3n])],
  specialNumbers: [NaN, Infinity, -Infinity],
  negativeZero: -0,
  undefinedInside: { a: undefined, b: [undefined] },
  nestedMix: { list: [new Map([['k', new Set([new Date(1), 2n])]])], bytes: new Float64Array([0.5]) },
};

test('the default codec round-trips every supported type', () => {
  for (const [name, v] of Object.entries({ ...plain, ...rich })) assert.deepStrictEqual(roundTrip(v, DEFAULT_ENCODING), v, name);
});

test('v8 round-trips everything, including holes, Buffer and cycles', () => {
  for (const [name, v] of Object.entries({ ...plain, ...rich })) assert.deepStrictEqual(roundTrip(v, 'v8'), v, name);
  assert.deepStrictEqual(roundTrip([1, , 3], 'v8'), [1, , 3]); // eslint-disable-line no-sparse-arrays
  assert.deepStrictEqual(roundTrip(Buffer.from([1, 2]), 'v8'), Buffer.from([1, 2]));
  const cyclic: { self?: unknown } = {};
  cyclic.self = cyclic;
  const back = roundTrip(cyclic, 'v8') as { self: unknown };
  assert.equal(back.self, back);
});

test('msgpack round-trips all but Map, -0, holes and Buffer, and loses those as documented', () => {
  const lost = new Set(['map', 'negativeZero', 'nestedMix']);
  for (const [name, v] of Object.entries({ ...plain, ...rich })) if (!lost.has(name)) assert.deepStrictEqual(roundTrip(v, 'msgpack'), v, name);
  // Without records a Map and a plain object are both MessagePack maps.
  assert.deepStrictEqual(roundTrip(new Map<unknown, unknown>([['a', 1], [2, 'b']]), 'msgpack'), { a: 1, '2': 'b' });
  assert.ok(Object.is(roundTrip(-0, 'msgpack'), 0));
  assert.deepStrictEqual(roundTrip([1, , 3], 'msgpack'), [1, undefined, 3]); // eslint-disable-line no-sparse-arrays
  // ...so a Map whose keys cannot be property names cannot be decoded at all.
  assert.throws(() => roundTrip(new Map([[{ k: 1 }, 'v']]), 'msgpack'), CodecError);
  // A Buffer is MessagePack bin, decoded (copyBuffers) as a plain Uint8Array.
  assert.deepStrictEqual(roundTrip(Buffer.from([1, 2]), 'msgpack'), Uint8Array.of(1, 2));
});

test('json round-trips what JSON carries and refuses the rest with a TypeError naming it', () => {
  for (const [name, v] of Object.entries(plain)) assert.deepStrictEqual(roundTrip(v, 'json'), v, name);
  assert.ok(Object.is(roundTrip(-0, 'json'), 0)); // the one accepted loss
  const refused: [unknown, RegExp][] = [
    [1n, /a bigint at \$/], [{ a: new Map() }, /a Map at \$\.a/], [[new Set()], /a Set at \$\[0\]/],
    [new Date(0), /a Date at \$/], [{ t: new Uint8Array(1) }, /a Uint8Array at \$\.t/], [undefined, /undefined at \$/],
    [{ 'x y': undefined }, /undefined at \$\["x y"\]/], [[NaN], /NaN at \$\[0\]/], [{ i: -Infinity }, /-Infinity/],
    [[1, , 2], /hole at \$\[1\]/], [new (class Point { x = 1; })(), /a Point at \$/], // eslint-disable-line no-sparse-arrays
  ];
  for (const [v, re] of refused) assert.throws(() => encodeStructured(v, 'json'), (e: Error) => e instanceof TypeError && re.test(e.message), re.source);
  const cyclic: { self?: unknown } = {};
  cyclic.self = cyclic;
  assert.throws(() => encodeStructured(cyclic, 'json'), /cyclic reference at \$\.self/);
});

test('every codec refuses functions and symbols anywhere with a one-line TypeError', () => {
  const bad: [unknown, string][] = [
    [() => 1, '$'], [{ a: { b: function f() { return 1; } } }, '$.a.b'], [[1, Symbol('s')], '$[1]'],
    [new Map([['k', () => 0]]), '$<value 0>'], [new Set([Symbol.iterator]), '$<member 0>'], [{ m: new Map([[Symbol(), 1]]) }, '$.m<key 0>'],
  ];
  for (const e of ENCODINGS) {
    for (const [v, path] of bad) {
      assert.throws(() => encodeStructured(v, e), (err: Error) => {
        assert.ok(err instanceof TypeError, `${e} ${path}: ${err}`);
        // json may name the Map/Set around the culprit first: it refuses those too.
        assert.match(err.message, e === 'json' ? /^json codec cannot encode a \S+ at \$/ : /^\S+ codec cannot encode a (function|symbol) at /);
        if (e !== 'json') assert.ok(err.message.endsWith(` at ${path}`), `${e}: ${err.message}`);
        assert.ok(!err.message.includes('\n'));
        return true;
      });
    }
  }
});

test('garbage and truncated input throw CodecError, never hang', () => {
  const cases = [new Uint8Array(0), Uint8Array.of(0xc1, 0x00), Uint8Array.of(0xdd, 0xff, 0xff, 0xff, 0xff), Uint8Array.of(0xff, 0xfe, 0x80), new TextEncoder().encode('{"a":')];
  for (const e of ENCODINGS) for (const b of cases) assert.throws(() => decodeStructured(b, e), CodecError, `${e} ${b}`);
  // Every prefix of a real encoding is truncated, hence an error.
  for (const e of ENCODINGS) {
    const full = new Uint8Array(encodeStructured({ a: [1, 2, 3], s: 'text', n: null }, e));
    for (let n = 0; n < full.length; n++) assert.throws(() => decodeStructured(full.subarray(0, n), e), CodecError, `${e} prefix ${n}`);
    // v8's format has no end marker: it ignores trailing bytes (documented).
    if (e === 'v8') assert.deepStrictEqual(decodeStructured(Uint8Array.of(...full, 0x01), e), { a: [1, 2, 3], s: 'text', n: null });
    else assert.throws(() => decodeStructured(Uint8Array.of(...full, 0x01), e), CodecError, `${e} trailing byte`);
  }
  // Random bytes: decode may succeed by chance, but only ever a value or a CodecError.
  const started = Date.now();
  for (let i = 0; i < 3000; i++) {
    const b = randomBytes(1 + (i % 200));
    for (const e of ENCODINGS) {
      try {
        decodeStructured(b, e);
      } catch (err) {
        assert.ok(err instanceof CodecError, `${e}: ${err}`);
      }
    }
  }
  assert.ok(Date.now() - started < 20_000);
});

test('decoding a view over shared memory works and the result does not alias it', () => {
  const value = { s: 'shared ü', d: new Uint8Array([1, 2, 3]), f: new Float64Array([4.5]), b: 7n };
  for (const e of ENCODINGS) {
    const v = e === 'json' ? { s: value.s, n: [1, 2] } : value;
    const bytes = encodeStructured(v, e);
    const sab = new SharedArrayBuffer(bytes.length + 16);
    const view = new Uint8Array(sab, 3, bytes.length); // odd offset: no alignment luck
    view.set(bytes);
    const out = decodeStructured(view, e);
    view.fill(0);
    assert.deepStrictEqual(out, v, e);
  }
  // Non-shared input must not be aliased either (a store may reuse the buffer).
  for (const e of ['msgpack', 'v8'] as const) {
    const bytes = new Uint8Array(encodeStructured(value, e));
    const out = decodeStructured(bytes, e);
    bytes.fill(0);
    assert.deepStrictEqual(out, value, e);
  }
});

test('large values (1 MiB) round-trip in every codec', () => {
  const big = { text: 'x'.repeat(512 * 1024) + '世'.repeat(256 * 1024), list: Array.from({ length: 5000 }, (_, i) => ({ i, s: `item ${i}` })) };
  const bytes = new Uint8Array(1 << 20).map((_, i) => i * 7);
  for (const e of ENCODINGS) {
    assert.ok(encodeStructured(big, e).length > 1 << 20, e);
    assert.deepStrictEqual(roundTrip(big, e), big, e);
    if (e !== 'json') assert.deepStrictEqual(roundTrip({ bytes }, e), { bytes }, e);
  }
});

test('every codec gives a null-prototype object back as a plain object', () => {
  for (const e of ENCODINGS) assert.deepStrictEqual(roundTrip(Object.assign(Object.create(null), { a: 1 }), e), { a: 1 }, e);
});

test('an encoding result stays intact until the next encode, as documented', () => {
  for (const e of ENCODINGS) {
    const a = encodeStructured({ a: 1 }, e);
    assert.deepStrictEqual(decodeStructured(a, e), { a: 1 });
  }
});
