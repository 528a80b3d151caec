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

/**
 * What `st` is, in words, when it is not a regular file. The CLIs read and
 * write regular files only: opening a FIFO blocks until its other end is
 * opened, a device may never end (/dev/zero) or do something on open, and
 * a socket cannot be opened at all.
 */
export function fileKind(st: fs.Stats): string {
  return st.isDirectory() ? 'a directory' : st.isFIFO() ? 'a FIFO' : st.isSocket() ? 'a socket' : 'a device';
}

/** `file`'s kind in words when it exists and is not a regular file (symbolic links followed), else null. */
export function notRegular(file: string): string | null {
  let st: fs.Stats;
  try {
    st = fs.statSync(file);
  } catch {
    return null;
  }
  return st.isFile() ? null : fileKind(st);
}

/** The largest file Node reads into one buffer (fs's kIoMaxLength, 2 GiB - 1 on every supported Node). */
export const MAX_INPUT_BYTES = 2 ** 31 - 1;

/** Why an fs call on a CLI's file failed, in a few words. */
export function errnoWords(e: unknown): string {
  const err = e as NodeJS.ErrnoException;
  switch (err.code) {
    case 'ENOENT':
      return 'no such file or directory';
    case 'EACCES':
    case 'EPERM':
      return 'permission denied';
    case 'EISDIR':
      return 'it is a directory, not a regular file';
    case 'ENXIO':
      return 'it is not a regular file';
    case 'ENOSPC':
      return 'no space left on the device';
    case 'EDQUOT':
      return 'disk quota exceeded';
    case 'EROFS':
      return 'read-only file system';
    case 'EFBIG':
      return 'file too large';
    default:
      return err.code ?? err.message;
  }
}

/**
 * The whole of `file`, a regular file of at most MAX_INPUT_BYTES; anything
 * else is an InputError naming it. The path is checked before it is opened,
 * and the descriptor after (a FIFO put at the path meanwhile does not block
 * the open: O_NONBLOCK).
 */
export function readInput(file: string, what: string): Buffer {
  const refuse = (why: string): InputError => new InputError(`cannot read ${what} ${file}: ${why}`);
  const check = (st: fs.Stats): void => {
    if (!st.isFile()) throw refuse(`it is ${fileKind(st)}, not a regular file`);
    if (st.size > MAX_INPUT_BYTES) throw refuse(`it holds ${st.size} bytes, over the ${MAX_INPUT_BYTES} (2 GiB) a file can be read in`);
  };
  let fd = -1;
  try {
    check(fs.statSync(file));
    fd = fs.openSync(file, fs.constants.O_RDONLY | fs.constants.O_NONBLOCK);
    check(fs.fstatSync(fd));
    return fs.readFileSync(fd);
  } catch (e) {
    if (e instanceof InputError) throw e;
    throw refuse(errnoWords(e));
  } finally {
    if (fd >= 0) fs.closeSync(fd);
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
