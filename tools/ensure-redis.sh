#!/usr/bin/env bash
# test/compat/tiered.test.ts and test/e2e/web.test.ts start a private redis-server (and
# fail, never skip, without one): install Debian's when it is missing, so
# that `make test` (and CI's .ci/run) set up a fresh machine by themselves.
set -euo pipefail
if ! command -v redis-server >/dev/null 2>&1 && [ ! -x /usr/bin/redis-server ]; then
  echo "make: installing redis-server with apt-get (the Redis tests need it)"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq && apt-get install -y -qq redis-server
fi
