/**
 * Deep freezing of decoded values, for the client's local cache: one
 * decoded value is handed to every reader of the key in the process, so
 * none may change it for the others.
 *
 * Object.freeze stops property writes only. A frozen Map or Set still
 * changes through set/add/delete/clear, and a Date through its setters: on
 * those the mutators are shadowed by own properties that throw a TypeError
 * (then the object is frozen, so they cannot be removed). Typed arrays,
 * Buffers, ArrayBuffers and DataViews cannot be frozen at all (V8 refuses
 * to freeze a view with elements): a value holding one is not frozen and
 * not cached (deepFreeze returns false and changes nothing).
 */

function refuse(this: unknown): never {
  throw new TypeError('cannot modify a value from the local cache: it is frozen (copy it first, e.g. structuredClone(value))');
}

const locked = (names: string[]): PropertyDescriptorMap =>
  Object.fromEntries(names.map((n) => [n, { value: refuse, writable: false, enumerable: false, configurable: false }]));
const MAP_LOCK = locked(['set', 'delete', 'clear']);
const SET_LOCK = locked(['add', 'delete', 'clear']);
const DATE_LOCK = locked(
  Object.getOwnPropertyNames(Date.prototype).filter((n) => n.startsWith('set')),
);

/**
 * Freeze `value` and everything it reaches; false (and nothing frozen) if
 * it holds something that cannot be frozen. Primitives: true.
 */
export function deepFreeze(value: unknown): boolean {
  if (typeof value !== 'object' || value === null) return true;
  const all: object[] = [];
  const seen = new Set<object>();
  const stack: unknown[] = [value];
  while (stack.length > 0) {
    const v = stack.pop();
    if (typeof v !== 'object' || v === null || seen.has(v)) continue;
    if (ArrayBuffer.isView(v) || v instanceof ArrayBuffer || v instanceof SharedArrayBuffer) return false;
    seen.add(v);
    all.push(v);
    if (v instanceof Map) for (const [k, x] of v) stack.push(k, x);
    else if (v instanceof Set) for (const x of v) stack.push(x);
    for (const key of Object.keys(v)) stack.push((v as Record<string, unknown>)[key]);
  }
  for (const o of all) {
    if (o instanceof Map) Object.defineProperties(o, MAP_LOCK);
    else if (o instanceof Set) Object.defineProperties(o, SET_LOCK);
    else if (o instanceof Date) Object.defineProperties(o, DATE_LOCK);
    Object.freeze(o);
  }
  return true;
}
