/**
 * Output files of the CLIs (./genworkload's workload and expected results,
 * ./client -o): regular files only, as their inputs are (input.ts). A path
 * that names a device, a FIFO, a socket or a directory is refused before
 * anything runs: opening a FIFO for writing blocks until a reader comes, and
 * a device is no place for a file's contents. Text goes through a buffer to
 * the descriptor, so that a workload of any size streams to its file in
 * chunks of CHUNK_BYTES instead of being built in memory first.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { errnoWords, fileKind, InputError } from './input';

/** Bytes buffered before a write(2): big enough that the system call costs nothing per line. */
const CHUNK_BYTES = 1 << 20;
/** UTF-8 takes at most 3 bytes per UTF-16 unit. */
const MAX_UTF8_PER_UNIT = 3;

function cannot(what: string, file: string, why: string): InputError {
  return new InputError(`cannot write ${what} ${file}: ${why}`);
}

/**
 * Refuse now, before a run, what could not be written after it: a path
 * that exists and is not a regular file, or whose directory is missing or
 * not writable. (OutputFile.open checks again when it opens the file.)
 */
export function checkOutput(file: string, what: string): void {
  let st: fs.Stats | null = null;
  try {
    st = fs.statSync(file);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw cannot(what, file, errnoWords(e));
  }
  if (st !== null && !st.isFile()) throw cannot(what, file, `it is ${fileKind(st)}, not a regular file`);
  try {
    fs.accessSync(st !== null ? file : path.dirname(path.resolve(file)), fs.constants.W_OK);
  } catch (e) {
    throw cannot(what, file, errnoWords(e));
  }
}

/** Whether paths `a` and `b` name one file (one inode, or one path when neither exists yet). */
export function sameFile(a: string, b: string): boolean {
  try {
    const x = fs.statSync(a, { bigint: true });
    const y = fs.statSync(b, { bigint: true });
    return x.dev === y.dev && x.ino === y.ino;
  } catch {
    return path.resolve(a) === path.resolve(b);
  }
}

/** A regular file being written: created or truncated by open(), buffered, closed or removed. */
export class OutputFile {
  private readonly buf = Buffer.allocUnsafe(CHUNK_BYTES);
  private used = 0;
  private fd: number;
  private readonly ino: bigint;

  private constructor(
    readonly file: string,
    private readonly what: string,
    fd: number,
    ino: bigint,
  ) {
    this.fd = fd;
    this.ino = ino;
  }

  /**
   * Create or truncate `file`, a regular file; InputError otherwise. The
   * path is checked before the open (a device is never opened) and the
   * descriptor after it (O_NONBLOCK: a FIFO put there meanwhile does not
   * block the open; it fails with ENXIO or is refused).
   */
  static open(file: string, what: string): OutputFile {
    checkOutput(file, what);
    let fd = -1;
    try {
      fd = fs.openSync(file, fs.constants.O_WRONLY | fs.constants.O_CREAT | fs.constants.O_TRUNC | fs.constants.O_NONBLOCK, 0o666);
      const st = fs.fstatSync(fd, { bigint: true });
      if (!st.isFile()) throw cannot(what, file, `it is ${fileKind(fs.fstatSync(fd))}, not a regular file`);
      return new OutputFile(file, what, fd, st.ino);
    } catch (e) {
      if (fd >= 0) fs.closeSync(fd);
      throw e instanceof InputError ? e : cannot(what, file, errnoWords(e));
    }
  }

  /** Append `text` (UTF-8). */
  write(text: string): void {
    if (this.used + text.length * MAX_UTF8_PER_UNIT > CHUNK_BYTES) {
      this.flush();
      if (text.length * MAX_UTF8_PER_UNIT > CHUNK_BYTES) {
        this.writeOut(Buffer.from(text, 'utf8'));
        return;
      }
    }
    this.used += this.buf.write(text, this.used, 'utf8');
  }

  /** Write out what is buffered. */
  flush(): void {
    if (this.used === 0) return;
    this.writeOut(this.buf.subarray(0, this.used));
    this.used = 0;
  }

  /** Flush and close; the file is complete. */
  close(): void {
    try {
      this.flush();
    } finally {
      this.release();
    }
  }

  /**
   * Close and unlink the file, if its path still names it: a run that
   * failed half way leaves no half-written workload to be mistaken for one.
   */
  remove(): void {
    this.release();
    try {
      const st = fs.lstatSync(this.file, { bigint: true });
      if (st.isFile() && st.ino === this.ino) fs.unlinkSync(this.file);
    } catch {
      // gone already
    }
  }

  private release(): void {
    if (this.fd < 0) return;
    const fd = this.fd;
    this.fd = -1;
    fs.closeSync(fd);
  }

  private writeOut(bytes: Buffer): void {
    try {
      for (let at = 0; at < bytes.length; ) at += fs.writeSync(this.fd, bytes, at, bytes.length - at);
    } catch (e) {
      throw cannot(this.what, this.file, errnoWords(e));
    }
  }
}
