import { BoardFullError, OutcomeUnknownError, RegionError, ServerGoneError } from '../errors';

/**
 * Errors crossing from a client worker thread to its main thread. Structured
 * cloning keeps only a plain Error, so the user-facing classes (whose
 * one-line messages the CLIs print) are sent by name and rebuilt here.
 */

export interface WireError {
  name: string;
  message: string;
  stack?: string;
}

export function toWire(e: unknown): WireError {
  const err = e as Error;
  return { name: err.name, message: err.message, stack: err.stack };
}

const CLASSES: Record<string, new (message: string) => Error> = { ServerGoneError, RegionError, RangeError };

/** Classes whose constructors compose their message: built, then given the one sent. */
function rebuild(w: WireError): Error | null {
  let e: Error;
  if (w.name === 'OutcomeUnknownError') e = new OutcomeUnknownError('');
  else if (w.name === 'BoardFullError') e = new BoardFullError(0, 0);
  else return null;
  e.message = w.message;
  return e;
}

export function fromWire(w: WireError): Error {
  const rebuilt = rebuild(w);
  if (rebuilt) return rebuilt;
  const Cls = CLASSES[w.name];
  if (Cls) return new Cls(w.message);
  const err = new Error(w.message);
  err.name = w.name;
  if (w.stack) err.stack = w.stack;
  return err;
}
