/**
 * A writer of the crash bench (crash.ts): connects with start: true and
 * writes `TAG:i` = i with setSync as fast as it can, noting the longest
 * time between two acknowledgements (a write that waits for a restarted
 * server), until the file STOP exists; then prints one JSON line:
 * { written, failed, maxGapMs, gaps }: writes 0..written-1 were tried,
 * those in `failed` threw (their error names in `errors`; a write that
 * threw OutcomeUnknownError may be there or not), every other one was
 * acknowledged; gaps: every wait over 50 ms, in ms.
 *
 *   node crash-writer.js REGION TAG STOP_FILE DATA_DIR
 */
import * as fs from 'node:fs';
import { connect } from '../../src/index';

function main(): void {
  const [region, tag, stopFile, dataDir] = process.argv.slice(2);
  const kv = connect({ path: region, start: true, server: { threads: 2, maxTableBytes: 256 * 2 ** 20, dataDir }, waitMs: 30_000 });
  let last = performance.now();
  let maxGapMs = 0;
  const gaps: number[] = [];
  const failed: number[] = [];
  const errors: Record<string, number> = {};
  let i = 0;
  for (;;) {
    try {
      kv.setSync(`${tag}:${i}`, i);
    } catch (e) {
      failed.push(i);
      const name = (e as Error).name;
      errors[name] = (errors[name] ?? 0) + 1;
      if (process.env.CRASH_WRITER_VERBOSE) process.stderr.write(`${tag}: write ${i}: ${(e as Error).message}\n`);
    }
    i++;
    const now = performance.now();
    const gap = now - last;
    last = now;
    if (gap > maxGapMs) maxGapMs = gap;
    if (gap > 50) gaps.push(Math.round(gap));
    if ((i & 1023) === 0 && fs.existsSync(stopFile)) break;
  }
  kv.closeSync();
  process.stdout.write(`${JSON.stringify({ written: i, failed, errors, maxGapMs, gaps })}\n`);
}

main();
