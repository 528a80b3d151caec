#!/usr/bin/env bash
# make smoke / .ci/run: on each Node given (versions or majors of
# tools/node-versions.txt), the package test alone
# (test/compat/package.test.ts): pack the repository, install the tarball
# into an empty project with no compiler on PATH, require and import it,
# start a server from its bin, use it from a second process, run the Keyv
# store (Keyv 6 where Node >= 22.19, else Keyv 5), compile a strict
# TypeScript consumer. One line per Node at the end; exit 1 if any failed.
set -uo pipefail
cd "$(dirname "$0")/.."
[ $# -gt 0 ] || { echo "usage: tools/smoke.sh VERSION..." >&2; exit 2; }
results=()
status=0
for want in "$@"; do
  if ! dir=$(tools/node-dist.sh "$want"); then
    results+=("Node $want: no build"); status=1; continue
  fi
  PATH="$dir/bin:$PATH" PREBUILDS_ONLY=1 "$dir/bin/node" --test --test-concurrency=1 \
    --test-reporter=./dist/test/support/reporter.js dist/test/compat/package.test.js
  rc=$?
  v=$("$dir/bin/node" -p process.version)
  if [ $rc = 0 ]; then results+=("Node $v: passed"); else results+=("Node $v: FAILED (exit $rc)"); status=1; fi
done
printf '# smoke: %s\n' "${results[@]}"
exit $status
