/**
 * Helpers for end-to-end tests that run the real CLIs (./server, ./client,
 * ./genworkload) as separate processes: run with a timeout, start a server and
 * wait until it is ready, stop it with a signal, per-test temp dirs, and a
 * scope that kills everything a test started, even when the test fails.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { spawn, ChildProcess } from 'node:child_process';

/** The repository root (this file compiles to dist/test/support/procs.js). */
export const ROOT = path.resolve(__dirname, '..', '..', '..');

export const BIN = {
  client: path.join(ROOT, 'client'),
  server: path.join(ROOT, 'server'),
  genworkload: path.join(ROOT, 'genworkload'),
} as const;

export interface RunResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
  timedOut: boolean;
}

export interface RunOptions {
  cwd: string;
  /** Extra environment (merged over a copy of process.env without SHMKV_PATH). */
  env?: Record<string, string | undefined>;
  /** Kill with SIGKILL after this many ms (default 10 min: a bound on hangs only; a loaded machine can run a 30k-request client for over a minute). */
  timeoutMs?: number;
  /** startServer only: the launcher to run instead of ./server (e.g. an installed package's shmkv-server). */
  bin?: string;
}

/** Every child spawned through this module and not yet exited. */
const live = new Set<ChildProcess>();

function childEnv(extra?: Record<string, string | undefined>): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...process.env };
  // A region path inherited from the caller must not leak into the tests.
  delete env.SHMKV_PATH;
  // The launchers are `#!/usr/bin/env node`: make sure it finds this node.
  env.PATH = `${path.dirname(process.execPath)}${path.delimiter}${env.PATH ?? ''}`;
  for (const [k, v] of Object.entries(extra ?? {})) {
    if (v === undefined) delete env[k];
    else env[k] = v;
  }
  return env;
}

function track(child: ChildProcess): ChildProcess {
  live.add(child);
  child.once('exit', () => live.delete(child));
  return child;
}

export function alive(child: ChildProcess): boolean {
  return child.exitCode === null && child.signalCode === null;
}

/** Spawn `cmd args`, collect stdout/stderr and the exit status. */
export function spawnCollect(cmd: string, args: string[], opts: RunOptions): { child: ChildProcess; done: Promise<RunResult> } {
  const child = track(spawn(cmd, args, { cwd: opts.cwd, env: childEnv(opts.env), stdio: ['ignore', 'pipe', 'pipe'] }));
  let stdout = '';
  let stderr = '';
  child.stdout!.setEncoding('utf8').on('data', (d: string) => (stdout += d));
  child.stderr!.setEncoding('utf8').on('data', (d: string) => (stderr += d));
  let timedOut = false;
  const timer = setTimeout(() => {
    timedOut = true;
    child.kill('SIGKILL');
  }, opts.timeoutMs ?? 600_000);
  const done = new Promise<RunResult>((resolve, reject) => {
    child.once('error', (e) => {
      clearTimeout(timer);
      reject(e);
    });
    // 'close' (not 'exit'): all output has been read.
    child.once('close', (code, signal) => {
      clearTimeout(timer);
      resolve({ code, signal, stdout, stderr, timedOut });
    });
  });
  return { child, done };
}

/** Run a command to completion (bounded by opts.timeoutMs). */
export function run(cmd: string, args: string[], opts: RunOptions): Promise<RunResult> {
  return spawnCollect(cmd, args, opts).done;
}

/** A server started by startServer. */
export class ServerProc {
  stderr = '';
  stdout = '';
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;

  constructor(readonly child: ChildProcess) {
    child.stdout!.setEncoding('utf8').on('data', (d: string) => (this.stdout += d));
    child.stderr!.setEncoding('utf8').on('data', (d: string) => (this.stderr += d));
    this.exited = new Promise((resolve) => child.once('close', (code, signal) => resolve({ code, signal })));
  }

  get pid(): number {
    return this.child.pid!;
  }

