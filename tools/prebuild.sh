#!/usr/bin/env bash
# make prebuild: rebuild every prebuilt addon the package ships, one per Node
# ABI in tools/node-versions.txt, into prebuilds/linux-x64/
# (shmkv.abi<N>.glibc.node, the names node-gyp-build looks up), then record
# the sources and the binaries made from them, together
# (prebuilds/linux-x64/sources.sha256: the package test and make test-node
# fail when native/shm.cc, binding.gyp or a binary changed since).
#
# Offline once the Node builds are cached (tools/node-dist.sh): node-gyp
# compiles against each build's include/node (npm_config_nodedir), never
# downloading headers. Each binary is then loaded by its own Node as a check.
# The addon uses V8's API, not Node-API, so a binary fits exactly one ABI
# (README, Install, says why). Tagged glibc: on musl node-gyp-build skips
# them and the install script compiles from source.
set -euo pipefail
cd "$(dirname "$0")/.."
out=prebuilds/linux-x64
rm -f "$out"/*.node
log=$(mktemp)
trap 'rm -f "$log"' EXIT
while read -r version abi; do
  case "$version" in '' | '#'*) continue ;; esac
  dir=$(tools/node-dist.sh "$version")
  echo "prebuild: Node $version (ABI $abi) against $dir/include/node"
  # Through npm so that npm's bundled node-gyp is on PATH (prebuildify runs it).
  npm_config_nodedir=$dir npm run --silent build:prebuilt -- --target="node@$version" > "$log" 2>&1 ||
    { cat "$log"; echo "prebuild: the build for Node $version failed" >&2; exit 1; }
  file=$out/shmkv.abi$abi.glibc.node
  [ -f "$file" ] || { echo "prebuild: $file was not made" >&2; exit 1; }
  "$dir/bin/node" -e "const m = require('./$file'); for (const f of ['mapFile', 'futexWait', 'futexWake', 'lockFile']) if (typeof m[f] !== 'function') throw new Error('no ' + f)"
done < tools/node-versions.txt
sha256sum native/shm.cc binding.gyp "$out"/*.node > "$out/sources.sha256"
# The newest glibc symbol any binary needs: the floor README's Install states.
objdump -T "$out"/*.node | grep -o 'GLIBC_[0-9.]*' | sort -V -u | tail -1 | sed 's/^/prebuild: needs glibc >= /; s/GLIBC_//'
ls -l "$out"
