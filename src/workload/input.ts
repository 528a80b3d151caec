/** Input-file helpers shared by both workload forms (workload.ts, bytes.ts). */
import * as fs from 'node:fs';

/** A user mistake in an input file; the message names the file and line. */
export class InputError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'InputError';
  }
}

export function shared<T>(make: (sab: SharedArrayBuffer) => T, bytes: number): T {
  return make(new SharedArrayBuffer(Math.max(bytes, 8)));
}

export function readInput(file: string, what: string): Buffer {
  try {
    return fs.readFileSync(file);
  } catch (e) {
    const err = e as NodeJS.ErrnoException;
    const why =
      err.code === 'ENOENT' ? 'no such file' : err.code === 'EACCES' ? 'permission denied' : err.code === 'EISDIR' ? 'is a directory' : err.code ?? err.message;
    throw new InputError(`cannot read ${what} ${file}: ${why}`);
  }
}

export const SP = 0x20;
export const TAB = 0x09;
export const CR = 0x0d;
export const NL = 0x0a;

/** Requests a buffer can hold at most: one per line. */
export function lineCapacity(buf: Buffer): number {
  let n = 0;
  for (let i = 0; i < buf.length; i++) if (buf[i] === NL) n++;
  return n + 1;
}

/** The first line of `buf` from `start`, cut to 60 characters, for error messages. */
export function snippet(buf: Buffer, start: number): string {
  let end = start;
  while (end < buf.length && buf[end] !== NL && buf[end] !== CR && end < start + 240) end++;
  return buf.subarray(start, end).toString('utf8').slice(0, 60);
}
