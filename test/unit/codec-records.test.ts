// The default codec's shared record structures (src/codec/records.ts): the
// list's compare-and-set protocol, epochs, shapes that change, encoding in
// place, and the size bound checked before encoding. Each RecordCodec over
// a host() of one MemoryStructures plays a process over one table; the
// end-to-end tests (test/e2e/values.test.ts) run the same protocol through
// a real table between real processes.
import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import { Packr } from 'msgpackr';
import { RecordCodec, DIRECT_MIN_BYTES } from '../../src/codec/records';
import { MemoryStructures } from '../../src/codec/memory-structures';
import { CodecError } from '../../src/errors';

const LIMIT = 1 << 20;
const shapesOf = (l: MemoryStructures): string[][] => (l.stored === null ? [] : (JSON.parse(Buffer.from(l.stored.subarray(4)).toString()) as string[][]));
const epochOf = (b: Uint8Array): number => Buffer.from(b).readUInt32LE(1);
const own = (b: Uint8Array): Uint8Array => Uint8Array.prototype.slice.call(b);

test('shapes that change (a new field, a removed one, another order) each get a shared id and decode anywhere', () => {
  const l = new MemoryStructures();
  const w = new RecordCodec(l.host(), LIMIT);
  const values = [{ a: 1, b: 'x' }, { a: 2, b: 'y', c: [3] }, { a: 3 }, { b: 'z', a: 4 }, { a: 5, b: 'w' }, { nested: { a: 6, b: 'v' } }];
  const encoded = values.map((v) => own(w.encode(v)));
  assert.deepStrictEqual(shapesOf(l), [['a', 'b'], ['a', 'b', 'c'], ['a'], ['b', 'a'], ['nested']]);
  // A reader that never saw the list loads it once, on the first value of a non-zero epoch.
  const r = new RecordCodec(l.host(), LIMIT);
  const loads = l.loads;
  encoded.forEach((b, i) => assert.deepStrictEqual(r.decode(b, b.length), values[i]));
  assert.equal(l.loads, loads + 1, 'one load for all six values');
  // Known shapes: no load at all, encoding or decoding (after the writer's
  // first encode since its own save, which loads the list back once).
  w.encode({ a: 0, b: 'sync' });
  const before = l.loads;
  for (let i = 0; i < 100; i++) {
    const b = w.encode({ a: i, b: 'again' });
    assert.deepStrictEqual(r.decode(b, b.length), { a: i, b: 'again' });
  }
  assert.equal(l.loads, before);
  assert.equal(l.saves, 5, 'one save per new shape, none for known ones');
});

/**
 * Two processes that loaded the same list add a shape at once: `other`
 * (another codec over a copy of the list) saves first, during `first`'s
 * save, which then fails its compare-and-set and must retry.
 */
function race(otherValue: object, firstValue: object): { l: MemoryStructures; fromOther: Uint8Array; fromFirst: Uint8Array; first: RecordCodec } {
  const l = new MemoryStructures();
  const first = new RecordCodec(l.host(), LIMIT);
  first.encode({ z: 0 }); // both processes start from the list [[z]]
  const elsewhere = new MemoryStructures();
  elsewhere.set(l.stored);
  const other = new RecordCodec(elsewhere.host(), LIMIT);
  const fromOther = own(other.encode(otherValue));
  l.beforeSave = () => l.set(elsewhere.stored); // the other process's CAS lands first
  const fromFirst = own(first.encode(firstValue));
  return { l, fromOther, fromFirst, first };
}

test('two processes adding different shapes at once: neither shape is lost, no id names two shapes', () => {
  const { l, fromOther, fromFirst } = race({ y: 'other' }, { x: 'first' });
  assert.deepStrictEqual(shapesOf(l), [['z'], ['y'], ['x']], 'the loser retried and took the next id');
  assert.equal(l.saves, 3, 'first save, the declined one, the retry');
  const reader = new RecordCodec(l.host(), LIMIT);
  assert.deepStrictEqual(reader.decode(fromOther, fromOther.length), { y: 'other' });
  assert.deepStrictEqual(reader.decode(fromFirst, fromFirst.length), { x: 'first' });
});

test('two processes adding the same shape at once: one shape, both values decode', () => {
  const { l, fromOther, fromFirst } = race({ x: 1 }, { x: 2 });
  assert.deepStrictEqual(shapesOf(l), [['z'], ['x']]);
  const reader = new RecordCodec(l.host(), LIMIT);
  assert.deepStrictEqual(reader.decode(fromOther, fromOther.length), { x: 1 });
  assert.deepStrictEqual(reader.decode(fromFirst, fromFirst.length), { x: 2 });
});

