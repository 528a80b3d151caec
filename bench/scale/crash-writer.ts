/**
 * A writer of the crash bench (crash.ts): connects with start: true and
 * writes `TAG:i` = i with setSync as fast as it can, noting the longest
 * time between two acknowledgements (a write that waits for a restarted
 * server), until the file STOP exists; then prints one JSON line:
 * { acked, maxGapMs, gaps } (gaps: every wait over 50 ms, in ms).
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
  let i = 0;
  for (;;) {
    kv.setSync(`${tag}:${i}`, i);
    i++;
    const now = performance.now();
    const gap = now - last;
    last = now;
    if (gap > maxGapMs) maxGapMs = gap;
    if (gap > 50) gaps.push(Math.round(gap));
    if ((i & 1023) === 0 && fs.existsSync(stopFile)) break;
  }
  kv.closeSync();
  process.stdout.write(`${JSON.stringify({ acked: i, maxGapMs, gaps })}\n`);
}

main();
