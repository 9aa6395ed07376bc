#!/usr/bin/env bash
# `npm run bench`: builds, then times run --rm against wharfd beside the runc floor (bench/run-bench.ts)
# and a cold registry pull beside gzip -dc | tar -x on the same blobs (bench/pull-bench.ts).
set -euo pipefail
cd "$(dirname "$0")/.."
[ "$(id -u)" = 0 ] || { echo "scripts/bench.sh: must run as root" >&2; exit 1; }
bash scripts/deps.sh
[ -d node_modules ] || npm ci --no-audit --no-fund
npx tsc -p .
node dist/bench/run-bench.js "$@"
node dist/bench/pull-bench.js   # cold pull of the nginx test image vs gzip -dc | tar -x (BENCH_PULL_N)
node dist/bench/build-bench.js  # docker build cold and cached (BENCH_BUILD_N, BENCH_DOCKER_HOST to compare)