  /** Send `signal` and wait for the exit (SIGKILL after timeoutMs). */
  async stop(signal: NodeJS.Signals = 'SIGTERM', timeoutMs = 30_000): Promise<{ code: number | null; signal: NodeJS.Signals | null; timedOut: boolean }> {
    if (alive(this.child)) this.child.kill(signal);
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      this.child.kill('SIGKILL');
    }, timeoutMs);
    const r = await this.exited;
    clearTimeout(timer);
    return { ...r, timedOut };
  }
}

/**
 * Start ./server with `args` (never -q) and resolve once it printed its
 * 'server: ready' line, i.e. its region is READY. Rejects (after killing it)
 * if it exits or is not ready within timeoutMs.
 */
export async function startServer(args: string[], opts: RunOptions): Promise<ServerProc> {
  const child = track(spawn(opts.bin ?? BIN.server, args, { cwd: opts.cwd, env: childEnv(opts.env), stdio: ['ignore', 'pipe', 'pipe'] }));
  const srv = new ServerProc(child);
  const timeoutMs = opts.timeoutMs ?? 60_000;
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`server not ready after ${timeoutMs} ms; stderr: ${srv.stderr}`));
    }, timeoutMs);
    const onData = (): void => {
      if (/^server: ready\b/m.test(srv.stderr)) {
        clearTimeout(timer);
        child.stderr!.off('data', onData);
        resolve();
      }
    };
    child.stderr!.on('data', onData);
    child.once('error', (e) => {
      clearTimeout(timer);
      reject(e);
    });
    void srv.exited.then(({ code, signal }) => {
      clearTimeout(timer);
      reject(new Error(`server exited (${code ?? signal}) before it was ready; stderr: ${srv.stderr}`));
    });
  });
  return srv;
}

/** Pids of live processes whose command line or working directory mentions `needle` (e.g. a test's temp dir). */
export function pidsMentioning(needle: string): number[] {
  const out: number[] = [];
  for (const name of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    const pid = Number(name);
    if (pid === process.pid) continue;
    let cmdline: string;
    try {
      cmdline = fs.readFileSync(`/proc/${name}/cmdline`, 'utf8');
      // A zombie has an empty cmdline; it holds nothing.
    } catch {
      continue;
    }
    let cwd = '';
    try {
      cwd = fs.readlinkSync(`/proc/${name}/cwd`);
    } catch {
      // not ours to read, or gone
    }
    if (cmdline === '') continue;
    if (cwd.includes(needle) || cmdline.split('\0').some((a) => a.includes(needle))) out.push(pid);
  }
  return out;
}

/**
 * True once process `pid` appears as a 32-bit word in the region file, i.e.
 * once a client owns windows on the server's board (the owner table holds
 * owner pids). The file is shared memory, so a plain read sees it live.
 */
export function pidInRegion(regionPath: string, pid: number): boolean {
  let buf: Buffer;
  try {
    buf = fs.readFileSync(regionPath);
  } catch {
    return false;
  }
  const aligned = buf.byteOffset % 4 === 0 ? buf : Buffer.from(buf);
  const words = new Int32Array(aligned.buffer, aligned.byteOffset, aligned.length >> 2);
  return words.includes(pid);
}

export function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

/**
 * The bound of every wait on a condition: generous, because a 2-core machine
 * shared with other builds can deschedule a process for hundreds of ms. It
 * only decides how long a broken run takes to fail, never whether a correct
 * one passes.
 */
export const WAIT_MS = 30_000;

/** Poll `cond` every 20 ms until it holds or timeoutMs passes; returns its last value. */
export async function waitFor(cond: () => boolean, timeoutMs = WAIT_MS): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (cond()) return true;
    if (Date.now() > deadline) return cond();
    await sleep(20);
  }
}

/**
 * Poll `cond` (which may be async) until it holds; throw, saying what was
 * awaited and for how long, if it still does not hold after timeoutMs.
 */
export async function waitUntil(what: string, cond: () => boolean | Promise<boolean>, timeoutMs = WAIT_MS, everyMs = 20): Promise<void> {
  const started = Date.now();
  for (;;) {
    if (await cond()) return;
    if (Date.now() - started > timeoutMs) {
      if (await cond()) return;
      throw new Error(`timed out after ${Date.now() - started} ms waiting for ${what}`);
    }
    await sleep(everyMs);
  }
}

