#!/usr/bin/env bash
# Prepares what the sandbox tests need, when missing: bubblewrap, a running Docker engine, a local
# Debian base image (no registry needed: debootstrap + docker import) and the sandbox image.
# Run by tests/run.sh as root on Debian (CI); elsewhere it only reports what is missing.
# Usage: bash tests/setup_sandboxes.sh PYTHON
set -euo pipefail
PY=${1:-python3}
BASE=${EVOLVE_BASE_IMAGE:-evolve-base:bookworm}
say() { echo "setup_sandboxes: $*" >&2; }

if [ "$(id -u)" != 0 ] || ! command -v apt-get >/dev/null; then
  say "not root on Debian: skipping set-up (sandbox tests skip what is missing here)"
  exit 0
fi

need=()
command -v bwrap >/dev/null || need+=(bubblewrap)
command -v dockerd >/dev/null || need+=(docker.io)
command -v debootstrap >/dev/null || need+=(debootstrap)
if [ ${#need[@]} -gt 0 ]; then
  say "installing ${need[*]}"
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need[@]}" >/dev/null
fi

if ! docker info >/dev/null 2>&1; then
  say "starting dockerd"
  (dockerd >/var/log/evolve-dockerd.log 2>&1 &)
  for _ in $(seq 1 60); do docker info >/dev/null 2>&1 && break; sleep 1; done
  docker info >/dev/null 2>&1 || { say "dockerd did not start; see /var/log/evolve-dockerd.log"; exit 1; }
fi

if ! docker image inspect "$BASE" >/dev/null 2>&1; then
  mirror=$(grep -rhoE '(https?://[^ ]+/debian)/?( |$)' /etc/apt/sources.list /etc/apt/sources.list.d/ 2>/dev/null | head -1 | tr -d ' ' || true)
  mirror=${mirror:-http://deb.debian.org/debian}
  root=$(mktemp -d /var/tmp/evolve-base.XXXXXX)
  say "building $BASE with debootstrap from $mirror"
  debootstrap --variant=minbase --include=python3,python3-numpy,python3-msgpack bookworm "$root" "$mirror" >"$root.log" 2>&1 \
    || { tail -20 "$root.log" >&2; exit 1; }
  tar -C "$root" -c . | docker import - "$BASE" >/dev/null
  rm -rf "$root" "$root.log"
fi

# Rebuilt when the image is missing or its evaluator/sandbox sources changed (layers are cached).
"$PY" - "$BASE" <<'PYEOF'
import sys
from sandboxes.container import docker_client
from sandboxes.image import build_image, image_status
client = docker_client()
if image_status(client).state != "ok":
    print(f"setup_sandboxes: building the sandbox image from {sys.argv[1]}", file=sys.stderr)
    build_image(client, base_image=sys.argv[1])
PYEOF
say "ready (docker + bwrap)"