test('a dropped list: writers start a new epoch; values of the old one fail with CodecError, never misread', () => {
  const l = new MemoryStructures();
  const w = new RecordCodec(l.host(), LIMIT);
  const old = own(w.encode([{ kind: 'old', n: 1 }, { other: true }]));
  const oldEpoch = epochOf(old);
  assert.notEqual(oldEpoch, 0);
  l.set(null); // clear() dropped the key
  const fresh = own(w.encode({ other: false })); // the same ids would now name other shapes
  assert.notEqual(epochOf(fresh), oldEpoch, 'a new list, a new epoch');
  assert.deepStrictEqual(shapesOf(l), [['other']]);
  for (const c of [w, new RecordCodec(l.host(), LIMIT)]) {
    assert.throws(() => c.decode(old, old.length), (e: Error) => e instanceof CodecError && /no longer holds/.test(e.message));
    assert.deepStrictEqual(c.decode(fresh, fresh.length), { other: false });
  }
});

test('an id the list does not define is a CodecError (msgpackr alone would decode it as a number)', () => {
  const l = new MemoryStructures();
  const w = new RecordCodec(l.host(), LIMIT);
  w.encode({ a: 1 });
  const v = own(w.encode([{}])); // the empty shape: its record is its id alone
  const full = l.stored!;
  // The same epoch with the list cut short: the empty shape's id is unknown.
  const cut = Buffer.concat([full.subarray(0, 4), Buffer.from(JSON.stringify([['a']]))]);
  l.set(cut);
  const r = new RecordCodec(l.host(), LIMIT);
  assert.throws(() => r.decode(v, v.length), (e: Error) => e instanceof CodecError && /does not define/.test(e.message));
  l.set(full);
  assert.deepStrictEqual(r.decode(v, v.length), [{}]);
});

test('a structures key holding something else fails with CodecError instead of looping', () => {
  const l = new MemoryStructures();
  l.set(Buffer.from('not a list at all'));
  const w = new RecordCodec(l.host(), LIMIT);
  assert.throws(() => w.encode({ a: 1 }), CodecError);
  l.set(null);
  assert.deepStrictEqual(w.decode(w.encode({ a: 1 }), w.encode({ a: 1 }).length), { a: 1 });
});

test('a list that keeps changing under every save gives up with CodecError after a bounded number of retries', () => {
  const l = new MemoryStructures();
  const w = new RecordCodec(l.host(), LIMIT);
  w.encode({ base: 1 });
  const epoch = Buffer.from(l.stored!.subarray(0, 4));
  let n = 0;
  const churn = (): void => {
    l.set(Buffer.concat([epoch, Buffer.from(JSON.stringify([['base'], ...Array.from({ length: ++n }, (_, i) => [`k${i}`])]))]));
    l.beforeSave = churn;
  };
  l.beforeSave = churn;
  assert.throws(() => w.encode({ brandNew: 1 }), (e: Error) => e instanceof CodecError && /changed 64 times/.test(e.message));
  l.beforeSave = null;
  const b = own(w.encode({ brandNew: 2 }));
  assert.deepStrictEqual(new RecordCodec(l.host(), LIMIT).decode(b, b.length), { brandNew: 2 });
});

test('past the list\'s byte limit, new shapes are defined inside each value instead, and still decode', () => {
  const l = new MemoryStructures();
  const w = new RecordCodec(l.host(), 4000); // the list may take half: 2000 bytes
  const values = Array.from({ length: 60 }, (_, i) => ({ [`a_rather_long_property_name_${i}`]: i, [`and_another_one_${i}`]: -i - 1 }));
  const encoded = values.map((v) => own(w.encode(v)));
  assert.ok(l.stored!.length <= 2000, `list of ${l.stored!.length} bytes`);
  assert.ok(shapesOf(l).length < 60, 'some shapes were not shared');
  const r = new RecordCodec(l.host(), 4000);
  encoded.forEach((b, i) => assert.deepStrictEqual(r.decode(b, b.length), values[i]));
  // Dictionaries: shapes with more than 64 keys are never shared.
  const dict = Object.fromEntries(Array.from({ length: 65 }, (_, i) => [`k${i}`, i]));
  const before = shapesOf(l).length;
  const big = new RecordCodec(l.host(), LIMIT);
  const b = own(big.encode(dict));
  assert.equal(shapesOf(l).length, before);
  assert.deepStrictEqual(r.decode(b, b.length), dict);
});

