#!/usr/bin/env bash
# Builds Jupiter and runs its demo program (examples/jupiter-demo.c), which
# embeds a JupiterJobManager, submits a handful of jobs and prints every
# signal as one line.
#
# On a fresh Debian 12 machine, as root (or with sudo):
#     bash examples/demo.sh
# Installs what is missing with apt-get, configures build-demo/ in the source
# tree once, and rebuilds only what changed; a second run takes seconds.
set -euo pipefail

src=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
build="$src/build-demo"
log() { echo "demo.sh: $*" >&2; }

packages=(meson ninja-build pkg-config gcc libglib2.0-dev libjson-glib-dev libyaml-dev)
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'ok installed' || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  if [ "$(id -u)" -ne 0 ]; then
    log "missing packages: ${missing[*]}; run as root (sudo bash examples/demo.sh)"
    exit 1
  fi
  log "installing ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

# The test suites are not needed to run the demo; leaving them out keeps the
# first build short.
if [ ! -f "$build/build.ninja" ]; then
  log "configuring $build"
  meson setup "$build" "$src" -Dtests=false >/dev/null
fi
log "building"
ninja -C "$build" examples/jupiter-demo >/dev/null

exec "$build/examples/jupiter-demo"
