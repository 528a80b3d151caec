#!/bin/bash
# setSync and getSync, one process, side by side: an older build (its checkout dir, built) against this one, 200,000 keys of 16 B, 100 B values, alternating rounds.
# The setSyncs fill an empty table (every key is new); the getSyncs are hits.
# RW_AB_ARGS adds flags to this build's ./server, RW_AB_OLD_ARGS to the other's
# (OLD_BUILD_DIR may be this checkout: RW_AB_OLD_ARGS='--eviction clock' bash bench/tools/rw-ab.sh .).
OLD=${1:?usage: bench/tools/rw-ab.sh OLD_BUILD_DIR [ROUNDS] (a built checkout of another commit, e.g. from tools/seed-ab.sh)}
NEW=$(cd "$(dirname "$0")/../.." && pwd)
N=200000
OLD=$(cd "$OLD" && pwd)
ROUNDS=${2:-3}
for round in $(seq 1 "$ROUNDS"); do
  for which in old new; do
    b=$NEW; args=${RW_AB_ARGS:-}; label="this"
    [ $which = old ] && b=$OLD && args=${RW_AB_OLD_ARGS:-} && label=$(basename "$OLD")
    label="$label${args:+ ($args)}"
    d=$(mktemp -d); export SHMKV_DATA_DIR=$d
    # shellcheck disable=SC2086 # args: words
    node $b/dist/src/cli/server.js -p $d/region -n 2 $args > $d/log 2>&1 &
    for i in $(seq 100); do grep -q ready $d/log && break; sleep 0.05; done
    node -e "
const { connect } = require('$b/dist/src/index');
const kv = connect({ path: '$d/region' });
const v = 'v'.repeat(100); const key = (i) => 'k' + String(i).padStart(15, '0');
let t = process.hrtime.bigint();
for (let i = 0; i < $N; i++) kv.setSync(key(i), v);
const set = $N / (Number(process.hrtime.bigint() - t) / 1e9) / 1000;
let x = 12345; let miss = 0; const G = 2000000;
t = process.hrtime.bigint();
for (let i = 0; i < G; i++) { x = (x * 1103515245 + 12345) >>> 0; if (kv.getSync(key(x % $N)) === undefined) miss++; }
const get = G / (Number(process.hrtime.bigint() - t) / 1e9) / 1000;
console.log('$label', 'round $round', 'setSync', set.toFixed(0), 'K/s', 'getSync', get.toFixed(0), 'K/s', 'misses', miss);
kv.closeSync ? kv.closeSync() : kv.close();
process.exit(0);
"
    kill -TERM %1; wait
    rm -rf $d
  done
done
