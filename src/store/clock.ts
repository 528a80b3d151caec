/**
 * The one clock of expiry, shared by every process of the machine:
 * CLOCK_MONOTONIC in milliseconds (process.hrtime reads it). Every process
 * reads the same kernel clock, so a deadline written by one client is
 * judged the same way by the server and by every direct reader; and unlike
 * the wall clock, it never steps when NTP or a user sets the time.
 * Deadlines given as wall-clock timestamps (Keyv passes those) are
 * converted once, at the call.
 */
export function monoNowMs(): number {
  const [s, ns] = process.hrtime();
  return s * 1000 + ns / 1e6;
}

/** A deadline on the monotonic clock for `ttlMs` from now (0 = never). */
export function deadlineIn(ttlMs: number): number {
  return ttlMs === Infinity || ttlMs === 0 ? 0 : monoNowMs() + ttlMs;
}

/** Whether an entry with deadline `expires` (0 = never) is expired at `now`. */
export function expired(expires: number, now: number): boolean {
  return expires !== 0 && expires <= now;
}
