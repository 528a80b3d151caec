/**
 * A method that returns a promise reports a bad argument, a closed client
 * or a gone server by rejecting, never by throwing: callers write one
 * .catch or try/await (client.ts, namespace.ts).
 */

/** f()'s promise, or a promise rejected with what f() threw. */
export function rejecting<T>(f: () => Promise<T>): Promise<T> {
  try {
    return f();
  } catch (e) {
    return Promise.reject(e);
  }
}

/** A promise of f()'s value, or of its exception. */
export function settled<T>(f: () => T): Promise<T> {
  try {
    return Promise.resolve(f());
  } catch (e) {
    return Promise.reject(e);
  }
}
