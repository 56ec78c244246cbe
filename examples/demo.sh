#!/usr/bin/env bash
# The demo behind the README's first command: installs what is missing,
# builds Jupiter, and runs the host once on examples/host.yaml with the
# bundled plugins, so you see plugins load, jobs run with progress, exec's
# circuit breaker open, and the export file written.
#
# On a fresh Debian 12 machine, as root (or with sudo):
#     bash examples/demo.sh            # or: bash examples/demo.sh examples/host.json
# Installs what is missing with apt-get, configures build-demo/ in the source
# tree once, and rebuilds only what changed; a second run takes seconds.
set -euo pipefail

src=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
build="$src/build-demo"
config=${1:-examples/host.yaml}
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
ninja -C "$build" >/dev/null

# The config's relative paths (the export) are relative to the config file;
# the checksum job's path is relative to the working directory: the source
# root.
cd "$src"
# A fresh export directory, so that what is reported below is this run's.
rm -rf examples/jupiter-export
log "running: jupiter-host --once --config $config (plugins from $build/plugins)"
status=0
"$build/host/jupiter-host" --once --config "$config" \
  --plugin-dir "$build/plugins/echo" \
  --plugin-dir "$build/plugins/checksum" \
  --plugin-dir "$build/plugins/exec" || status=$?

# jupiter-host --once exits 1 when a startup job failed: here that is the
# point (exec refuses two commands and its breaker opens).
for f in examples/jupiter-export/host-jobs.json examples/jupiter-export/host-jobs.yaml; do
  [ -f "$f" ] && log "export written: $f ($(wc -c <"$f") bytes)"
done
case $status in
  0) log "jupiter-host exited 0: every job completed" ;;
  1) log "jupiter-host exited 1: some jobs failed — in this example, on purpose (exec refuses two commands and its breaker opens); the log above says which" ;;
  *) log "jupiter-host exited $status (see 'Exit codes' in README.md)"; exit "$status" ;;
esac
