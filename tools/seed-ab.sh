#!/bin/bash
# The seed's u32 replay, this build against an older one, side by side:
# issue 9's "must not get slower" needs both in one run, since this
# machine's speed drifts by 2x between runs.
#
#   tools/seed-ab.sh [REV [ROUNDS]]     (default 8b9037f, 9 rounds)
#   SEED_AB_ARGS='--eviction clock' tools/seed-ab.sh ...   (more flags for
#            this build's ./server; SEED_AB_OLD_ARGS for REV's)
#
# REV is built in a temporary worktree (node_modules copied from here).
# Each round runs, for each point and each build in turn:
#   first:   ./server -n T -s 1024 (with --fresh where the build adopts the
#            path's previous table), the first replay (every key is new:
#            a fill);
#   running: then the same replay again (the same keys: updates), then the
#            server is stopped;
#   fresh:   ./client -f (the client forks the server; every key is new;
#            the SEED_AB flags do not reach it).
# Workloads: ./genworkload -n 1000000 -p 50 -k 100000 -t T -w W (200,000
# requests at -w 1). Prints the median K/s of each build and the ratio.
set -u
rev=${1:-8b9037f}
rounds=${2:-9}
if ! [[ $rounds =~ ^[1-9][0-9]*$ ]]; then
  echo "usage: tools/seed-ab.sh [REV [ROUNDS]] (ROUNDS a positive integer)" >&2
  exit 2
fi
repo=$(git rev-parse --show-toplevel) || exit 2
git -C "$repo" rev-parse --verify -q "$rev^{commit}" > /dev/null || {
  echo "seed-ab: $rev is not a commit of this repository" >&2
  exit 2
}
[ -f "$repo/dist/.built" ] || {
  echo "seed-ab: build this checkout first (make all)" >&2
  exit 2
}
dir=$(mktemp -d)
cleanup() {
  pkill -INT -f "$dir/" 2> /dev/null
  git -C "$repo" worktree remove --force "$dir/old" 2> /dev/null
  rm -rf "$dir"
}
trap cleanup EXIT
git -C "$repo" worktree add -q --detach "$dir/old" "$rev" || exit 2
cp -a "$repo/node_modules" "$dir/old/" && touch "$dir/old/node_modules/.installed"
if ! (cd "$dir/old" && make all > "$dir/build.log" 2>&1); then
  echo "seed-ab: building $rev failed, see the log:" >&2
  tail -5 "$dir/build.log" >&2
  exit 2
fi

points=("2 16 2" "1 1 1" "1 16 1") # client threads, window, server threads
for p in "${points[@]}"; do
  read -r n w t <<< "$p"
  count=1000000
  [ "$w" = 1 ] && count=200000
  "$repo/genworkload" -n $count -p 50 -k 100000 -t "$n" -w "$w" -o "$dir/wl-$n-$w.txt" -e "$dir/wl-$n-$w.sol" > /dev/null || exit 2
done

# One replay; prints its K/s (0 when it failed).
replay() { # build-dir region n w [-f t]
  local out
  out=$(cd "$1" && ./client -n "$3" -w "$4" -i "$dir/wl-$3-$4.txt" -p "$2" "${@:5}" 2> /dev/null)
  echo "$out" | sed -n 's/^Throughput: \([0-9.]*\).*/\1/p' | grep . || echo 0
}

# --fresh where the build has it (a build that adopts would start full).
fresh_flag() { (cd "$1" && ./server -h 2>&1) | grep -q -- '--fresh' && echo --fresh; }
new_flags="$(fresh_flag "$repo") ${SEED_AB_ARGS:-}"
old_flags="$(fresh_flag "$dir/old") ${SEED_AB_OLD_ARGS:-}"

declare -A res
for r in $(seq 1 "$rounds"); do
  for p in "${points[@]}"; do
    read -r n w t <<< "$p"
    for b in old new; do
      d=$repo
      flags=$new_flags
      [ $b = old ] && d=$dir/old && flags=$old_flags
      region=$dir/region-$b
      # shellcheck disable=SC2086 # flags: words
      (cd "$d" && exec ./server -n "$t" -s 1024 -p "$region" $flags 2> "$dir/server.err") &
      srv=$!
      for _ in $(seq 1 600); do
        grep -q ready "$dir/server.err" && break
        sleep 0.05
      done
      res[first,$p,$b]+="$(replay "$d" "$region" "$n" "$w") "
      res[running,$p,$b]+="$(replay "$d" "$region" "$n" "$w") "
      kill -INT $srv
      wait $srv
      res[fresh,$p,$b]+="$(replay "$d" "$dir/fresh-$b" "$n" "$w" -f -t "$t" -s 1024) "
    done
  done
  echo "round $r of $rounds done" >&2
done

median() { tr ' ' '\n' | grep . | sort -g | awk '{a[NR]=$1} END {print (NR % 2) ? a[(NR+1)/2] : (a[NR/2] + a[NR/2+1]) / 2}'; }
echo "u32 replay, medians of $rounds rounds (K/s): $rev${SEED_AB_OLD_ARGS:+ ($SEED_AB_OLD_ARGS)} against $(git -C "$repo" rev-parse --short HEAD)${SEED_AB_ARGS:+ ($SEED_AB_ARGS)}"
printf '%-8s %-18s %10s %10s %8s\n' mode point "$rev" this ratio
for m in first running fresh; do
  for p in "${points[@]}"; do
    read -r n w t <<< "$p"
    o=$(echo "${res[$m,$p,old]}" | median)
    c=$(echo "${res[$m,$p,new]}" | median)
    printf '%-8s %-18s %10.0f %10.0f %7.2fx\n' $m "-n $n -w $w -t $t" "$o" "$c" "$(awk "BEGIN {print ($o > 0) ? $c / $o : 0}")"
  done
done
