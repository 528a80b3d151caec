// deepFreeze (src/codec/freeze.ts): what the local cache hands out is frozen
// all the way down, Map/Set/Date mutators included, or not at all.
import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import { deepFreeze } from '../../src/codec/freeze';

test('deepFreeze freezes objects, arrays, Maps, Sets and Dates all the way down, cycles included', () => {
  const inner = { n: [1, { deep: true }] };
  const v: Record<string, unknown> = { inner, m: new Map<unknown, unknown>([[{ key: 1 }, inner]]), s: new Set([[2]]), d: new Date(5), e: new Error('x') };
  v.self = v;
  assert.equal(deepFreeze(v), true);
  for (const o of [v, inner, inner.n, inner.n[1], v.m, v.s, v.d, v.e, [...(v.m as Map<object, unknown>).keys()][0], [...(v.s as Set<unknown>)][0]]) assert.ok(Object.isFrozen(o));
  assert.throws(() => (v.m as Map<string, number>).set('a', 1), /frozen/);
  assert.throws(() => (v.m as Map<unknown, unknown>).delete(inner), /frozen/);
  assert.throws(() => (v.m as Map<unknown, unknown>).clear(), /frozen/);
  assert.throws(() => (v.s as Set<unknown>).add(1), /frozen/);
  assert.throws(() => (v.d as Date).setFullYear(2000), /frozen/);
  assert.throws(() => (v.d as Date).setTime(0), /frozen/);
  assert.equal((v.m as Map<unknown, unknown>).size, 1);
  assert.equal((v.d as Date).getTime(), 5);
  // Reads work as before.
  assert.equal((v.m as Map<unknown, unknown>).get([...(v.m as Map<object, unknown>).keys()][0]), inner);
  assert.ok((v.s as Set<unknown>).has([...(v.s as Set<unknown>)][0]));
  assert.equal(deepFreeze(42), true);
  assert.equal(deepFreeze('s'), true);
});

test('a value holding a typed array, Buffer, ArrayBuffer or DataView is refused and left untouched', () => {
  for (const bad of [new Float64Array(2), Buffer.from('ab'), new ArrayBuffer(4), new DataView(new ArrayBuffer(4)), new Uint8Array(0)]) {
    const v = { a: { b: [1, 2] }, m: new Map([['k', { bad }]]) };
    assert.equal(deepFreeze(v), false);
    assert.ok(!Object.isFrozen(v) && !Object.isFrozen(v.a) && !Object.isFrozen(v.a.b));
    v.m.set('still', { bad }); // mutators untouched
  }
});
