/**
 * Bad input to the library, against a real server: strings with lone
 * surrogates as keys and values are refused with a TypeError (UTF-8 cannot
 * encode them: '\uD800', '\uDC00' and '\uFFFD' would be one key, and a value
 * would come back as '\uFFFD'), in the sync and the promise forms; and every
 * promise-returning method of the Client reports a bad argument, or a closed
 * client, by rejecting, never by throwing.
 */
import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import { connect, Client, Namespace } from '../../src/index';
import { internals } from '../../src/client/client';
import { Scope } from '../support/procs';

/** Strings with a lone surrogate: alone, inside ASCII, past the 64-unit fast path, reversed pairs, beside Latin-1. */
const LONE = ['\uD800', '\uDC00', '\uDBFF', 'a\uD800b', '\uD83D', '\uDE00\uD83D', 'x'.repeat(100) + '\uDC00', '\uD800' + 'x'.repeat(100), 'é\uD800', 'ok\uD83D\uDE00\uD83D'];
const SURROGATE = /holds a lone surrogate \(\\u[0-9A-F]{4} at index \d+\), which UTF-8 cannot encode/;

async function client(t: { after(fn: () => unknown): void }): Promise<Client> {
  const s = new Scope(t, 'shmkv-inputs-');
  const region = s.p('region');
  await s.startServer(['-n', '1', '-p', region]);
  const kv = connect({ path: region, window: 4 });
  t.after(() => kv.close());
  return kv;
}

const isError = (cls: new (...a: never[]) => Error, re: RegExp) => (e: unknown): boolean => e instanceof cls && re.test((e as Error).message);

test('lone surrogates: a key is a TypeError in every call, sync and promise; U+FFFD and whole pairs are keys of their own', { timeout: 120_000 }, async (t) => {
  const kv = await client(t);
  const keyErr = isError(TypeError, new RegExp(`^a string key ${SURROGATE.source}`));
  for (const key of LONE) {
    const what = JSON.stringify(key);
    assert.throws(() => kv.setSync(key, 'v'), keyErr, what);
    assert.throws(() => kv.getSync(key), keyErr, what);
    assert.throws(() => kv.hasSync(key), keyErr, what);
    assert.throws(() => kv.deleteSync(key), keyErr, what);
    assert.throws(() => kv.incrSync(key), keyErr, what);
    assert.throws(() => kv.setSync(key, 'v', { ifAbsent: true }), keyErr, what);
    await assert.rejects(kv.set(key, 'v'), keyErr, what);
    await assert.rejects(kv.get(key), keyErr, what);
    await assert.rejects(kv.has(key), keyErr, what);
    await assert.rejects(kv.delete(key), keyErr, what);
    await assert.rejects(kv.getMany(['a', key]), keyErr, what);
    await assert.rejects(kv.setMany([['a', 1], [key, 2]]), keyErr, what);
    await assert.rejects(kv.incr(key), keyErr, what);
    await assert.rejects(kv.fetch(key, () => 'loaded'), keyErr, what);
  }
  // The index names the first lone half.
  assert.throws(() => kv.getSync('ab\uD83D\uDE00c\uDC00'), /\\uDC00 at index 5\)/);
  // None was stored, under its own name or as U+FFFD, and the well-formed neighbours are distinct keys.
  const replacement = '\uFFFD';
  const neighbours = [replacement, '\uD83D\uDE00', 'a\uFFFDb', 'x'.repeat(100) + replacement];
  for (const k of neighbours) assert.equal(kv.getSync(k), undefined, `${JSON.stringify(k)} was stored by a refused call`);
  assert.equal(kv.getSync('a'), undefined, 'the batch with a bad key stored its good one');
  neighbours.forEach((k, i) => kv.setSync(k, i));
  neighbours.forEach((k, i) => assert.equal(kv.getSync(k), i, JSON.stringify(k)));
  assert.deepEqual(await kv.getMany(neighbours), [0, 1, 2, 3]);
});

