/**
 * Typed access to the native addon (native/shm.cc), the only native code in
 * the project. It holds no logic: every protocol decision lives above it.
 */
import * as path from 'node:path';

/** Result of futexWait. */
export const enum FutexResult {
  Woken = 0,
  NotEqual = 1,
  TimedOut = 2,
}

interface NativeShim {
  mapFile(path: string, offset: number, size: number, flags: number): SharedArrayBuffer;
  futexWait(arr: Int32Array, index: number, expected: number, timeoutMs: number): FutexResult;
  futexWake(arr: Int32Array, index: number, count: number): number;
  yield(): void;
  unlink(path: string): void;
  lockFile(path: string): number;
  unlockFile(fd: number): void;
  onBusError(exitCode: number, prefix: string): void;
}

/** The two entry points of node-gyp-build we use (it ships no type declarations). */
interface NodeGypBuild {
  /** Path of the addon to load for this Node: build/Release first, then a matching prebuilds/<platform>-<arch>/ file. */
  resolve(dir: string): string;
}

/**
 * Find and load the addon through node-gyp-build, the loader the prebuildify
 * convention pairs with. Its order is what both users need: in the
 * repository, `make` builds build/Release/shm.node and that wins, so tests
 * always run the freshly built code; in an installed package build/ is
 * absent (not in "files") unless the install script had to compile, so the
 * committed prebuilds/linux-x64/node.abi<N>.node for this Node ABI is used.
 * The addon uses V8's own API, not N-API: a prebuilt binary only matches the
 * one ABI it was built for, and node-gyp-build skips it for any other.
 */
function load(): NativeShim {
  // dist/src/native/shim.js -> the package root (repository or node_modules/shmkv)
  const root = path.resolve(__dirname, '..', '..', '..');
  // eslint-disable-next-line @typescript-eslint/no-var-requires
  const nodeGypBuild = require('node-gyp-build') as NodeGypBuild;
  let addon: string;
  try {
    addon = nodeGypBuild.resolve(root);
  } catch (e) {
    // node-gyp-build's own message spans lines; callers (the CLIs) print one.
    const err = new Error(
      `native addon not found in ${root}: no build/Release/shm.node and no prebuilt binary for ` +
        `${process.platform}-${process.arch} Node ABI ${process.versions.modules} (Node ${process.version}); ` +
        `run 'make' in the repository, or 'npm rebuild shmkv' where the package is installed (needs g++, make, python3)`,
    );
    (err as { cause?: unknown }).cause = e;
    throw err;
  }
  try {
    // eslint-disable-next-line @typescript-eslint/no-var-requires
    return require(addon) as NativeShim;
  } catch (e) {
    const err = new Error(`native addon ${addon} failed to load: ${String((e as Error).message ?? e).split('\n')[0]}`);
    (err as { cause?: unknown }).cause = e;
    throw err;
  }
}

const native = load();

/**
 * Exit code of a process whose mapped region file was truncated under it
 * (the addon's SIGBUS handler prints one line naming the file first).
 */
export const BUS_ERROR_EXIT_CODE = 1;

// Installed once per process (the first thread to load the addon): a SIGBUS
// in one of our mappings would otherwise kill the process without a word.
// The line starts like the CLIs' own errors: "server: ...", "client: ...".
native.onBusError(BUS_ERROR_EXIT_CODE, path.basename(process.argv[1] ?? 'node').replace(/\.js$/, ''));

/** mapFile flags. */
export const MAP_CREATE = 1;
export const MAP_READONLY = 2;

/**
 * Map `size` bytes of `path` from byte `offset` (a page multiple), MAP_SHARED,
 * as a SharedArrayBuffer. MAP_CREATE creates the file (mode 0600) and extends
 * it to offset + size if needed; without it a missing file is ENOENT and a
 * smaller one EINVAL. MAP_READONLY maps it read-only: a write through the
 * buffer ends the process with one line naming the file (a bug, never a
 * user's mistake). Only a regular file is mapped (anything else: EINVAL).
 * The mapping is released when the last reference to the buffer, in any
 * thread, is collected.
 */
export const mapFile: (path: string, offset: number, size: number, flags: number) => SharedArrayBuffer = native.mapFile;

/**
 * Sleep while `arr[index] === expected`, at most `timeoutMs` (negative or
 * Infinity: no limit). Process-shared: wakes from any process mapping the word.
 * A spurious Woken is possible; callers always re-check their condition.
 */
export const futexWait: (arr: Int32Array, index: number, expected: number, timeoutMs: number) => FutexResult =
  native.futexWait;

/** Wake up to `count` (at least 1) threads sleeping on `arr[index]`, in any process. */
export const futexWake: (arr: Int32Array, index: number, count: number) => number = native.futexWake;

/** sched_yield(): let another runnable thread have this core. */
export const yieldCpu: () => void = native.yield;

export const unlink: (path: string) => void = native.unlink;

/**
 * Take an exclusive advisory lock (flock) on `path`, creating it (0600) if
 * needed; returns the descriptor that holds it. Throws EAGAIN when another
 * process holds it. The kernel drops the lock when the holder dies.
 */
export const lockFile: (path: string) => number = native.lockFile;

/** Release a lock taken by lockFile. */
export const unlockFile: (fd: number) => void = native.unlockFile;
