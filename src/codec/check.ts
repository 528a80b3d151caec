// Value walks for the structured codecs. They are kept out of the codecs'
// fast paths where possible: msgpack and v8 only walk after they failed, to
// turn the codec's own error into a TypeError that names the culprit and where
// it is; JSON walks every value up front, because JSON.stringify changes most
// unsupported values silently instead of failing.

/** `$.a[2].b`-style location, for one-line error messages. */
function at(path: string, key: string | number): string {
  return typeof key === 'number' ? `${path}[${key}]` : /^[A-Za-z_$][\w$]*$/.test(key) ? `${path}.${key}` : `${path}[${JSON.stringify(key)}]`;
}

/** Builds the TypeError every codec throws for a value it cannot carry. */
export function unsupported(encoding: string, what: string, path: string, hint = ''): TypeError {
  return new TypeError(`${encoding} codec cannot encode ${what} at ${path}${hint ? ` (${hint})` : ''}`);
}

/**
 * Objects no codec here can carry, which msgpackr would otherwise write as
 * an empty object ({}): what structuredClone refuses too. Their state is not
 * in enumerable properties (weak collections, a promise's result) or not
 * data at all (a generator's suspended frame).
 */
export function refusedKind(o: object): string | null {
  if (o instanceof Promise) return 'a Promise';
  if (o instanceof WeakMap) return 'a WeakMap';
  if (o instanceof WeakSet) return 'a WeakSet';
  if (o instanceof WeakRef) return 'a WeakRef';
  if (o instanceof FinalizationRegistry) return 'a FinalizationRegistry';
  const tag = (o as { [Symbol.toStringTag]?: unknown })[Symbol.toStringTag];
  if (tag === 'Generator' || tag === 'AsyncGenerator' || tag === 'Module') return `a ${tag}`;
  return null;
}

/**
 * First function, symbol or refused object (refusedKind) anywhere in `value`
 * (object values, array items, Map keys and values, Set members), or null.
 * Used after a codec failed, to name the culprit and where it is; the `seen`
 * set makes it terminate on cyclic values.
 */
export function findFunctionOrSymbol(value: unknown, path = '$', seen = new Set<object>()): { what: string; path: string } | null {
  if (typeof value === 'function') return { what: 'a function', path };
  if (typeof value === 'symbol') return { what: 'a symbol', path };
  if (value === null || typeof value !== 'object' || seen.has(value) || ArrayBuffer.isView(value)) return null;
  const refused = refusedKind(value);
  if (refused) return { what: refused, path };
  seen.add(value);
  if (value instanceof Map) {
    let i = 0;
    for (const [k, v] of value) {
      const found = findFunctionOrSymbol(k, `${path}<key ${i}>`, seen) ?? findFunctionOrSymbol(v, `${path}<value ${i}>`, seen);
      if (found) return found;
      i++;
    }
    return null;
  }
  if (value instanceof Set) {
    let i = 0;
    for (const v of value) {
      const found = findFunctionOrSymbol(v, `${path}<member ${i++}>`, seen);
      if (found) return found;
    }
    return null;
  }
  if (Array.isArray(value)) {
    for (let i = 0; i < value.length; i++) {
      const found = findFunctionOrSymbol(value[i], at(path, i), seen);
      if (found) return found;
    }
    return null;
  }
  for (const key of Object.keys(value)) {
    const found = findFunctionOrSymbol((value as Record<string, unknown>)[key], at(path, key), seen);
    if (found) return found;
  }
  return null;
}

/**
 * findFunctionOrSymbol after a codec failed, or null when the value is too
 * deep to walk (the failure itself is then reported: nesting too deep).
 */
export function findCulprit(value: unknown): { what: string; path: string } | null {
  try {
    return findFunctionOrSymbol(value);
  } catch (e) {
    if (e instanceof RangeError) return null; // the walk's own stack overflowed
    throw e;
  }
}

/**
 * Throws a TypeError for anything JSON would not give back as it was, so the
 * json codec never changes a value silently. JSON carries exactly: null,
 * booleans, strings, finite numbers, arrays without holes, and objects whose
 * prototype is Object.prototype or null (decoded with Object.prototype). -0 is
 * the one accepted loss (JSON writes it as 0; it is === 0, only Object.is
 * tells them apart). Dates are rejected rather than turned into ISO strings:
 * a value that comes back with another type is the silent change this codec
 * exists to refuse (store `date.toISOString()` explicitly, or use msgpack/v8).
 * Cycles are rejected too (JSON.stringify would throw a multi-line error).
 */
export function checkJson(value: unknown): void {
  // The walk runs on every json encode, so it keeps keys on a stack and only
  // builds the path string when it throws.
  const keys: (string | number)[] = [];
  const ancestors: object[] = [];
  const fail = (what: string, hint = ''): never => {
    throw unsupported('json', what, keys.reduce<string>((p, k) => at(p, k), '$'), hint);
  };
  const walk = (v: unknown): void => {
    switch (typeof v) {
      case 'string':
      case 'boolean':
        return;
      case 'number':
        if (v - v !== 0) fail(String(v), 'JSON writes it as null'); // NaN, ±Infinity
        return;
      case 'object':
        break;
      case 'undefined':
        return fail('undefined', 'JSON drops it or writes null');
      default:
        return fail(`a ${typeof v}`); // bigint, function, symbol
    }
    if (v === null) return;
    // Ancestors only: a shared non-cyclic object is fine, JSON writes it twice.
    if (ancestors.includes(v)) fail('a cyclic reference');
    ancestors.push(v);
    if (Array.isArray(v)) {
      if (Object.getPrototypeOf(v) !== Array.prototype) fail(`a ${v.constructor?.name ?? 'Array subclass'}`);
      for (let i = 0; i < v.length; i++) {
        keys.push(i);
        if (!(i in v)) fail('an array hole', 'JSON writes null');
        walk(v[i]);
        keys.pop();
      }
    } else {
      const proto = Object.getPrototypeOf(v);
      if (proto !== Object.prototype && proto !== null) {
        const name = (v as { constructor?: { name?: string } }).constructor?.name;
        fail(name ? `a ${name}` : 'an object with a custom prototype', 'JSON keeps plain objects, arrays, strings, finite numbers, booleans and null');
      }
      for (const key in v) {
        keys.push(key);
        walk((v as Record<string, unknown>)[key]);
        keys.pop();
      }
    }
    ancestors.pop();
  };
  walk(value);
}