test('lone surrogates: a string value is a TypeError, sync and promise; U+FFFD and whole pairs come back exactly', { timeout: 120_000 }, async (t) => {
  const kv = await client(t);
  const valueErr = isError(TypeError, new RegExp(`^a string value ${SURROGATE.source}`));
  for (const [i, value] of LONE.entries()) {
    const what = JSON.stringify(value);
    assert.throws(() => kv.setSync('k', value), valueErr, what);
    assert.throws(() => kv.compareAndSetSync('k', undefined, value), valueErr, what);
    await assert.rejects(kv.set('k', value), valueErr, what);
    await assert.rejects(kv.setMany([['k', value]]), valueErr, what);
    await assert.rejects(kv.compareAndSet('k', undefined, value), valueErr, what);
    // A key per load: a failed load's error is what its key's next fetch meets for a while.
    await assert.rejects(kv.fetch(`f${i}`, () => value), valueErr, what);
  }
  assert.equal(kv.getSync('k'), undefined, 'a refused value was stored');
  LONE.forEach((_v, i) => assert.equal(kv.getSync(`f${i}`), undefined, 'a refused loaded value was stored'));
  for (const value of ['\uFFFD', '\uD83D\uDE00', 'a\uD83D\uDE00b'.repeat(50), 'é€\uFFFD']) {
    kv.setSync('k', value);
    assert.equal(kv.getSync('k'), value);
    await kv.set('k2', value);
    assert.equal(await kv.get('k2'), value);
  }
});

/** A key that no call accepts (TypeError), and what each promise method is called with to get it wrong. */
const BAD = {} as unknown as string;
const PROMISE_CALLS: Record<string, (kv: Client) => Promise<unknown>> = {
  get: (kv) => kv.get(BAD),
  has: (kv) => kv.has(BAD),
  ttl: (kv) => kv.ttl(BAD),
  getRemainingTTL: (kv) => kv.getRemainingTTL(BAD),
  getMany: (kv) => kv.getMany(5 as unknown as string[]),
  set: (kv) => kv.set('k', undefined),
  put: (kv) => kv.put(-1, 1),
  delete: (kv) => kv.delete(BAD),
  compareAndSet: (kv) => kv.compareAndSet('k', 1, Symbol('s')),
  compareAndDelete: (kv) => kv.compareAndDelete(BAD, 1),
  expire: (kv) => kv.expire('k', -1),
  persist: (kv) => kv.persist(BAD),
  incr: (kv) => kv.incr('k', 1.5),
  setMany: (kv) => kv.setMany([['k', () => 1]]),
  putMany: (kv) => kv.putMany(null as unknown as []),
  fetch: (kv) => kv.fetch('k', 'no loader' as unknown as () => number),
  deleteByTag: (kv) => kv.deleteByTag(['']),
  // No argument to get wrong: see the closed client below.
  clear: (kv) => kv.clear(),
  close: (kv) => kv.close(),
};
const NO_ARGUMENTS = new Set(['clear', 'close']);

/** Every other member of Client.prototype: sync methods, async generators, getters. Internals live elsewhere (client-core.ts, reads.ts). */
const NOT_PROMISE_METHODS = new Set([
  'getSync', 'hasSync', 'ttlSync', 'getManySync', 'setSync', 'putSync', 'deleteSync', 'compareAndSetSync', 'compareAndDeleteSync',
  'expireSync', 'persistSync', 'incrSync', 'setManySync', 'putManySync', 'deleteByTagSync', 'clearSync', 'closeSync',
  'namespace', 'on', 'off', 'keys', 'entries', 'values', 'size', 'keysWithPrefix', 'stats', 'pending', 'maxKeyBytes', 'maxValueBytes', 'encoding',
]);

/**
 * Promise paths behind the API, which must reject the same way: a
 * namespace's enveloped set and its fetch (a namespace made before the
 * client closed), and the requests that fetch and tags are built from.
 */
const INNER_CALLS: Record<string, (kv: Client, ns: Namespace) => Promise<unknown>> = {
  'namespace set': (_kv, ns) => ns.set(BAD, 1),
  'namespace fetch': (_kv, ns) => ns.fetch(BAD, () => 1),
  'internals request': (kv) =>
    internals(kv).request(() => {
      throw new TypeError('a request that cannot be built');
    }),
};

/** Call `f`: it must not throw, and must return a promise that rejects as `check` says. */
async function mustReject(what: string, f: () => Promise<unknown>, check: (e: unknown) => boolean): Promise<void> {
  let p: Promise<unknown> | undefined;
  assert.doesNotThrow(() => {
    p = f();
  }, `${what} threw instead of rejecting`);
  assert.ok(p instanceof Promise, `${what} returned no promise`);
  await assert.rejects(p, (e: unknown) => {
    assert.ok(check(e), `${what} rejected with ${String(e)}`);
    return true;
  });
}

