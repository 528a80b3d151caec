#!/bin/bash
# Evidence that the test suite does not flake: run the README's test command
# (npm test after make, as .ci/run does) RUNS times in a row from a fresh
# clone of HEAD, the last LOADED of them beside one busy-looping process per
# core (bench/load/busy-loop.js: normal priority, exits when this script is gone),
# and print one line per run, the failing tests of a red run, and a summary.
#
#   tools/flake-proof.sh [RUNS [LOADED]]     (default 20 runs, 10 loaded)
#
# Exit status 0 when every run was green. Logs stay in the printed directory.
set -u
runs=${1:-20}
loaded=${2:-10}
if ! [[ $runs =~ ^[0-9]+$ && $loaded =~ ^[0-9]+$ ]] || [ "$loaded" -gt "$runs" ]; then
  echo "usage: tools/flake-proof.sh [RUNS [LOADED]] (integers, LOADED <= RUNS)" >&2
  exit 2
fi
repo=$(git rev-parse --show-toplevel) || exit 2
head=$(git -C "$repo" rev-parse --short HEAD)
dir=$(mktemp -d)
chmod 755 "$dir" # the EACCES test runs a child as another user inside it
git clone -q "$repo" "$dir/p" && cd "$dir/p" || exit 2
if ! make all > "$dir/build.log" 2>&1; then
  echo "flake-proof: make failed, see $dir/build.log" >&2
  exit 2
fi
bash tools/ensure-redis.sh > /dev/null || exit 2
cores=$(nproc)
busy=()
stop_busy() {
  for p in "${busy[@]}"; do kill "$p" 2> /dev/null; done
  for p in "${busy[@]}"; do wait "$p" 2> /dev/null; done
  busy=()
}
trap stop_busy EXIT
green=0
for i in $(seq 1 "$runs"); do
  mode=quiet
  if [ "$i" -gt $((runs - loaded)) ]; then
    mode="loaded, $cores busy loops"
    for _ in $(seq 1 "$cores"); do
      node dist/bench/load/busy-loop.js > /dev/null &
      busy+=($!)
    done
  fi
  start=$(date +%s)
  CI=true npm test > "$dir/run-$i.log" 2>&1
  rc=$?
  stop_busy
  counts=$(grep -E '^# (pass|fail) ' "$dir/run-$i.log" | tr '\n' ' ')
  vitest=$(sed 's/\x1b\[[0-9;]*m//g' "$dir/run-$i.log" | grep -E '^\s+Tests\s' | tr -s ' ' | head -1)
  echo "run $i ($mode): exit $rc in $(($(date +%s) - start)) s; node:test ${counts}; vitest${vitest}"
  if [ "$rc" -eq 0 ]; then
    green=$((green + 1))
  else
    grep -E '^FAILED|^not ok|FAIL ' "$dir/run-$i.log" | head -10
  fi
done
echo "flake-proof at $head: $green/$runs runs green ($loaded of them beside $cores busy loops); logs in $dir"
[ "$green" -eq "$runs" ]
