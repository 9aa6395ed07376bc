#!/usr/bin/env bash
# `npm run bench`: builds, then times run --rm against wharfd beside the runc floor (bench/run-bench.ts).
set -euo pipefail
cd "$(dirname "$0")/.."
[ "$(id -u)" = 0 ] || { echo "scripts/bench.sh: must run as root" >&2; exit 1; }
bash scripts/deps.sh
[ -d node_modules ] || npm ci --no-audit --no-fund
npx tsc -p .
node dist/bench/run-bench.js "$@"
