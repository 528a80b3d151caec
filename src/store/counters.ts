/**
 * The server threads' counter lines (layout/data-meta.ts, D_STATS): each
 * thread adds to its own line with plain stores; a reader sums one counter
 * over every line. The sum is not atomic (a line may move while it is
 * read), which counters can afford.
 */
import { Stat, STATS_LINE_BYTES, STATS_LINES } from '../layout/data-meta';

const PER_LINE = STATS_LINE_BYTES / 8;

/** The sum of counter `stat` over every thread's line. */
export function sumStat(lines: Float64Array, stat: Stat): number {
  let n = 0;
  for (let line = 0; line < STATS_LINES; line++) n += lines[line * PER_LINE + stat];
  return n;
}
