#!/usr/bin/env bash
# The quick-start demo: builds ButlerSync and plays two butlers' conflicting patrol of one stairwell.
set -euo pipefail
cd "$(dirname "$0")/.."
Samples/install-deps.sh
swift build --product butler >&2
exec .build/debug/butler demo
