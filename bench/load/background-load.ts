/**
 * The "loaded" setting: N busy-looping processes (bench/busy-loop.ts) beside
 * the measured system, N = the number of cores by default, so that every
 * thread of the bench and its servers competes for the CPU as it would on a
 * machine where a Node cluster keeps every core busy (issue 12).
 *
 * Started for one measurement and killed right after it, so quiet runs
 * interleaved with loaded ones stay quiet. Killing is guaranteed three ways:
 * stop() in a finally around each measurement, killAllLoad() from the
 * bench's signal handlers and a process 'exit' hook, and busy-loop.ts exiting
 * by itself when its parent is gone (SIGKILL of the bench).
 */
import * as path from 'node:path';
import { spawn, ChildProcess } from 'node:child_process';

const live = new Set<ChildProcess>();
let hooked = false;

/** Kill every load process still running (synchronous: safe in 'exit' hooks and signal handlers). */
export function killAllLoad(): void {
  for (const c of live) {
    try {
      c.kill('SIGKILL');
    } catch {
      // already gone
    }
  }
  live.clear();
}

export interface BackgroundLoad {
  /** Their CPU time is ours, not "others'" (cpuload.ts), so foreignCores still measures the rest of the machine. */
  pids: number[];
  stop(): Promise<void>;
}

/** Start `n` busy loops and resolve once every one of them is spinning. */
export async function startLoad(n: number): Promise<BackgroundLoad> {
  if (!hooked) {
    process.once('exit', killAllLoad);
    hooked = true;
  }
  const procs: ChildProcess[] = [];
  const gone = new Map<ChildProcess, Promise<void>>();
  const stop = async (): Promise<void> => {
    for (const c of procs) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
    await Promise.all(procs.map((c) => gone.get(c)));
    for (const c of procs) live.delete(c);
  };
  try {
    const started: Array<Promise<void>> = [];
    for (let i = 0; i < n; i++) {
      const c = spawn(process.execPath, [path.join(__dirname, 'busy-loop.js')], { stdio: ['ignore', 'pipe', 'inherit'] });
      procs.push(c);
      live.add(c);
      // 'error' too: a process that failed to spawn may never emit 'exit', and stop() must not hang on it.
      gone.set(
        c,
        new Promise<void>((r) => {
          c.once('exit', () => r());
          c.once('error', () => r());
        }),
      );
      started.push(
        new Promise<void>((resolve, reject) => {
          const timer = setTimeout(() => reject(new Error('a background load process did not start within 10 s')), 10000);
          c.once('error', (e) => (clearTimeout(timer), reject(e)));
          c.once('exit', (code, sig) => (clearTimeout(timer), reject(new Error(`a background load process exited at start (${sig ?? code})`))));
          c.stdout!.once('data', () => {
            clearTimeout(timer);
            // It writes nothing more; closing our end keeps no handle open.
            c.stdout!.destroy();
            resolve();
          });
        }),
      );
    }
    await Promise.all(started);
  } catch (e) {
    await stop();
    throw e;
  }
  return { pids: procs.map((c) => c.pid ?? 0).filter((x) => x > 0), stop };
}
