#!/usr/bin/env bash
# make test-node NODE=24: the whole suite (npm test: Keyv's suite and every
# tier of node's tests) on one Node of tools/node-versions.txt, fetched by
# tools/node-dist.sh. The addon is the prebuilt one for that Node's ABI
# (PREBUILDS_ONLY=1: node-gyp-build skips build/, which holds the default
# Node's build), so it must match native/shm.cc: `make prebuild` otherwise.
set -euo pipefail
cd "$(dirname "$0")/.."
want=${1:-}
[ -n "$want" ] || { echo "usage: make test-node NODE=22|24|26 (a line of tools/node-versions.txt)" >&2; exit 2; }
dir=$(tools/node-dist.sh "$want")
if ! sha256sum --check --quiet --status prebuilds/linux-x64/sources.sha256; then
  echo "test-node: native/shm.cc, binding.gyp or a prebuilt binary changed since make prebuild made them: run 'make prebuild'" >&2
  exit 1
fi
export PATH="$dir/bin:$PATH" PREBUILDS_ONLY=1
echo "test-node: $(command -v node) $(node -p 'process.version + " ABI " + process.versions.modules'), addon $(node -p "require('node-gyp-build').resolve('.')")"
exec npm test
