/**
 * The client's user-facing errors and argument checks.
 */
import { Status } from '../layout/board';
import { TableCorruptError, TableFullError } from '../errors';

/** The error a non-Ok status stands for, in a response to `what`. */
export function statusError(status: Status, what: string): Error {
  switch (status) {
    case Status.Full:
      return new TableFullError(what);
    case Status.WrongType:
      return new TypeError(`${what}: the value stored under the key is not a u32`);
    case Status.Corrupt:
      return new TableCorruptError(`the server met it answering ${what}`);
    default:
      return new Error(`${what}: the server answered status ${Status[status] ?? status}`);
  }
}

/** Throw statusError unless `status` is Ok. */
export function check(status: Status, what: string): void {
  if (status !== Status.Ok) throw statusError(status, what);
}

const MAX_U32 = 4294967295;

export function checkU32(what: string, v: number): void {
  if (typeof v !== 'number' || !Number.isInteger(v) || v < 0 || v > MAX_U32)
    throw new RangeError(`${what} must be an integer in 0..4294967295, got ${String(v)}`);
}

/** A time to live in ms: a non-negative number (0 or Infinity: never expires). */
export function checkTtl(ttl: number): number {
  if (typeof ttl !== 'number' || !(ttl >= 0)) throw new RangeError(`ttl must be a number of ms >= 0 (0 or Infinity: never), got ${String(ttl)}`);
  return ttl;
}
