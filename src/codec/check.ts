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
 * First function or symbol anywhere in `value` (object values, array items,
 * Map keys and values, Set members), or null. Used after msgpack/v8 fail; the
 * `seen` set makes it terminate on cyclic values.
 */
export function findFunctionOrSymbol(value: unknown, path = '$', seen = new Set<object>()): { what: string; path: string } | null {
  if (typeof value === 'function') return { what: 'a function', path };
  if (typeof value === 'symbol') return { what: 'a symbol', path };
  if (value === null || typeof value !== 'object' || seen.has(value) || ArrayBuffer.isView(value)) return null;
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
        const name = (v as { constructor?: { name?: string } }).constructor?.name || 'object with a custom prototype';
        fail(`a ${name}`, 'JSON keeps plain objects, arrays, strings, finite numbers, booleans and null');
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
