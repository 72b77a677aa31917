#!/usr/bin/env bash
# The test command (README quick start; .ci/run runs it): installs what the tests need, then runs them.
set -euo pipefail
cd "$(dirname "$0")/.."
Samples/install-deps.sh
swift build --build-tests
# One test at a time: the end-to-end suites start real processes and time real transfers, and on a
# 2-core machine parallel CPU-bound property tests would starve them.
swift test --skip-build --no-parallel "$@"
