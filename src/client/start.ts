/**
 * connect({ path, start: true, server }): when no live server serves the
 * region path, start one, detached, with the options given; and start it
 * again when a client finds it dead later.
 *
 * ONE SPAWNER. Starting happens under flock on `<path>.start` (the addon's
 * lockFile, which never blocks: callers poll). Holding it, a caller spawns
 * a server only when
 *   (1) no live server is at the path: its region names a live pid in state
 *       INIT or READY (a paused server is live: it comes back), and
 *   (2) nothing holds `<path>.lock`, the flock every server holds while it
 *       lives (the kernel drops a dead one's): the caller takes that flock
 *       itself for a moment to find out, and drops it before spawning.
 * It keeps the start lock until its server is READY, has exited, or
 * START_MS passed; meanwhile every other caller finds the start lock held
 * and waits for the region instead. So N processes finding no server at once
 * start exactly one; and a server that is alive but paused or slow to start
 * is never doubled (it holds `<path>.lock`).
 *
 * THE SERVER is `node dist/src/cli/server.js -p PATH` with the options as
 * its flags, in its own session and process group (a Ctrl-C in the
 * application's terminal does not reach it, and it outlives the process
 * that started it), stdin closed, stdout and stderr appended to `<path>.log`
 * (`server.log` chooses another file). It stops like any server: SIGTERM or
 * SIGINT. A spawned server that exits before READY fails the connect() that
 * waited for it with a ServerError carrying its last line; a restart from
 * a client that found the server dead backs off (1 s, doubling up to 30 s)
 * after such a failure, so a server that cannot start is not respawned in
 * a tight loop.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { spawn, ChildProcess } from 'node:child_process';
import { lockFile, unlockFile } from '../native/shim';
import { Region } from '../layout/region';
import { ServerState } from '../layout/region-header';
import { processAlive } from '../sync/lock';
import { RegionError, ServerError } from '../errors';
import type { ServerOptions } from '../server/server-options';

/**
 * How start: true passes each server option on the spawned server's command
 * line (./server's flags: cli/server-spec.ts reads them back). The options
 * it takes are these and `log`; their meaning is ServerOptions'.
 */
export const START_FLAGS = {
  threads: ['-n', 'int'],
  initialBuckets: ['-s', 'int'],
  windows: ['-c', 'int'],
  ringCapacity: ['-r', 'int'],
  maxTableBytes: ['-m', 'MiB'],
  maxKeyBytes: ['--max-key-bytes', 'int'],
  maxValueBytes: ['--max-value-bytes', 'int'],
  defaultTtlMs: ['--ttl', 'int'],
  dataDir: ['--data-dir', 'string'],
  eviction: ['--eviction', 'string'],
  coarse: ['--coarse', 'bool'],
} as const satisfies { readonly [K in keyof ServerOptions]?: readonly [string, 'int' | 'MiB' | 'string' | 'bool'] };

/** Options of a server that start: true spawns: ServerOptions' (those START_FLAGS names), and where its output goes. */
export type StartOptions = Partial<Pick<ServerOptions, keyof typeof START_FLAGS>> & {
  /** Where the server's stdout and stderr go (appended; default `<path>.log`). */
  log?: string;
};

/** How long a spawned server may take to become READY. */
export const START_MS = 15_000;
/** Pause between two looks for a server to start, per caller. */
const RETRY_MS = 100;
const BACKOFF_MIN_MS = 1000;
const BACKOFF_MAX_MS = 30_000;
const MiB = 1024 * 1024;

const SERVER_JS = path.resolve(__dirname, '..', 'cli', 'server.js');

/** The server's command-line flags for `o` (TypeError/RangeError for a bad option). */
export function serverArgs(o: StartOptions): string[] {
  if (o === null || typeof o !== 'object') throw new TypeError('server options must be an object');
  for (const k of Object.keys(o)) if (!Object.hasOwn(START_FLAGS, k) && k !== 'log') throw new TypeError(`unknown server option ${JSON.stringify(k)}`);
  const args: string[] = [];
  for (const [key, [flag, kind]] of Object.entries(START_FLAGS)) {
    const v = o[key as keyof typeof START_FLAGS];
    if (v === undefined) continue;
    if (kind === 'int' && !(Number.isSafeInteger(v) && (v as number) >= 0)) throw new RangeError(`server.${key} must be a non-negative integer, got ${String(v)}`);
    if (kind === 'MiB' && !(Number.isSafeInteger(v) && (v as number) > 0 && (v as number) % MiB === 0)) throw new RangeError(`server.${key} must be a positive whole number of MiB, got ${String(v)}`);
    if (kind === 'string' && (typeof v !== 'string' || v === '')) throw new TypeError(`server.${key} must be a non-empty string, got ${String(v)}`);
    if (kind === 'bool' && typeof v !== 'boolean') throw new TypeError(`server.${key} must be a boolean, got ${String(v)}`);
    if (kind === 'bool') {
      if (v) args.push(flag);
    } else args.push(flag, String(kind === 'MiB' ? (v as number) / MiB : v));
  }
  if (o.log !== undefined && (typeof o.log !== 'string' || o.log === '')) throw new TypeError(`server.log must be a file path, got ${String(o.log)}`);
  return args;
}

