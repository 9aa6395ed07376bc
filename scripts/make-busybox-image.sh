#!/usr/bin/env bash
# Makes the busybox:latest image in a running wharfd from the host's busybox-static (nothing is
# downloaded). Idempotent: does nothing if the image already exists.
# Uses WHARF_HOST / DOCKER_HOST like the wharf CLI; WHARF overrides the CLI command.
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
WHARF=${WHARF:-"node $ROOT/bin/wharf.cjs"}
REF=${1:-busybox:latest}

if $WHARF image inspect "$REF" >/dev/null 2>&1; then
  echo "make-busybox-image: $REF already present"
  exit 0
fi
if [ ! -f "$ROOT/dist/test/fixtures/busybox.js" ]; then
  echo "make-busybox-image: build first (npx tsc -p .)" >&2
  exit 1
fi

# Same config as Docker Hub's busybox (see BUSYBOX_IMAGE_CHANGES in test/fixtures/busybox.ts).
node "$ROOT/dist/test/fixtures/busybox.js" - |
  $WHARF import \
    --change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
    --change 'CMD ["sh"]' \
    - "$REF"
echo "make-busybox-image: imported $REF"
