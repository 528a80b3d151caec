/**
 * The scale bench's data and probes: 16-byte keys and 100-byte values (the
 * issue's shape), a permutation that visits every key once in a scattered
 * order without holding an array, and what the kernel says a process or a
 * file holds.
 */
import * as fs from 'node:fs';

/** Key i: 16 bytes. */
export function key(i: number): string {
  return `k${String(i).padStart(15, '0')}`;
}

/** Value i: 100 bytes of ASCII. */
export function value(i: number): string {
  return `${i}:`.padEnd(100, String.fromCharCode(97 + (i % 26)));
}

/**
 * 0..n-1, each once, scattered: i -> (a * i + c) mod m over the next power
 * of two m, an odd a and c, skipping values >= n (a full-period LCG visits
 * every residue of m once).
 */
export function* permuted(n: number): Generator<number> {
  let m = 1;
  while (m < n) m *= 2;
  let x = 0;
  for (let seen = 0; seen < n; ) {
    x = (x * 1664525 + 1013904223) % m;
    if (x < n) {
      seen++;
      yield x;
    }
  }
}

/** Resident set of a process (VmRSS), bytes. */
export function rssBytes(pid: number): number {
  const m = /^VmRSS:\s+(\d+) kB/m.exec(fs.readFileSync(`/proc/${pid}/status`, 'utf8'));
  return m ? Number(m[1]) * 1024 : 0;
}

/** Bytes of a file's pages actually allocated (a sparse file's holes take none). */
export function allocatedBytes(file: string): number {
  try {
    return fs.statSync(file).blocks * 512;
  } catch {
    return 0;
  }
}

export function ratePerSec(count: number, ms: number): number {
  return (count * 1000) / ms;
}