/** Whether a server that is alive (maybe paused, maybe starting) has its region at `file`. */
function liveServerAt(file: string): boolean {
  try {
    const r = Region.open(file);
    const state = r.serverState();
    return (state === ServerState.Init || state === ServerState.Ready) && processAlive(r.serverPid());
  } catch (e) {
    if (e instanceof RegionError) return false;
    throw e;
  }
}

/**
 * Whether the server with pid `pid` got past its start at `file`: its
 * region names it and left INIT (READY, or stopping, or stopped; a server
 * killed while serving leaves READY behind). A server that fails before
 * READY removes its region (or never made one).
 */
function startedAt(file: string, pid: number): boolean {
  try {
    const r = Region.open(file);
    return r.serverPid() === pid && r.serverState() !== ServerState.Init;
  } catch (e) {
    if (e instanceof RegionError) return false;
    throw e;
  }
}

/** Whether a server at `file` is READY (it may be paused: then it is not "serving", but it is there). */
export function readyServerAt(file: string): boolean {
  try {
    const r = Region.open(file);
    return r.serverState() === ServerState.Ready && r.serverProblem() === null;
  } catch (e) {
    if (e instanceof RegionError) return false;
    throw e;
  }
}

/** flock `file` without waiting: the descriptor, or null when someone holds it. */
function tryLock(file: string): number | null {
  try {
    return lockFile(file);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'EAGAIN' || code === 'EWOULDBLOCK') return null;
    throw new ServerError(`cannot lock ${file}: ${code ?? (e as Error).message}`);
  }
}

/** The last non-empty line of a log file (what a failed server said). */
function lastLine(file: string): string {
  try {
    const text = fs.readFileSync(file, 'utf8');
    const lines = text.split('\n').filter((l) => l.trim() !== '');
    return lines.length ? lines[lines.length - 1] : '(no output)';
  } catch {
    return '(no log)';
  }
}

export class Starter {
  private readonly args: string[];
  private readonly log: string;
  /** Our spawned server while we hold the start lock for it. */
  private holding: { fd: number; child: ChildProcess; until: number } | null = null;
  private nextTry = 0;
  private backoff = 0;
  /** What the last server we spawned said when it failed, if it did. */
  lastFailure: string | null = null;
  private failures = 0;
  /** Servers this process spawned (tests, diagnostics). */
  spawned = 0;

  constructor(
    readonly file: string,
    options: StartOptions = {},
  ) {
    this.args = ['-p', file, ...serverArgs(options)];
    this.log = options.log ?? `${file}.log`;
  }

  /**
   * One non-blocking step: spawn a server if none is live and nobody else
   * is starting one (ONE SPAWNER above); let go of the start lock once our
   * server is READY or gone. Call it again and again while waiting.
   */
  poke(now = Date.now()): void {
    const h = this.holding;
    if (h !== null) {
      const dead = !processAlive(h.child.pid ?? -1);
      if (!dead && !readyServerAt(this.file) && now < h.until) return;
      unlockFile(h.fd);
      this.holding = null;
      // Not a failure: exited while another server is there (one started
      // by hand won the race for <path>.lock: that one serves), or died
      // after it had started (killed while serving before this process
      // looked again: a crash to recover from at once, not a start to back
      // off from).
      if (dead && !liveServerAt(this.file) && !startedAt(this.file, h.child.pid ?? -1)) this.failed(now, `the server started on ${this.file} exited: ${lastLine(this.log)}`);
      else this.backoff = 0;
      return;
    }
    if (now < this.nextTry) return;
    this.nextTry = now + RETRY_MS;
    if (liveServerAt(this.file)) return;
    const fd = tryLock(`${this.file}.start`);
    if (fd === null) return;
    let keep = false;
    try {
      if (liveServerAt(this.file)) return;
      const serverLock = tryLock(`${this.file}.lock`);
      if (serverLock === null) return; // a server process holds it: starting, stopping, or paused
      unlockFile(serverLock);
      this.holding = { fd, child: this.spawn(), until: now + START_MS };
      keep = true;
    } finally {
      if (!keep) unlockFile(fd);
    }
  }

  /** Block until a server is READY at the path; ServerError when the one we started failed. */
  ensure(ms: number): void {
    const deadline = Date.now() + ms;
    const failures = this.failures;
    for (;;) {
      const now = Date.now();
      this.poke(now);
      if (readyServerAt(this.file)) {
        this.poke(now); // lets go of the start lock if it was ours
        return;
      }
      if (this.failures !== failures) throw new ServerError(this.lastFailure!);
      if (now > deadline) throw new ServerError(`no server became ready at ${this.file} within ${ms} ms (its log: ${this.log})`);
      sleepMs(20);
    }
  }

  private spawn(): ChildProcess {
    const out = fs.openSync(this.log, 'a', 0o600);
    try {
      const child = spawn(process.execPath, [SERVER_JS, ...this.args], { detached: true, stdio: ['ignore', out, out] });
      child.on('error', () => undefined); // a failed spawn shows as a dead pid in poke()
      child.unref();
      this.spawned++;
      return child;
    } finally {
      fs.closeSync(out);
    }
  }

  private failed(now: number, why: string): void {
    this.lastFailure = why;
    this.failures++;
    this.backoff = this.backoff === 0 ? BACKOFF_MIN_MS : Math.min(this.backoff * 2, BACKOFF_MAX_MS);
    this.nextTry = now + this.backoff;
  }
}

const sleeper = new Int32Array(new SharedArrayBuffer(4));
function sleepMs(ms: number): void {
  Atomics.wait(sleeper, 0, 0, ms);
}
