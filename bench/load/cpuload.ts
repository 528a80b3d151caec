/**
 * How much CPU did OTHER processes use while we measured? The machine may be
 * shared; each run records the average number of cores busy outside the
 * bench's own processes (this process with its worker threads, the servers,
 * redis-server), from /proc/stat and /proc/PID/stat. Linux only; elsewhere
 * (or on any read error) it reports null.
 */
import * as fs from 'node:fs';

const HZ = 100; // USER_HZ: /proc tick unit on Linux, whatever the kernel's HZ

export interface CpuSnapshot {
  /** Busy ticks of all CPUs (everything but idle and iowait). */
  busy: number;
  /** Ticks (user + system) of our processes. */
  ours: number;
  atMs: number;
}

function procTicks(pid: number): number {
  const s = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
  // Fields after the command name "(...)": state is field 3; utime 14, stime 15.
  const f = s.slice(s.lastIndexOf(')') + 2).split(' ');
  return Number(f[11]) + Number(f[12]);
}

export function snapshot(pids: number[]): CpuSnapshot | null {
  try {
    const line = fs.readFileSync('/proc/stat', 'utf8').split('\n')[0];
    const v = line.trim().split(/\s+/).slice(1).map(Number);
    const total = v.slice(0, 8).reduce((a, b) => a + b, 0); // user..steal
    const busy = total - v[3] - v[4];
    let ours = 0;
    for (const pid of pids) {
      try {
        ours += procTicks(pid);
      } catch {
        // a process that is gone contributes nothing more
      }
    }
    return { busy, ours, atMs: performance.now() };
  } catch {
    return null;
  }
}

/** Average cores used by other processes between two snapshots, or null. */
export function foreignCores(a: CpuSnapshot | null, b: CpuSnapshot | null): number | null {
  if (!a || !b) return null;
  const sec = (b.atMs - a.atMs) / 1000;
  if (sec <= 0) return null;
  const foreign = b.busy - a.busy - (b.ours - a.ours);
  return Math.max(0, foreign / HZ / sec);
}
