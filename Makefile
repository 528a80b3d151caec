# `make` builds everything from a fresh clone: npm dependencies (dev tools
# only), the native addon (node-gyp, offline against the configured headers)
# and the TypeScript. `make demo` is the main job, `make test` the test suite.
NODE_GYP_OUT := build/Release/shm.node
TS_STAMP := dist/.built

.PHONY: all dist demo test test-node smoke bench clean prebuild
all: $(NODE_GYP_OUT) $(TS_STAMP)

# `make dist`: the TypeScript only (what `npm pack` needs: its prepack runs
# this, so a tarball packed from a clean checkout has dist/; no compiler).
dist: $(TS_STAMP)

node_modules/.installed: package.json package-lock.json
	npm ci --ignore-scripts --prefer-offline --no-audit --no-fund
	touch $@

$(NODE_GYP_OUT): node_modules/.installed binding.gyp native/shm.cc
	npm run --silent build:native

# `make prebuild`: rebuild every prebuilt addon the package ships, one per
# Node ABI (tools/node-versions.txt: Node 20, 22, 24, 26), into
# prebuilds/linux-x64/shmkv.abi<N>.glibc.node, in one command, offline once
# the official Node builds are cached (tools/node-dist.sh fetches each from
# the npm registry on first use, into /var/cache/shmkv/node as root, else
# ~/.cache/shmkv/node). Run it after
# changing native/shm.cc or binding.gyp and commit prebuilds/: the package
# test fails while prebuilds/linux-x64/sources.sha256 does not match them.
# prebuildify builds in build/, so the local build is made again after.
prebuild: node_modules/.installed
	bash tools/prebuild.sh
	npm run --silent build:native

# `make test-node NODE=24`: the whole suite (npm test) on another Node of
# tools/node-versions.txt, with the prebuilt addon for its ABI (build/ holds
# the default Node's build: PREBUILDS_ONLY=1 makes node-gyp-build skip it).
test-node: all
	bash tools/ensure-redis.sh
	bash tools/test-node.sh $(NODE)

# `make smoke`: on each Node after the default one, the package test alone
# (install the packed tarball without a compiler, a server from its bin, a
# client in a second process, the Keyv store); .ci/run runs it.
SMOKE_NODES ?= $(shell awk '!/^\#/ && NF >= 2 { print $$1 }' tools/node-versions.txt | tail -n +2)
smoke: all
	bash tools/smoke.sh $(SMOKE_NODES)

# tsc never deletes: the find drops what a removed or renamed source left in
# dist/ (tools/test.sh and test:unit run dist/test/<tier>/*.test.js, so a
# split test file would otherwise still run under its old name).
$(TS_STAMP): node_modules/.installed tsconfig.json test/keyv/tsconfig.json $(shell find src test bench examples tools -name '*.ts' 2>/dev/null)
	npx tsc -p tsconfig.json
	npx tsc -p test/keyv/tsconfig.json   # the vitest files (Keyv's suite): checked, not emitted
	@find dist -name '*.js' | while read -r f; do s=$${f#dist/}; [ -f "$${s%.js}.ts" ] || rm -f "$$f" "$${f%.js}.d.ts"; done
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
# Then the scale bench (bench/scale/run.ts: 1 M, 10 M, 50 M entries beside
# Redis, sizes that do not fit in free memory reported as not run; about 15
# min more; SCALE_SIZES to choose) and the crash bench (bench/scale/crash.ts).
SCALE_SIZES ?= $(if $(BENCH_QUICK),1000000,1000000,10000000,50000000)
bench: all
	node dist/bench/harness/run.js $(BENCH_ARGS)
	node dist/bench/studies/policy/run.js > bench/results/policy.md
	node dist/bench/studies/policy/store.js > bench/results/policy-store.md
	node dist/bench/scale/run.js --sizes $(SCALE_SIZES)
	node dist/bench/scale/crash.js

clean:
	rm -rf build dist workloads
