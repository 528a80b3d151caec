#!/bin/bash
# What events cost a direct read: this build's getSync (no listener, hit
# and miss listeners, a 'set' listener only) against older builds without
# events, side by side in one run (bench/tools/events-ab.ts).
#
#   tools/events-ab.sh [ROUNDS [REV...]]    (default 5 rounds; 4dbb3e5 43c5fcf)
#
# Default revisions: 43c5fcf, main before the cache features (issue 23),
# and 4dbb3e5, the new table before the features were merged into it (so
# the table's own change and the features' can be told apart). Each REV
# is built in a temporary worktree (node_modules copied from here); ratios
# are to the last REV.
set -u
rounds=${1:-5}
shift 2> /dev/null
revs=("$@")
[ ${#revs[@]} -eq 0 ] && revs=(4dbb3e5 43c5fcf)
if ! [[ $rounds =~ ^[1-9][0-9]*$ ]]; then
  echo "usage: tools/events-ab.sh [ROUNDS [REV...]] (ROUNDS a positive integer)" >&2
  exit 2
fi
repo=$(git rev-parse --show-toplevel) || exit 2
[ -f "$repo/dist/.built" ] || {
  echo "events-ab: build this checkout first (make all)" >&2
  exit 2
}
dir=$(mktemp -d)
driver=
cleanup() {
  [ -n "$driver" ] && kill "$driver" 2> /dev/null && wait "$driver" 2> /dev/null
  for r in "${revs[@]}"; do git -C "$repo" worktree remove --force "$dir/$r" 2> /dev/null; done
  rm -rf "$dir"
}
trap cleanup EXIT
trap 'exit 130' INT TERM
args=(--build "this=$repo")
for r in "${revs[@]}"; do
  git -C "$repo" rev-parse --verify -q "$r^{commit}" > /dev/null || {
    echo "events-ab: $r is not a commit of this repository" >&2
    exit 2
  }
  git -C "$repo" worktree add -q --detach "$dir/$r" "$r" || exit 2
  cp -a "$repo/node_modules" "$dir/$r/" && touch "$dir/$r/node_modules/.installed"
  if ! (cd "$dir/$r" && make all > "$dir/build-$r.log" 2>&1); then
    echo "events-ab: building $r failed, see the log:" >&2
    tail -5 "$dir/build-$r.log" >&2
    exit 2
  fi
  args+=(--build "$r=$dir/$r")
done
node "$repo/dist/bench/tools/events-ab.js" "${args[@]}" --rounds "$rounds" &
driver=$!
wait "$driver"
rc=$?
driver=
exit $rc
