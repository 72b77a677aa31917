#!/usr/bin/env bash
# The test command (README quick start; .ci/run runs it): installs what the tests need, starts a
# throwaway PostgreSQL cluster on 127.0.0.1 so the PostgreSQL backend is tested too, then runs
# the whole suite. Extra arguments go to `swift test` (e.g. --filter RouterTests).
set -euo pipefail
cd "$(dirname "$0")/.."
# The real-process run (JepsenTests) builds its own network namespaces (iproute2; nftables for
# packet loss where the kernel has no netem) and shifts device clocks (libfaketime): optional
# extras, so the demo, which uses install-deps.sh too, does not need them.
Samples/install-deps.sh iproute2 nftables faketime
# schemathesis fuzzes the live server from Protocol/openapi.yaml (PyPI).
command -v schemathesis >/dev/null || python3 -m pip install -q schemathesis >/dev/null 2>&1 || echo "could not install schemathesis: its test will say it was skipped" >&2
# The screens (issue 16) are tested in a real browser: headless Chromium driven by selenium (PyPI);
# a CJK font so the screenshots show the Chinese labels.
Samples/install-deps.sh chromium chromium-driver fonts-wqy-zenhei
python3 -c "import selenium" 2>/dev/null || python3 -m pip install -q selenium >/dev/null 2>&1 || echo "could not install selenium: the browser tests will say they were skipped" >&2
eval "$(Tests/postgres.sh start)"
trap 'Tests/postgres.sh stop' EXIT
swift build --build-tests
# In parallel: engine behaviour runs in process (no sockets), the process-level suites wait for
# their children without blocking Swift's cooperative threads, so the suites share even 2 cores.
swift test --skip-build "$@"
# The deterministic simulation at scale (issue 14): 10^5 simulated device-hours from one seed in a
# release build, every fault on, checked by the independent reference. Only for the whole suite
# (not with a --filter); BUTLER_SIM_SEED picks another seed, BUTLER_SIM_SKIP=1 leaves it out.
if [ $# -eq 0 ] && [ "${BUTLER_SIM_SKIP:-0}" != 1 ]; then
  swift build -c release --scratch-path .build-release --product butler-sim
  .build-release/release/butler-sim --seed "${BUTLER_SIM_SEED:-42}" --hours 6250 --devices 16 --nodes 2
fi
