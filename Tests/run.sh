#!/usr/bin/env bash
# The test command (README quick start; .ci/run runs it): installs what the tests need, then runs them.
set -euo pipefail
cd "$(dirname "$0")/.."
Samples/install-deps.sh
swift build --build-tests
swift test --skip-build "$@"
