#!/usr/bin/env bash
# `npm run bench`: builds, then times run --rm against wharfd beside the runc floor (bench/run-bench.ts),
# a cold registry pull beside gzip -dc | tar -x on the same blobs (bench/pull-bench.ts), the CLI's
# start-up beside the Docker CLI's (bench/cli-bench.ts) and a daemon restart with N running
# containers (bench/restart-bench.ts), the daemon's RSS under a slow client (bench/stream-bench.ts),
# inspect (bench/inspect-bench.ts) and CRI pod start/teardown beside containerd (bench/cri-bench.ts);
# then one table of the rows the benches record (bench/summary.ts).
# The Docker engine column: BENCH_DOCKER_HOST names an engine (with busybox:latest), or, when
# Debian's docker.io is installed, an isolated dockerd is started for the run (scripts/bench-dockerd.sh).
# Every engine's data root and the floors live on one scratch ext4 with a journal (a sparse image on a
# loop device), made fresh for the run: on an ext4 without a journal (this VM's root) the kernel will
# not reuse an inode for 60-300 s after its file is deleted and scans past every such inode, so a
# bench that deletes and creates thousands of files measures that scan (tar of the nginx base: 0.4 s
# on the scratch fs, 5-6 s under /tmp here) and whichever case follows a big delete loses.
# WHARF_TEST_TMP set by the caller names another place instead.
set -euo pipefail
cd "$(dirname "$0")/.."
# Some sandboxes set NODE_EXTRA_CA_CERTS for every process; node then parses that CA bundle at each
# start (30-40 ms, and 1.4 MB of wharfd's RSS). wharfd as its systemd unit runs it has no such
# variable, and the benches measure it so.
unset NODE_EXTRA_CA_CERTS
[ "$(id -u)" = 0 ] || { echo "scripts/bench.sh: must run as root" >&2; exit 1; }
bash scripts/deps.sh
if [ ! -d node_modules ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then npm ci --no-audit --no-fund; fi
npm run build
BENCH_ROWS=$(mktemp /tmp/wharf-bench-rows.XXXXXX)
export BENCH_ROWS
docker_dir= scratch=
cleanup() {
  [ -n "$docker_dir" ] && bash scripts/bench-dockerd.sh stop "$docker_dir"
  if [ -n "$scratch" ]; then
    umount "$scratch" 2>/dev/null || umount -l "$scratch"
    rm -rf "$scratch" "$scratch.img"
  fi
  rm -f "$BENCH_ROWS"
}
trap cleanup EXIT
if [ -z "${WHARF_TEST_TMP:-}" ]; then
  scratch=$(mktemp -d /var/tmp/wharf-bench.XXXXXX)
  truncate -s 32G "$scratch.img"
  mkfs.ext4 -q -F "$scratch.img"
  mount -o loop "$scratch.img" "$scratch"
  export WHARF_TEST_TMP=$scratch TMPDIR=$scratch
fi
if [ -z "${BENCH_DOCKER_HOST:-}" ] && command -v dockerd >/dev/null; then
  docker_dir=$(mktemp -d "$WHARF_TEST_TMP/wharf-bench-docker.XXXXXX")
  BENCH_DOCKER_HOST=$(bash scripts/bench-dockerd.sh start "$docker_dir")
  export BENCH_DOCKER_HOST
fi
node dist/bench/run-bench.js "$@"
node dist/bench/pull-bench.js   # cold pull of the nginx test image vs gzip -dc | tar -x (BENCH_PULL_N)
node dist/bench/cli-bench.js    # wharf version / ps vs docker version / ps on the same daemon (BENCH_CLI_N)
node dist/bench/batch-bench.js    # 20 parallel run -d, then rm -f of the 20, wharfd beside the Docker engine (BENCH_BATCH_N)
node dist/bench/output-bench.js   # 200 MB of run --rm output and 100 MB of exec output to /dev/null, beside the floor (BENCH_OUTPUT_N)
node dist/bench/restart-bench.js   # daemon restart with N running containers until /_ping (BENCH_RESTART_N, _R)
node dist/bench/build-bench.js  # docker build cold, cached and of a 2,000-file context (BENCH_BUILD_N, BENCH_DOCKER_HOST to compare)
node dist/bench/stream-bench.js # a paced client reading 300 MB of attach output: RSS and run latency (BENCH_STREAM_MB, _N)
node dist/bench/inspect-bench.js  # GET /containers/{id}/json and /containers/json at 1 and 200 containers (BENCH_DOCKER_HOST to compare)
node dist/bench/cri-bench.js    # CRI pod start/teardown p50/p99, wharfd beside containerd's CRI (BENCH_CRI_N, BENCH_CRI_CONTAINERD=0)
node dist/bench/summary.js "$BENCH_ROWS"