test('every promise method of the Client rejects, never throws: on bad arguments, and on a closed client', { timeout: 120_000 }, async (t) => {
  // The table must name every method: a new promise method needs its case here.
  const methods = Object.getOwnPropertyNames(Client.prototype).filter((n) => n !== 'constructor');
  assert.deepEqual(methods.filter((n) => !(n in PROMISE_CALLS) && !NOT_PROMISE_METHODS.has(n)), [], 'methods this test does not know');
  // And no name that left the class lingers here: the lists are the class's public surface.
  assert.deepEqual([...Object.keys(PROMISE_CALLS), ...NOT_PROMISE_METHODS].filter((n) => !methods.includes(n)), [], 'names the class no longer has');
  const kv = await client(t);
  const ns = kv.namespace('inputs');
  for (const [name, call] of Object.entries(PROMISE_CALLS)) {
    if (NO_ARGUMENTS.has(name)) continue;
    await mustReject(`${name}(bad argument)`, () => call(kv), (e) => e instanceof TypeError || e instanceof RangeError);
  }
  for (const [name, call] of Object.entries(INNER_CALLS)) await mustReject(`${name}(bad argument)`, () => call(kv, ns), (e) => e instanceof TypeError || e instanceof RangeError);
  // The async generators throw nothing when called either: their first next() rejects.
  for (const gen of ['keys', 'entries', 'values'] as const) assert.equal(typeof kv[gen]().next, 'function');
  assert.equal(kv.getSync('k'), undefined, 'a refused call stored something');
  await kv.close();
  for (const [name, call] of Object.entries(PROMISE_CALLS)) {
    if (name === 'close') continue;
    // Its bad argument or the closed client, whichever it checks first; clear() has only the latter.
    const closedOrBad = (e: unknown): boolean => (e instanceof Error && /the client is closed/.test(e.message)) || (!NO_ARGUMENTS.has(name) && (e instanceof TypeError || e instanceof RangeError));
    await mustReject(`${name}() on a closed client`, () => call(kv), closedOrBad);
  }
  const closedOrBad = (e: unknown): boolean => (e instanceof Error && /the client is closed/.test(e.message)) || e instanceof TypeError;
  for (const [name, call] of Object.entries(INNER_CALLS)) await mustReject(`${name}() on a closed client`, () => call(kv, ns), closedOrBad);
  await kv.close(); // a second close resolves
  await assert.rejects(kv.keys().next(), /closed/);
});

test('lone surrogates in a tag, a namespace name and a key prefix are TypeErrors; a namespace\'s promise methods reject on a bad key', { timeout: 120_000 }, async (t) => {
  const kv = await client(t);
  for (const bad of LONE) {
    const what = JSON.stringify(bad);
    assert.throws(() => kv.setSync('k', 1, { tags: [bad] }), isError(TypeError, new RegExp(`^a tag ${SURROGATE.source}`)), what);
    await assert.rejects(kv.deleteByTag([bad]), isError(TypeError, new RegExp(`^a tag ${SURROGATE.source}`)), what);
    assert.throws(() => kv.namespace(bad), isError(TypeError, new RegExp(`^a namespace name ${SURROGATE.source}`)), what);
    assert.throws(() => kv.keysWithPrefix(bad), isError(TypeError, new RegExp(`^a key prefix ${SURROGATE.source}`)), what);
  }
  // The well-formed neighbours are distinct tags and namespaces.
  kv.setSync('tagged', 1, { tags: ['\uFFFD'] });
  await kv.deleteByTag(['\uD83D\uDE00']);
  assert.equal(kv.getSync('tagged'), 1, 'another tag left it alone');
  await kv.deleteByTag(['\uFFFD']);
  assert.equal(kv.getSync('tagged'), undefined);
  const a = kv.namespace('\uFFFD');
  const b = kv.namespace('\uD83D\uDE00');
  a.setSync('k', 'a');
  b.setSync('k', 'b');
  assert.deepEqual([a.getSync('k'), b.getSync('k')], ['a', 'b']);
  const ns = kv.namespace('users');
  const keyErr = isError(TypeError, new RegExp(`^a string key ${SURROGATE.source}`));
  for (const call of [() => ns.get('\uD800'), () => ns.has('\uD800'), () => ns.set('\uD800', 1), () => ns.delete('\uD800'), () => ns.fetch('\uD800', () => 1)]) {
    let p: Promise<unknown> | undefined;
    assert.doesNotThrow(() => (p = call()), call.toString());
    await assert.rejects(p!, keyErr, call.toString());
  }
});
