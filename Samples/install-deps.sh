#!/usr/bin/env bash
# Installs the Debian packages ButlerSync builds and tests against, when they are missing.
# Used by Samples/demo.sh and Tests/run.sh; safe to run again. Packages named as arguments are
# optional extras (Tests/run.sh names what only some tests need): when they cannot be installed,
# it says so and goes on, and the tests that need them say what they skipped.
set -euo pipefail

install_missing() {
  local missing=() p
  for p in "$@"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
  done
  [ ${#missing[@]} -eq 0 ] && return 0
  echo "installing: ${missing[*]}" >&2
  local as_root=()
  [ "$(id -u)" -eq 0 ] || as_root=(sudo)
  "${as_root[@]}" apt-get update -qq && DEBIAN_FRONTEND=noninteractive "${as_root[@]}" apt-get install -y -qq "${missing[@]}" >/dev/null
}

install_missing libsqlite3-dev libcurl4-openssl-dev zlib1g-dev curl
if [ $# -gt 0 ]; then
  install_missing "$@" || echo "could not install $*: the tests that need them will say what they skipped" >&2
fi
command -v swift >/dev/null || { echo "swift is not on PATH: install Swift 6.3 (https://swift.org/install) first" >&2; exit 1; }
