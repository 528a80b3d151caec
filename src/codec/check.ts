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
export function checkJson(value: unknown, path = '$', stack: object[] = []): void {
  switch (typeof value) {
    case 'string':
    case 'boolean':
      return;
    case 'number':
      if (!Number.isFinite(value)) throw unsupported('json', String(value), path, 'JSON writes it as null');
      return;
    case 'object':
      break;
    case 'undefined':
      throw unsupported('json', 'undefined', path, 'JSON drops it or writes null');
    default:
      // bigint, function, symbol
      throw unsupported('json', `a ${typeof value}`, path);
  }
  if (value === null) return;
  // The stack (ancestors only) catches cycles; a shared non-cyclic object is
  // fine, JSON just writes it twice.
  if (stack.includes(value)) throw unsupported('json', 'a cyclic reference', path);
  if (Array.isArray(value)) {
    if (Object.getPrototypeOf(value) !== Array.prototype) throw unsupported('json', `a ${value.constructor?.name ?? 'Array subclass'}`, path);
    stack.push(value);
    for (let i = 0; i < value.length; i++) {
      if (!(i in value)) throw unsupported('json', 'an array hole', at(path, i), 'JSON writes null');
      checkJson(value[i], at(path, i), stack);
    }
    stack.pop();
    return;
  }
  const proto = Object.getPrototypeOf(value);
  if (proto !== Object.prototype && proto !== null) {
    const name = (value as { constructor?: { name?: string } }).constructor?.name || 'object with a custom prototype';
    throw unsupported('json', `a ${name}`, path, 'JSON keeps plain objects, arrays, strings, finite numbers, booleans and null');
  }
  stack.push(value);
  for (const key of Object.keys(value)) checkJson((value as Record<string, unknown>)[key], at(path, key), stack);
  stack.pop();
}
