#!/usr/bin/env bash
# `npm run bench`: builds, then times run --rm against wharfd beside the runc floor (bench/run-bench.ts),
# a cold registry pull beside gzip -dc | tar -x on the same blobs (bench/pull-bench.ts), the CLI's
# start-up beside the Docker CLI's (bench/cli-bench.ts) and a daemon restart with N running
# containers (bench/restart-bench.ts), the daemon's RSS under a slow client (bench/stream-bench.ts),
# inspect (bench/inspect-bench.ts) and CRI pod start/teardown beside containerd (bench/cri-bench.ts);
# then one table of the rows the benches record (bench/summary.ts).
# The Docker engine column: BENCH_DOCKER_HOST names an engine (with busybox:latest), or, when
# Debian's docker.io is installed, an isolated dockerd is started for the run (scripts/bench-dockerd.sh).
set -euo pipefail
cd "$(dirname "$0")/.."
[ "$(id -u)" = 0 ] || { echo "scripts/bench.sh: must run as root" >&2; exit 1; }
bash scripts/deps.sh
if [ ! -d node_modules ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then npm ci --no-audit --no-fund; fi
npm run build
BENCH_ROWS=$(mktemp /tmp/wharf-bench-rows.XXXXXX)
export BENCH_ROWS
docker_dir=
cleanup() {
  [ -n "$docker_dir" ] && bash scripts/bench-dockerd.sh stop "$docker_dir"
  rm -f "$BENCH_ROWS"
}
trap cleanup EXIT
if [ -z "${BENCH_DOCKER_HOST:-}" ] && command -v dockerd >/dev/null; then
  docker_dir=$(mktemp -d /tmp/wharf-bench-docker.XXXXXX)
  BENCH_DOCKER_HOST=$(bash scripts/bench-dockerd.sh start "$docker_dir")
  export BENCH_DOCKER_HOST
fi
node dist/bench/run-bench.js "$@"
node dist/bench/pull-bench.js   # cold pull of the nginx test image vs gzip -dc | tar -x (BENCH_PULL_N)
node dist/bench/cli-bench.js    # wharf version / ps vs docker version / ps on the same daemon (BENCH_CLI_N)
node dist/bench/restart-bench.js   # daemon restart with N running containers until /_ping (BENCH_RESTART_N, _R)
node dist/bench/build-bench.js  # docker build cold and cached (BENCH_BUILD_N, BENCH_DOCKER_HOST to compare)
node dist/bench/stream-bench.js # a paced client reading 300 MB of attach output: RSS and run latency (BENCH_STREAM_MB, _N)
node dist/bench/inspect-bench.js  # GET /containers/{id}/json and /containers/json at 1 and 200 containers (BENCH_DOCKER_HOST to compare)
node dist/bench/cri-bench.js    # CRI pod start/teardown p50/p99, wharfd beside containerd's CRI (BENCH_CRI_N, BENCH_CRI_CONTAINERD=0)
node dist/bench/summary.js "$BENCH_ROWS"
