#!/usr/bin/env bash
# Installs the Debian packages ButlerSync builds and tests against, when they are missing.
# Used by Samples/demo.sh and Tests/run.sh; safe to run again.
set -euo pipefail

packages=(libsqlite3-dev libcurl4-openssl-dev curl)
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "installing: ${missing[*]}" >&2
  as_root=()
  [ "$(id -u)" -eq 0 ] || as_root=(sudo)
  "${as_root[@]}" apt-get update -qq
  DEBIAN_FRONTEND=noninteractive "${as_root[@]}" apt-get install -y -qq "${missing[@]}" >/dev/null
fi
command -v swift >/dev/null || { echo "swift is not on PATH: install Swift 6.3 (https://swift.org/install) first" >&2; exit 1; }