/**
 * A lower bound of the bytes msgpack writes for `value`, computed only until
 * it passes `limit` (the caller then refuses the value: RangeError). It runs
 * before encoding so that a value whose encoding would be huge costs time in
 * proportion to the limit, not to the value: a sparse array of length 1e8
 * holds almost nothing in memory, yet msgpack writes each of its holes
 * (3.8 s and 805 MB measured before this check). Counted: one byte per
 * array slot (holes included: msgpack writes them as undefined), object
 * property, Map entry (two) and Set member, a string's length (UTF-8 never
 * takes fewer bytes than UTF-16 units), a binary view's byte length.
 *
 * The first walk is recursive and counts a shared object each time it
 * meets it (no identity set: the common, tree-shaped value pays nothing for
 * it; ~100 ns for a ~200 B object). Only if that count passes the limit, or
 * the value nests deeper than FAST_DEPTH (a cycle, or a very deep tree),
 * is the walk repeated counting each object once (msgpack with
 * structuredClone writes a repeated object as a 6-byte pointer), which is
 * the exact rule; that walk is iterative, so depth never overflows the
 * stack.
 */
export function sizeAtLeast(value: unknown, limit: number): number {
  if (typeof value === 'string') return 1 + value.length;
  if (typeof value !== 'object' || value === null) return 1;
  count = 0;
  cap = limit;
  if (fastSize(value, 0)) return count;
  return exactSize(value, limit);
}

/** Deeper than this, the identity-free walk may be following a cycle: count exactly instead. */
const FAST_DEPTH = 64;
const hasOwn = Object.prototype.hasOwnProperty;
/** The fast walk's running count and its limit (module state: no closure per call). */
let count = 0;
let cap = 0;

/** Adds `v`'s bound to `count`; false when the count passed `cap` or the value is too deep. */
function fastSize(v: object, depth: number): boolean {
  if (depth > FAST_DEPTH) return false;
  count += 1;
  if (v.constructor === Object || !(Array.isArray(v) || ArrayBuffer.isView(v) || v instanceof ArrayBuffer || v instanceof Map || v instanceof Set || v instanceof Date)) {
    for (const key in v) {
      if (!hasOwn.call(v, key)) continue; // msgpack writes own properties only
      const x: unknown = (v as Record<string, unknown>)[key];
      if (typeof x === 'string') count += 1 + x.length;
      else if (typeof x === 'object' && x !== null) {
        if (!fastSize(x, depth + 1)) return false;
      } else count += 1;
    }
  } else if (Array.isArray(v)) {
    const len = v.length;
    count += len;
    if (count > cap) return false;
    for (let i = 0; i < len; i++) {
      const x: unknown = v[i];
      if (typeof x === 'string') count += x.length;
      else if (typeof x === 'object' && x !== null && !fastSize(x, depth + 1)) return false;
    }
  } else if (ArrayBuffer.isView(v) || v instanceof ArrayBuffer) {
    count += v.byteLength;
  } else if (v instanceof Map) {
    count += 2 * v.size;
    if (count > cap) return false;
    for (const [k, x] of v) if (!fastMember(k, depth) || !fastMember(x, depth)) return false;
  } else if (v instanceof Set) {
    count += v.size;
    if (count > cap) return false;
    for (const x of v) if (!fastMember(x, depth)) return false;
  }
  return count <= cap;
}

function fastMember(x: unknown, depth: number): boolean {
  if (typeof x === 'string') count += x.length;
  else if (typeof x === 'object' && x !== null) return fastSize(x, depth + 1);
  return true;
}

/** The exact bound: each object counted once, iteratively. */
function exactSize(root: object, limit: number): number {
  let n = 0;
  const seen = new Set<object>();
  const stack: unknown[] = [root];
  while (stack.length > 0) {
    const v = stack.pop();
    n += 1;
    if (typeof v === 'string') n += v.length;
    if (typeof v !== 'object' || v === null) {
      if (n > limit) return n;
      continue;
    }
    if (seen.has(v)) {
      n += 5;
      continue;
    }
    seen.add(v);
    if (Array.isArray(v)) {
      n += v.length;
      if (n > limit) return n;
      for (let i = 0; i < v.length; i++) stack.push(v[i]);
      n -= v.length; // each pushed slot counts itself when popped
    } else if (ArrayBuffer.isView(v) || v instanceof ArrayBuffer) {
      n += v.byteLength;
    } else if (v instanceof Map) {
      if (n + 2 * v.size > limit) return n + 2 * v.size;
      for (const [k, x] of v) stack.push(k, x);
    } else if (v instanceof Set) {
      if (n + v.size > limit) return n + v.size;
      for (const x of v) stack.push(x);
    } else if (!(v instanceof Date)) {
      for (const key in v) if (hasOwn.call(v, key)) stack.push((v as Record<string, unknown>)[key]);
    }
    if (n > limit) return n;
  }
  return n;
}
