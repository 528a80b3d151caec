# `make` builds everything from a fresh clone: npm dependencies (dev tools
# only), the native addon (node-gyp, offline against the configured headers)
# and the TypeScript. `make demo` is the main job, `make test` the test suite.
NODE_GYP_OUT := build/Release/shm.node
TS_STAMP := dist/.built

.PHONY: all demo test bench clean prebuild
all: $(NODE_GYP_OUT) $(TS_STAMP)

node_modules/.installed: package.json package-lock.json
	npm ci --ignore-scripts --no-audit --no-fund
	touch $@

$(NODE_GYP_OUT): node_modules/.installed binding.gyp native/shm.cc
	npm run --silent build:native

# `make prebuild`: (re)build the prebuilt binary an installed package loads
# when it has no build/ of its own (no compiler needed there), for this
# machine's platform and Node ABI: prebuilds/linux-x64/node.abi<N>.node. It is
# committed; run this after changing native/shm.cc or moving to a Node with
# another ABI (process.versions.modules), then commit prebuilds/.
# prebuildify runs node-gyp rebuild here and then moves build/Release/shm.node
# into prebuilds/ (as shmkv.abi<N>.node, the name node-gyp-build matches), so
# the local build is made again: the tests load build/Release/shm.node when
# it exists, and the install test loads the prebuilt one. sources.sha256
# records what the binary was built from: the install test fails when
# native/shm.cc or binding.gyp changed without a `make prebuild`
# (node-gyp-build ignores files that do not end in .node).
prebuild: node_modules/.installed
	npm run --silent build:prebuilt
	sha256sum native/shm.cc binding.gyp > prebuilds/$$(node -p 'process.platform + "-" + process.arch')/sources.sha256
	npm run --silent build:native
	ls -l prebuilds/*/

$(TS_STAMP): node_modules/.installed tsconfig.json test/keyv/tsconfig.json $(shell find src test bench examples tools -name '*.ts' 2>/dev/null)
	npx tsc -p tsconfig.json
	npx tsc -p test/keyv/tsconfig.json   # the vitest files (Keyv's suite): checked, not emitted
	touch $@

# The main job: a 1,000,000-request workload (50% puts, uniform keys over
# 100,000, deterministic for 2 threads x window 16), replayed by the client
# against a server it forks, checked against the expected results.
DEMO_THREADS ?= 2
DEMO_WINDOW ?= 16
workloads/demo.txt: $(TS_STAMP)
	mkdir -p workloads
	./genworkload -n 1000000 -p 50 -k 100000 -t $(DEMO_THREADS) -w $(DEMO_WINDOW) -o workloads/demo.txt -e workloads/demo.expected

demo: all workloads/demo.txt
	./client -f -n $(DEMO_THREADS) -w $(DEMO_WINDOW) -t 2 -s 1024 -i workloads/demo.txt -c -e workloads/demo.expected

test: all
	bash tools/ensure-redis.sh
	npm test

# `make bench`: the benchmark suite (bench/README.md): about 25-30 min on an
# idle 2-core machine, including the headline points beside one busy-looping
# process per core (loaded / quiet; BENCH_ARGS=--no-loaded skips them) and
# the library calls against lmdb-js and Redis (the "library" section);
# BENCH_QUICK=1 for a ~3-4-minute run, BENCH_ARGS for flags (node
# dist/bench/harness/run.js -h). Installs Debian's redis-server with apt-get if
# missing. Not part of `make test`/CI: it is long and uses apt.
bench: all
	node dist/bench/harness/run.js $(BENCH_ARGS)
	node dist/bench/studies/policy/run.js > bench/results/policy.md

clean:
	rm -rf build dist workloads
