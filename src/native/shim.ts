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
  mapFile(path: string, size: number, create: boolean): SharedArrayBuffer;
  futexWait(arr: Int32Array, index: number, expected: number, timeoutMs: number): FutexResult;
  futexWake(arr: Int32Array, index: number, count: number): number;
  yield(): void;
  unlink(path: string): void;
  lockFile(path: string): number;
  unlockFile(fd: number): void;
  onBusError(exitCode: number, prefix: string): void;
}

function load(): NativeShim {
  // dist/src/native/shim.js -> <package root>/build/Release/shm.node
  const addon = path.resolve(__dirname, '..', '..', '..', 'build', 'Release', 'shm.node');
  try {
    // eslint-disable-next-line @typescript-eslint/no-var-requires
    return require(addon) as NativeShim;
  } catch (e) {
    const err = new Error(`native addon not built (${addon}): run 'make' first`);
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

/**
 * Map `path` (MAP_SHARED) as a SharedArrayBuffer of `size` bytes. With
 * `create`, the file is created (mode 0600) and extended to `size` if needed;
 * without, a missing file is ENOENT and a smaller one EINVAL. The mapping is
 * released when the last reference to the buffer, in any thread, is collected.
 */
export const mapFile: (path: string, size: number, create: boolean) => SharedArrayBuffer = native.mapFile;

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
