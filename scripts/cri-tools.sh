#!/usr/bin/env bash
# Prints the directory holding crictl and critest (cri-tools v1.29.0), building them when needed:
# $CRI_TOOLS_DIR if it has them, else the cache /var/cache/cri-tools/v1.29.0, else the result of
# the shared build script (../shared/cri-tools/build.sh next to the repository, or
# /work/shared/cri-tools/build.sh), which builds them offline with Debian's Go (2-3 minutes).
set -euo pipefail
cd "$(dirname "$0")/.."

has_tools() { [ -x "$1/crictl" ] && [ -x "$1/critest" ]; }
found() {
  for dir in "${CRI_TOOLS_DIR:-}" /var/cache/cri-tools/v1.29.0; do
    if [ -n "$dir" ] && has_tools "$dir"; then
      echo "$dir"
      exit 0
    fi
  done
}

found
# Test files run side by side and each may ask for the tools on a fresh machine: one builds them
# (the build installs Go with apt-get, which another apt-get would find locked), the others wait
# for it and take the cache.
exec 9>/var/lock/wharf-cri-tools.lock
flock 9
found

for build in ../shared/cri-tools/build.sh /work/shared/cri-tools/build.sh; do
  if [ -f "$build" ]; then
    dir=$(bash "$build" | tail -n 1)
    if has_tools "$dir"; then
      echo "$dir"
      exit 0
    fi
    echo "scripts/cri-tools.sh: $build did not produce crictl and critest in '$dir'" >&2
    exit 1
  fi
done

echo "scripts/cri-tools.sh: no crictl/critest found: set CRI_TOOLS_DIR, or provide ../shared/cri-tools/build.sh (cri-tools v1.29.0 source)" >&2
exit 1
