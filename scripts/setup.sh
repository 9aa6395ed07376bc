#!/usr/bin/env bash
# Quick start: installs what Wharf needs, builds it, starts wharfd in the background (if it is
# not already running), makes the busybox image, and runs a first container.
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
cd "$ROOT"

SOCKET=/run/wharf.sock
PIDFILE=/run/wharf.pid
LOG=/var/log/wharfd.log

if [ "$(id -u)" != 0 ]; then
  echo "scripts/setup.sh: must run as root (wharfd manages mounts, namespaces and cgroups)" >&2
  exit 1
fi

bash scripts/deps.sh
# Re-running setup rebuilds nothing that is up to date.
if [ ! -d node_modules ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  npm ci --no-audit --no-fund
fi
if [ ! -f dist/cli/wharf.cjs ] || [ ! -f dist/daemon/main.js ] || [ ! -f dist/daemon/wharf-spawn ] || [ -n "$(find src scripts/bundle-cli.mjs scripts/bundle-daemon.mjs package.json tsconfig.json -newer dist/cli/wharf.cjs -print -quit)" ] || [ -n "$(find src scripts/bundle-daemon.mjs -newer dist/daemon/main.js -print -quit)" ]; then
  npm run build
fi

# `wharf` and `wharfd` on PATH. `wharf` is a link to the launcher, itself a shell script first
# (bin/wharf.cjs); wharfd a small wrapper with glibc's malloc arenas bounded, as the systemd unit
# starts it (wharfd.service.in).
rm -f /usr/local/bin/wharf
ln -s "$ROOT/bin/wharf.cjs" /usr/local/bin/wharf
printf '#!/bin/sh\nexec env MALLOC_ARENA_MAX=2 node %s/dist/daemon/main.js "$@"\n' "$ROOT" >/usr/local/bin/wharfd
chmod 755 /usr/local/bin/wharfd

getent group wharf >/dev/null || groupadd --system wharf

ping_daemon() {
  curl -sf --max-time 2 --unix-socket "$SOCKET" http://localhost/_ping >/dev/null 2>&1
}

# Where systemd runs, wharfd is a service that comes back after a reboot (contrib/systemd).
UNIT=/etc/systemd/system/wharfd.service
SOCKET_UNIT=/etc/systemd/system/wharfd.socket
if [ -d /run/systemd/system ]; then
  sed -e "s|@NODE@|$(command -v node)|" -e "s|@ROOT@|$ROOT|" contrib/systemd/wharfd.service.in >"$UNIT.new"
  changed=
  if ! cmp -s "$UNIT.new" "$UNIT"; then mv "$UNIT.new" "$UNIT"; changed=1; else rm -f "$UNIT.new"; fi
  if ! cmp -s contrib/systemd/wharfd.socket "$SOCKET_UNIT"; then cp contrib/systemd/wharfd.socket "$SOCKET_UNIT"; changed=1; fi
  [ -z "$changed" ] || systemctl daemon-reload
  systemctl enable wharfd.socket wharfd.service >/dev/null 2>&1
fi

if ping_daemon; then
  echo "setup: wharfd already running on $SOCKET"
elif [ -d /run/systemd/system ]; then
  echo "setup: starting wharfd.service (logs: journalctl -u wharfd)"
  systemctl start wharfd.service
  deadline=$((SECONDS + 30))
  until ping_daemon; do
    if [ $SECONDS -ge $deadline ]; then
      echo "setup: wharfd did not answer on $SOCKET within 30 s; see journalctl -u wharfd" >&2
      exit 1
    fi
    sleep 0.1
  done
else
  if [ -f "$PIDFILE" ] && kill -0 "$(cat "$PIDFILE")" 2>/dev/null; then
    echo "setup: wharfd (pid $(cat "$PIDFILE")) is running but does not answer on $SOCKET; see $LOG" >&2
    exit 1
  fi
  echo "setup: starting wharfd (log: $LOG)"
  setsid nohup node "$ROOT/dist/daemon/main.js" >>"$LOG" 2>&1 </dev/null &
  deadline=$((SECONDS + 30))
  until ping_daemon; do
    if [ $SECONDS -ge $deadline ]; then
      echo "setup: wharfd did not answer on $SOCKET within 30 s; last log lines:" >&2
      tail -n 20 "$LOG" >&2
      exit 1
    fi
    sleep 0.1
  done
fi

bash scripts/make-busybox-image.sh
wharf run --rm busybox echo hello
