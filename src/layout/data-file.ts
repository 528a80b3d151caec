/**
 * The data file: the mapping that holds the table (layout in layout.ts,
 * "Data file"). The server creates it next to nothing else: its path is
 * recorded in the region header, so clients find it from the region.
 *
 * WHERE. Under /dev/shm by default (tmpfs): the kernel never writes a
 * tmpfs page back to a disk, whereas a MAP_SHARED mapping of a file on disk
 * is flushed there over and over. The table is sized at the memory cap
 * (sparse: pages are committed when touched). $SHMKV_DATA_DIR or the
 * server's dataDir option choose another directory.
 *
 * NAMES are shmkv-<server pid>-<random>.data: a new server on the same
 * region path removes the data file of a dead predecessor, and only a file
 * of that form, so a user's file is never deleted.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { randomBytes } from 'node:crypto';
import { mapFile, unlink } from '../native/shim';
import { processAlive } from '../sync/lock';
import { D_BYTES, D_MAGIC, D_VERSION, DATA_MAGIC, REGION_VERSION } from './layout';
import { RegionError } from '../errors';

const NAME = /^shmkv-(\d+)-[0-9a-f]+\.data$/;

/** $SHMKV_DATA_DIR, else /dev/shm when it is a directory, else the OS temp dir. */
export function defaultDataDir(): string {
  if (process.env.SHMKV_DATA_DIR) return process.env.SHMKV_DATA_DIR;
  try {
    if (fs.statSync('/dev/shm').isDirectory()) return '/dev/shm';
  } catch {
    // no tmpfs at the usual place
  }
  return os.tmpdir();
}

/** A fresh data file of `bytes` bytes in `dir`, mapped; the caller formats it. */
export function createDataFile(dir: string, bytes: number): { path: string; sab: SharedArrayBuffer } {
  const file = path.resolve(dir, `shmkv-${process.pid}-${randomBytes(6).toString('hex')}.data`);
  if (fs.existsSync(file)) throw new RegionError(`data file ${file} exists already`);
  return { path: file, sab: mapFile(file, bytes, true) };
}

/** Map a server's data file and check that it is one. */
export function openDataFile(file: string, bytes: number): SharedArrayBuffer {
  let sab: SharedArrayBuffer;
  try {
    if (fs.statSync(file).size !== bytes) throw new RegionError(`data file ${file} is not ${bytes} bytes long`);
    sab = mapFile(file, bytes, false);
  } catch (e) {
    if (e instanceof RegionError) throw e;
    const err = e as NodeJS.ErrnoException;
    throw new RegionError(`cannot map the server's data file ${file}: ${err.code ?? err.message}`);
  }
  const u32 = new Uint32Array(sab);
  if (Atomics.load(u32, D_MAGIC >>> 2) !== DATA_MAGIC || u32[D_VERSION >>> 2] !== REGION_VERSION || u32[D_BYTES >>> 2] !== bytes)
    throw new RegionError(`${file} is not this server's data file (bad magic, version or size)`);
  return sab;
}

/**
 * Remove the data file of a dead server, named in its stale region. Only a
 * file named like ours whose server pid is gone is removed.
 */
export function removeStaleDataFile(file: string): void {
  const m = NAME.exec(path.basename(file));
  if (!m || processAlive(Number(m[1]))) return;
  try {
    unlink(file);
  } catch {
    // gone already, or not ours to remove
  }
}

/**
 * Remove every data file in `dir` left by a server that died (named
 * shmkv-<pid>-*.data with that pid gone): a SIGKILLed server cannot clean
 * up, and its file is memory (tmpfs) until a reboot. Files of live servers,
 * of other users (the sticky /dev/shm refuses the unlink) and of any other
 * name are left alone.
 */
export function removeStaleDataFiles(dir: string): void {
  let names: string[];
  try {
    names = fs.readdirSync(dir);
  } catch {
    return;
  }
  for (const name of names) if (NAME.test(name)) removeStaleDataFile(path.join(dir, name));
}

/** Remove our own data file on stop. */
export function removeDataFile(file: string): void {
  try {
    unlink(file);
  } catch {
    // already gone
  }
}
