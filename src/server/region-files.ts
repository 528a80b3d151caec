/**
 * The region file and its lock file, as a server finds, takes and leaves
 * them. Both paths can be replaced by anyone, so the server records each
 * inode's identity (device, inode number) and, on stop, unlinks a path only
 * while it still names that inode: a user's file put at the path, or
 * another server's region created there after ours, is left alone. (A
 * replacement between that check and the unlink is not excluded; the
 * window is one syscall.) The lock is taken on an open descriptor and kept
 * only if the path still names the descriptor's inode after flock
 * succeeded: a lock file unlinked by a stopping server while we opened it
 * would otherwise let two servers each lock a different inode.
 *
 * Only regular files are ever opened, replaced or unlinked: a path that
 * names a device, a FIFO, a socket or a directory is refused before
 * anything is opened (opening a FIFO for reading would block the start).
 */
import * as fs from 'node:fs';
import { lockFile, unlink, unlockFile } from '../native/shim';
import { ServerError } from '../errors';
import { HDR_MAGIC, REGION_MAGIC } from '../layout/region-header';

/** A file's identity: what must still be at a path for us to unlink it. */
export interface FileId {
  dev: bigint;
  ino: bigint;
}

export function idOfPath(file: string): FileId | null {
  try {
    const st = fs.statSync(file, { bigint: true });
    return { dev: st.dev, ino: st.ino };
  } catch {
    return null;
  }
}

function sameFile(a: FileId | null, b: FileId | null): boolean {
  return a !== null && b !== null && a.dev === b.dev && a.ino === b.ino;
}

/** Unlink `file` only while it still names the inode `id`. */
export function unlinkIfOurs(file: string, id: FileId | null): void {
  if (!sameFile(idOfPath(file), id)) return;
  try {
    unlink(file);
  } catch {
    // already gone: nothing to clean
  }
}

/** Throw ServerError when `file` exists and is not a regular file (a device, FIFO, socket, directory). */
export function refuseNonRegular(file: string, what: string): void {
  let st: fs.Stats;
  try {
    st = fs.lstatSync(file);
  } catch {
    return;
  }
  if (st.isFile()) return;
  const kind = st.isDirectory() ? 'a directory' : st.isFIFO() ? 'a FIFO' : st.isSocket() ? 'a socket' : st.isSymbolicLink() ? 'a symbolic link' : 'a device';
  throw new ServerError(`refusing to use ${file} as ${what}: it is ${kind}, not a regular file`);
}

/**
 * flock `lockPath` (EAGAIN when another server holds it) and return the
 * descriptor once the path is seen to name the locked inode after the lock
 * was taken; otherwise the file was replaced meanwhile: retry on the new one.
 */
export function lockServer(regionPath: string): { fd: number; id: FileId } {
  const lockPath = `${regionPath}.lock`;
  refuseNonRegular(lockPath, 'the lock file');
  for (let attempt = 0; ; attempt++) {
    let fd: number;
    try {
      fd = lockFile(lockPath);
    } catch (e) {
      const err = e as NodeJS.ErrnoException;
      if (err.code === 'EAGAIN' || err.code === 'EWOULDBLOCK') throw new ServerError(`another server is already serving ${regionPath} (it holds ${lockPath})`);
      throw new ServerError(`cannot lock ${lockPath}: ${err.code ?? err.message}`);
    }
    const st = fs.fstatSync(fd, { bigint: true });
    const id = { dev: st.dev, ino: st.ino };
    if (sameFile(idOfPath(lockPath), id)) return { fd, id };
    unlockFile(fd);
    if (attempt >= 100) throw new ServerError(`cannot lock ${lockPath}: it keeps being replaced`);
  }
}

export function unlockServer(fd: number): void {
  unlockFile(fd);
}

/**
 * Refuse to replace a file that is not a region: the path may be a user's
 * file. A region file (right magic, any version) is a stale one whose
 * server is gone (we hold the lock), so it may be replaced.
 */
export function refuseForeignFile(file: string): void {
  refuseNonRegular(file, 'the region file');
  let fd: number;
  try {
    fd = fs.openSync(file, fs.constants.O_RDONLY | fs.constants.O_NONBLOCK);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return;
    throw e;
  }
  try {
    const buf = Buffer.alloc(4);
    const n = fs.readSync(fd, buf, 0, 4, HDR_MAGIC);
    if (n === 0) return; // an empty file holds nothing to lose
    if (n < 4 || buf.readUInt32LE(0) !== REGION_MAGIC) throw new ServerError(`refusing to overwrite ${file}: it exists and is not a key-value region file`);
  } finally {
    fs.closeSync(fd);
  }
}