test('encodeInto writes in place after the lead bytes, spills what does not fit, and leaves msgpackr off the buffer', () => {
  const l = new MemoryStructures();
  const w = new RecordCodec(l.host(), LIMIT);
  const r = new RecordCodec(l.host(), LIMIT);
  const block = Buffer.from(new SharedArrayBuffer(4096));
  block.write('KEYMATERIAL', 0, 'latin1');
  const v = { id: 7, name: 'in place', when: new Date(3), tags: new Set(['a']) };
  const len = w.encodeInto(v, block, 11);
  assert.ok(len > 0 && w.spilled === null);
  assert.equal(block.toString('latin1', 0, 11), 'KEYMATERIAL', 'the lead is untouched');
  assert.deepStrictEqual(r.decode(block.subarray(11), len), v);
  // Another module's msgpackr pack afterwards must not write into the block.
  const snapshot = Buffer.from(block);
  new Packr().pack({ someone: 'else', big: 'y'.repeat(3000) });
  assert.ok(block.equals(snapshot), 'msgpackr wrote into the staging block after encodeInto');
  // Too big for the block: -1, and the bytes are in `spilled`, the caller's own.
  const large = { text: 'z'.repeat(10_000) };
  assert.equal(w.encodeInto(large, block, 11), -1);
  const spilled = w.spilled!;
  assert.deepStrictEqual(r.decode(spilled, spilled.length), large);
  // A declined save during encodeInto: msgpackr encodes again, elsewhere; the value still ends up in place.
  const elsewhere = new MemoryStructures();
  elsewhere.set(l.stored);
  const other = new RecordCodec(elsewhere.host(), LIMIT);
  other.encode({ racer: 1 });
  l.beforeSave = () => l.set(elsewhere.stored);
  const v2 = { freshShape: 'after a race', n: 2 };
  const len2 = w.encodeInto(v2, block, 11);
  assert.ok(len2 > 0);
  assert.deepStrictEqual(r.decode(block.subarray(11), len2), v2);
  assert.deepStrictEqual(shapesOf(l).map((s) => s[0]), ['id', 'text', 'racer', 'freshShape']);
  assert.ok(block.length >= DIRECT_MIN_BYTES);
});

test('the size bound is checked before encoding: a sparse array of length 1e8 is refused at once', () => {
  const w = new RecordCodec(new MemoryStructures().host(), LIMIT);
  const sparse: unknown[] = [];
  sparse.length = 1e8;
  for (const v of [sparse, { deep: { list: sparse } }, new Map([['k', sparse]]), [new Set([sparse])]]) {
    const t0 = performance.now();
    assert.throws(() => w.encode(v), (e: Error) => e instanceof RangeError && /over the server's limit of 1048576 bytes/.test(e.message));
    assert.ok(performance.now() - t0 < 1000, `took ${performance.now() - t0} ms`);
  }
  // Long strings and binary data count too.
  assert.throws(() => w.encode({ s: 'x'.repeat(LIMIT + 1) }), RangeError);
  assert.throws(() => w.encode([new Uint8Array(LIMIT + 1)]), RangeError);
});

test('the size bound counts a shared object once: cycles and repeated references are not refused', () => {
  const w = new RecordCodec(new MemoryStructures().host(), 4000);
  const leaf = { s: 'x'.repeat(500) };
  const fanOut = Array.from({ length: 40 }, () => leaf); // 40 x 500 counted naively, once exactly
  const back = w.decode(w.encode(fanOut), w.encode(fanOut).length) as unknown[];
  assert.equal(back.length, 40);
  assert.equal(back[0], back[39]);
  const branching: Record<string, unknown> = {};
  branching.a = branching;
  branching.b = branching;
  branching.c = [branching, branching];
  const t0 = performance.now();
  const b = w.encode(branching);
  assert.ok(performance.now() - t0 < 1000);
  const out = w.decode(b, b.length) as Record<string, unknown>;
  assert.equal(out.a, out);
  // A string over the limit on its own: refused before encoding. (The exact
  // size after encoding is checked by the caller, ValueCodec: e2e tests.)
  assert.throws(() => w.encode({ s: 'y'.repeat(4000) }), RangeError);
});

test('a getter that writes through the same codec while it encodes gets a CodecError; the codec stays usable', () => {
  const l = new MemoryStructures();
  const w = new RecordCodec(l.host(), LIMIT);
  const sneaky = {
    get x(): number {
      w.encode({ inner: 1 });
      return 1;
    },
  };
  assert.throws(() => w.encode(sneaky), (e: Error) => e instanceof CodecError && /while encoding another/.test(e.message));
  const b = w.encode({ after: true });
  assert.deepStrictEqual(w.decode(b, b.length), { after: true });
});
