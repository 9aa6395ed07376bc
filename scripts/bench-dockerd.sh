#!/usr/bin/env bash
# Starts (start DIR) or stops (stop DIR) a Docker engine for the bench's comparisons, isolated from
# the host's: its own data root, exec root and socket under DIR, no iptables rules and no docker0
# bridge (--iptables=false --bridge=none), so it changes nothing another engine or test relies on.
# Needs Debian's docker.io (`apt-get install docker.io`; the bench runs without it). On start it
# prints the DOCKER_HOST to use and loads busybox:latest, made from the host's busybox-static.
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
cmd=${1:?start|stop} dir=${2:?DIR}
sock="$dir/docker.sock"
case "$cmd" in
start)
  mkdir -p "$dir"
  dockerd --data-root "$dir/data" --exec-root "$dir/exec" -H "unix://$sock" --pidfile "$dir/dockerd.pid" \
    --iptables=false --ip6tables=false --bridge=none --containerd-namespace wharf-bench \
    >"$dir/dockerd.log" 2>&1 &
  for _ in $(seq 1 300); do
    docker -H "unix://$sock" version >/dev/null 2>&1 && break
    kill -0 $! 2>/dev/null || { echo "bench-dockerd: dockerd exited: $(tail -3 "$dir/dockerd.log")" >&2; exit 1; }
    sleep 0.1
  done
  WHARF="docker -H unix://$sock" bash "$ROOT/scripts/make-busybox-image.sh" >/dev/null
  echo "unix://$sock"
  ;;
stop)
  pid=$(cat "$dir/dockerd.pid" 2>/dev/null || true)
  if [ -n "$pid" ]; then
    kill "$pid" 2>/dev/null || true
    for _ in $(seq 1 300); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
  fi
  # dockerd leaves its exec-root mounts (netns, containerd state) when killed hard.
  grep -o " $dir[^ ]*" /proc/self/mountinfo | sort -r | xargs -r -n1 umount -l 2>/dev/null || true
  rm -rf "$dir"
  ;;
esac
