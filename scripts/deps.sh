#!/usr/bin/env bash
# Installs the Debian packages Wharf and its tests need. Idempotent and fast when everything is
# present: only missing packages are installed, and `apt-get update` runs only if one is missing.
set -euo pipefail

PACKAGES=(
  runc conmon tini catatonit      # OCI runtime, supervisor, init for --init
  busybox-static                  # the test image is built from /usr/bin/busybox
  iproute2 iptables util-linux    # networking (ip, iptables and ip6tables, nsenter), mount/umount
  attr procps                     # getfattr (tests read xattrs back), ps (top)
  zstd xz-utils openssl bsdutils  # zstd and xz layers (ADD of .tar.xz), registry TLS certs, `script` (tty tests)
  docker-registry apache2-utils   # local registry for pull/push tests (127.0.0.1 only), htpasswd
  debootstrap skopeo              # Debian base + nginx test images; skopeo compat tests
  curl                            # setup.sh pings the socket
  git                             # git build contexts (remote=git://…, wharf build <git url>)
  time                            # GNU time: a test measures wharf cp's peak memory
  socat                           # CRI port forward: relays a stream into a pod sandbox's netns
  docker-compose                  # compose v1 compatibility test (test/integration/compose.test.ts)
  python3                         # a SOCK_SEQPACKET peer that conmon's attach tests need (Node cannot serve one)
  gcc libc6-dev                   # the build compiles wharfd's spawn helper (src/native/wharf-spawn.c)
  ca-certificates
)

if [ "$(id -u)" != 0 ]; then
  echo "scripts/deps.sh: must run as root to install packages" >&2
  exit 1
fi

missing=()
for pkg in "${PACKAGES[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q 'install ok installed'; then
    missing+=("$pkg")
  fi
done

if [ ${#missing[@]} -eq 0 ]; then
  exit 0
fi

echo "scripts/deps.sh: installing ${missing[*]}" >&2
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${missing[@]}" >&2

# The Debian docker-registry package starts a registry on :5000 by default; tests run their own.
if [[ " ${missing[*]} " == *" docker-registry "* ]] && command -v systemctl >/dev/null 2>&1; then
  systemctl disable --now docker-registry >/dev/null 2>&1 || true
fi
