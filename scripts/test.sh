#!/usr/bin/env bash
# What `npm test` runs: system deps, node deps, a type-checked build, then every unit and
# integration test (one file at a time: integration tests start real daemons, runc and mounts).
set -uo pipefail
cd "$(dirname "$0")/.."

if [ "$(id -u)" != 0 ]; then
  echo "scripts/test.sh: must run as root (integration tests run wharfd, runc, conmon and overlay mounts)" >&2
  exit 1
fi

started=$(date +%s)
summary() { echo "test.sh: $1 ($(($(date +%s) - started)) s)"; }

bash scripts/deps.sh || { summary "FAILED: installing system dependencies (scripts/deps.sh)"; exit 1; }

# Also after package-lock.json changed (a merged branch may add a dependency, e.g. esbuild).
if [ ! -d node_modules ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  npm ci --no-audit --no-fund || { summary "FAILED: npm ci"; exit 1; }
fi

if ! npx tsc -p .; then
  summary "FAILED: type errors (npx tsc -p .)"
  exit 1
fi
if ! node scripts/bundle-cli.mjs; then
  summary "FAILED: bundling the CLI (scripts/bundle-cli.mjs)"
  exit 1
fi

# tsc never deletes outputs: drop compiled tests whose source is gone so they do not run.
while IFS= read -r -d '' js; do
  src="${js#dist/}"
  src="${src%.js}.ts"
  [ -f "$src" ] || rm -f "$js" "$js.map"
done < <(find dist/test -name '*.test.js' -print0 2>/dev/null)

dirs=()
for d in dist/test/unit dist/test/integration dist/test/compat; do
  [ -d "$d" ] && dirs+=("$d/")
done
if [ ${#dirs[@]} -eq 0 ]; then
  summary "FAILED: no compiled tests under dist/test"
  exit 1
fi

tap=$(mktemp /tmp/wharf-test-tap.XXXXXX)
trap 'rm -f "$tap"' EXIT
# Human-readable output on stdout, TAP to a file for the summary line.
node --test --test-concurrency=1 \
  --test-reporter=spec --test-reporter-destination=stdout \
  --test-reporter=tap --test-reporter-destination="$tap" \
  "${dirs[@]}"
rc=$?

count() { grep -E "^# $1 [0-9]+$" "$tap" | tail -1 | awk '{print $3}'; }
tests=$(count tests); pass=$(count pass); fail=$(count fail); skipped=$(count skipped); todo=$(count todo); cancelled=$(count cancelled)
line="${tests:-?} tests, ${pass:-?} passed, ${fail:-?} failed, ${cancelled:-0} cancelled, ${skipped:-0} skipped, ${todo:-0} todo"
if [ $rc -eq 0 ]; then summary "PASS: $line"; else summary "FAIL (exit $rc): $line"; fi
echo "wharf: ${pass:-0} passed, ${fail:-0} failed"
exit $rc
