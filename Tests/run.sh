#!/usr/bin/env bash
# The test command (README quick start; .ci/run runs it): installs what the tests need, starts a
# throwaway PostgreSQL cluster on 127.0.0.1 so the PostgreSQL backend is tested too, then runs
# the whole suite. Extra arguments go to `swift test` (e.g. --filter RouterTests).
set -euo pipefail
cd "$(dirname "$0")/.."
Samples/install-deps.sh
# schemathesis fuzzes the live server from Protocol/openapi.yaml (PyPI).
command -v schemathesis >/dev/null || python3 -m pip install -q schemathesis >/dev/null 2>&1 || echo "could not install schemathesis: its test will say it was skipped" >&2
eval "$(Tests/postgres.sh start)"
trap 'Tests/postgres.sh stop' EXIT
swift build --build-tests
# In parallel: engine behaviour runs in process (no sockets), the process-level suites wait for
# their children without blocking Swift's cooperative threads, so the suites share even 2 cores.
swift test --skip-build "$@"