/** The minimal test-context surface a Scope needs (node:test's TestContext). */
export interface HasAfter {
  after(fn: () => void | Promise<void>): void;
}

/**
 * One test's sandbox: a fresh temp dir (its own region paths live there) and
 * cleanup registered with t.after: every child still alive is SIGKILLed, and
 * so is any process whose command line names the temp dir (e.g. a server that
 * `client -f` forked), then the dir is removed (kept if SHMKV_KEEP_TMP is set).
 */
export class Scope {
  readonly dir: string;
  private readonly children: ChildProcess[] = [];

  constructor(t: HasAfter, prefix = 'shmkv-e2e-') {
    this.dir = fs.mkdtempSync(path.join(os.tmpdir(), prefix));
    t.after(() => this.cleanup());
  }

  /** An absolute path inside the temp dir. */
  p(name: string): string {
    return path.join(this.dir, name);
  }

  write(name: string, text: string | Buffer): string {
    const f = this.p(name);
    fs.writeFileSync(f, text);
    return f;
  }

  read(name: string): string {
    return fs.readFileSync(this.p(name), 'utf8');
  }

  exists(name: string): boolean {
    return fs.existsSync(this.p(name));
  }

  /**
   * Every process a test starts runs in its temp dir, and so does the
   * cache a server there makes (SHMKV_DATA_DIR, unless the test says
   * otherwise): a server keeps its cache at stop, and the temp dir goes.
   */
  private opts(o?: Partial<RunOptions>): RunOptions {
    return { cwd: this.dir, ...o, env: { SHMKV_DATA_DIR: this.dir, ...o?.env } };
  }

  run(cmd: string, args: string[], o?: Partial<RunOptions>): Promise<RunResult> {
    const { child, done } = spawnCollect(cmd, args, this.opts(o));
    this.children.push(child);
    return done;
  }

  /** Start a run without waiting for it. */
  spawn(cmd: string, args: string[], o?: Partial<RunOptions>): { child: ChildProcess; done: Promise<RunResult> } {
    const r = spawnCollect(cmd, args, this.opts(o));
    this.children.push(r.child);
    return r;
  }

  client(args: string[], o?: Partial<RunOptions>): Promise<RunResult> {
    return this.run(BIN.client, args, o);
  }

  server(args: string[], o?: Partial<RunOptions>): Promise<RunResult> {
    return this.run(BIN.server, args, o);
  }

  gen(args: string[], o?: Partial<RunOptions>): Promise<RunResult> {
    return this.run(BIN.genworkload, args, o);
  }

  async startServer(args: string[], o?: Partial<RunOptions>): Promise<ServerProc> {
    const before = new Set(live);
    try {
      const srv = await startServer(args, this.opts(o));
      this.children.push(srv.child);
      return srv;
    } finally {
      for (const c of live) if (!before.has(c)) this.children.push(c);
    }
  }

  async cleanup(): Promise<void> {
    const waits: Promise<unknown>[] = [];
    for (const c of this.children) {
      if (!alive(c)) continue;
      waits.push(new Promise((r) => c.once('exit', r)));
      c.kill('SIGKILL');
    }
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([Promise.all(waits), new Promise((r) => (timer = setTimeout(r, WAIT_MS)))]);
    clearTimeout(timer);
    for (const pid of pidsMentioning(this.dir)) {
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        // gone meanwhile
      }
    }
    if (!process.env.SHMKV_KEEP_TMP) fs.rmSync(this.dir, { recursive: true, force: true });
  }
}

/** stderr split into non-empty lines. */
export function lines(text: string): string[] {
  return text.split('\n').filter((l) => l.length > 0);
}

/** True if the text holds something that looks like a JS stack frame or an uncaught-exception dump. */
export function hasStackTrace(text: string): boolean {
  return /^\s+at /m.test(text) || /triggerUncaughtException|node:internal/.test(text);
}
