#!/bin/bash
# The server's u32 table calls in one process, no ring, no server: an older
# build (its checkout dir, built; one with store/table-format.ts's
# memoryTable, 4dbb3e5 or later) against this one, alternating rounds.
# No hand-off between threads to schedule, unlike the end-to-end replays
# (tools/seed-ab.sh), whose medians of 11 rounds moved by up to 15%
# between runs: a difference in the table shows here first. Per round and
# build: putU32 of 100,000 new keys into a fresh table (21 tables; the
# fill), then, on one filled table, 15 passes of 1,000,000 putU32 of held
# keys (updates) and getU32 (hits). Prints the median ns per call.
#   bench/tools/table-ab.sh OLD_BUILD_DIR [EVICTION [ROUNDS]]
# EVICTION: s3fifo (default), clock or none, for both tables (a build
# before e248441 has CLOCK only and ignores it).
OLD=${1:?usage: bench/tools/table-ab.sh OLD_BUILD_DIR [EVICTION [ROUNDS]] (a built checkout of another commit, e.g. from tools/seed-ab.sh)}
EVICTION=${2:-s3fifo}
ROUNDS=${3:-3}
NEW=$(cd "$(dirname "$0")/../.." && pwd)
for round in $(seq 1 "$ROUNDS"); do
  for b in "$OLD" "$NEW"; do
    node -e "
// Each loop in a function of its own, over arguments: the same code a
// closure over script-level consts ran at about half the speed.
function fill(t, keys) { for (let i = 0; i < keys.length; i++) t.putU32(keys[i], i); }
function update(t, keys, order) { for (let i = 0; i < order.length; i++) t.putU32(keys[order[i]], i); }
function get(t, keys, order) { let miss = 0; for (let i = 0; i < order.length; i++) if (t.getU32(keys[order[i]]) < 0) miss++; return miss; }
function main() {
  const { Table } = require('$b/dist/src/store/table');
  const { memoryTable } = require('$b/dist/src/store/table-format');
  const N = 100000, M = 1000000, BYTES = 1 << 30;
  let x = 12345;
  const next = () => (x = (Math.imul(x, 1103515245) + 12345) >>> 0);
  const keys = Uint32Array.from({ length: N }, next);
  const order = Uint32Array.from({ length: M }, () => next() % N);
  const table = () => new Table(memoryTable({ initialBuckets: 1024, dataBytes: BYTES, seed: 7, eviction: '$EVICTION' }), 0);
  const now = () => process.hrtime.bigint();
  const med = (a) => a.sort((p, q) => p - q)[a.length >> 1].toFixed(1);
  const fills = [], updates = [], gets = [];
  for (let r = 0; r < 21; r++) {
    const t = table();
    const t0 = now();
    fill(t, keys);
    fills.push(Number(now() - t0) / N);
  }
  const t = table();
  fill(t, keys);
  let miss = 0;
  for (let r = 0; r < 15; r++) {
    const t0 = now();
    update(t, keys, order);
    const t1 = now();
    miss += get(t, keys, order);
    updates.push(Number(t1 - t0) / M);
    gets.push(Number(now() - t1) / M);
  }
  console.log('$(basename "$b")', 'round $round', 'fill', med(fills), 'ns', 'update', med(updates), 'ns', 'get', med(gets), 'ns', 'misses', miss);
}
main();
" || exit 1
  done
done
