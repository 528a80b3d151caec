/**
 * Typed access to the native addon (native/shm.cc), the only native code in
 * the project. It holds no logic: every protocol decision lives above it.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { AddonError } from '../errors';

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

/** The entry point of node-gyp-build we use (it ships no type declarations). */
interface NodeGypBuild {
  /** Path of the addon to load for this Node: build/Release first, then a matching prebuilds/<platform>-<arch>/ file. */
  resolve(dir: string): string;
}

/** Node majors of the ABIs the package ships prebuilt (tools/node-versions.txt), for messages. */
const NODE_OF_ABI: Record<string, string> = { 115: '20', 127: '22', 137: '24', 147: '26' };

/** "Node v24.1.0 (ABI 137) on linux-arm64 musl": what a prebuilt binary must match. */
function here(): string {
  // node-gyp-build's own guess of the C library (it honours LIBC too).
  const libc = process.platform !== 'linux' ? '' : ` ${process.env.LIBC || (fs.existsSync('/etc/alpine-release') ? 'musl' : 'glibc')}`;
  return `Node ${process.version} (ABI ${process.versions.modules}) on ${process.platform}-${process.arch}${libc}`;
}

/** What prebuilds/ holds: "linux-x64 glibc with Node 20, 22, 24, 26". */
function shipped(root: string): string {
  const out: string[] = [];
  const list = (dir: string): string[] => (fs.existsSync(dir) ? fs.readdirSync(dir).sort() : []);
  for (const tuple of list(path.join(root, 'prebuilds'))) {
    const found = list(path.join(root, 'prebuilds', tuple))
      .map((f) => /\.abi(\d+)\.(glibc|musl)\.node$/.exec(f))
      .filter((m): m is RegExpExecArray => m !== null);
    if (found.length > 0) out.push(`${tuple} ${found[0]![2]} with Node ${found.map((m) => NODE_OF_ABI[m[1]!] ?? `ABI ${m[1]}`).join(', ')}`);
  }
  return out.length > 0 ? out.join('; ') : 'none';
}

/**
 * Find and load the addon through node-gyp-build, the loader the prebuildify
 * convention pairs with. Its order is what both users need: in the
 * repository, `make` builds build/Release/shm.node and that wins, so tests
 * always run the freshly built code; in an installed package build/ is
 * absent (not in "files") unless the install script had to compile, so the
 * committed prebuilds/linux-x64/shmkv.abi<N>.glibc.node for this Node ABI is
 * used (also in the repository with PREBUILDS_ONLY=1: make test-node).
 * The addon uses V8's own API, not Node-API: a prebuilt binary only matches
 * the one ABI it was built for, and node-gyp-build skips it for any other.
 * Failing, it throws an AddonError of one line (no frames, no cause): the
 * Node version, the platform, what ships, and what to do.
 */
function load(): NativeShim {
  // dist/src/native/shim.js -> the package root (repository or node_modules/shmkv)
  const root = path.resolve(__dirname, '..', '..', '..');
  const repository = fs.existsSync(path.join(root, 'src', 'native', 'shim.ts'));
  const fix = repository
    ? "run 'make' (it builds build/Release/shm.node), or 'make prebuild' for the prebuilt ones"
    : "run 'npm rebuild shmkv' to compile one (needs g++, make and python3)";
  // eslint-disable-next-line @typescript-eslint/no-var-requires
  const nodeGypBuild = require('node-gyp-build') as NodeGypBuild;
  let message: string;
  let addon = '';
  try {
    addon = nodeGypBuild.resolve(root);
    // eslint-disable-next-line @typescript-eslint/no-var-requires
    return require(addon) as NativeShim;
  } catch (e) {
    message =
      addon === ''
        ? `no native addon for ${here()} in ${root} (prebuilt: ${shipped(root)}): ${fix}`
        : `the native addon ${addon} does not load on ${here()} (${String((e as Error).message ?? e).split('\n')[0]}): ${fix}`;
  }
  // Uncaught, Node prints this source line above the message: keep it plain.
  throw new AddonError(message);
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
