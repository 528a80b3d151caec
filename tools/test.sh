#!/usr/bin/env bash
# npm test: Keyv's compliance suite (vitest, test/keyv/) and node's own test
# runner over every tier (test/{unit,concurrency,faults,e2e,compat}/), one
# after the other. Both always run, whatever the first gave, and the last
# line says how each ended; the exit status is non-zero when either failed.
# One tier: npm run test:unit (seconds, no server, no Redis), or
# TIERS="faults e2e" npm test.
set -u
cd "$(dirname "$0")/.."
tiers=${TIERS:-unit concurrency faults e2e compat}
# A server keeps its cache when it stops (the table outlives its server):
# every server the tests start puts its cache in one temp dir, gone at the end.
if [ -z "${SHMKV_DATA_DIR:-}" ]; then
  SHMKV_DATA_DIR=$(mktemp -d)
  export SHMKV_DATA_DIR
  trap 'rm -rf "$SHMKV_DATA_DIR"' EXIT
fi
files=()
for t in $tiers; do files+=(dist/test/"$t"/*.test.js); done
keyv=0
if [ -z "${TIERS:-}" ] || [[ " $tiers " == *" compat "* ]]; then
  npx vitest run --config test/keyv/vitest.config.mjs
  keyv=$?
fi
node --test --test-concurrency=1 --test-reporter=./dist/test/support/reporter.js "${files[@]}"
node=$?
word() { [ "$1" = 0 ] && echo "passed" || echo "FAILED (exit $1)"; }
echo "# npm test: Keyv compliance (vitest) $(word $keyv); node's tests ($tiers) $(word $node)"
[ "$keyv" = 0 ] && [ "$node" = 0 ]
