#!/usr/bin/env bash
# What `npm test` (and CI) runs: system deps, node deps, a type-checked build, lint, layering and
# dead-code checks, then the unit tier and the integration tier (see scripts/run-tests.mjs).
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
if ! node scripts/bundle-daemon.mjs; then
  summary "FAILED: bundling wharfd (scripts/bundle-daemon.mjs)"
  exit 1
fi

# tsc never deletes outputs: drop compiled tests whose source is gone so they do not run.
while IFS= read -r -d '' js; do
  src="${js#dist/}"
  src="${src%.js}.ts"
  [ -f "$src" ] || rm -f "$js" "$js.map"
done < <(find dist/test -name '*.test.js' -print0 2>/dev/null)

# Checks that need no daemon first: lint, layering, dead code (the build above type-checked).
for check in lint layers dead; do
  if ! npm run --silent "check:$check"; then
    summary "FAILED: npm run check:$check"
    exit 1
  fi
done

# Two tiers: unit (pure logic, no daemon, seconds) and integration
# (real daemons; files in parallel, those that touch host-wide state alone; scripts/run-tests.mjs).
unit_tap=$(mktemp /tmp/wharf-unit.XXXXXX)
int_tap=$(mktemp /tmp/wharf-int.XXXXXX)
trap 'rm -f "$unit_tap" "$int_tap"' EXIT
node scripts/run-tests.mjs --name unit --jobs "${WHARF_UNIT_JOBS:-4}" --timeout 300 --tap "$unit_tap" dist/test/unit
unit_rc=$?
int_rc=1
if [ $unit_rc -eq 0 ]; then
  node scripts/run-tests.mjs --name integration --jobs "${WHARF_TEST_JOBS:-4}" --timeout 900 --tap "$int_tap" ${WHARF_TEST_RECORD:+--record} \
    dist/test/integration $( [ -d dist/test/compat ] && echo dist/test/compat )
  int_rc=$?
else
  echo "test.sh: unit tier failed: integration tier not run"
fi

count() { cat "$unit_tap" "$int_tap" | awk -v k="$1" '$1 == "#" && $2 == k { n += $3 } END { print n + 0 }'; }
tests=$(count tests); pass=$(count pass); fail=$(count fail); skipped=$(count skipped); todo=$(count todo); cancelled=$(count cancelled)
line="$tests tests, $pass passed, $fail failed, $cancelled cancelled, $skipped skipped, $todo todo"
rc=0
[ $unit_rc -eq 0 ] && [ $int_rc -eq 0 ] || rc=1
if [ $rc -eq 0 ]; then summary "PASS: $line"; else summary "FAIL (unit exit $unit_rc, integration exit $int_rc): $line"; fi
echo "wharf: $pass passed, $fail failed"
exit $rc
