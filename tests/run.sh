#!/usr/bin/env bash
# The test command (README "Run the tests"; CI runs exactly this through .ci/run).
# Installs what the suite needs on a fresh Debian machine, then runs pytest.
set -euo pipefail
cd "$(dirname "$0")/.."

need_apt=()
command -v patch >/dev/null || need_apt+=(patch)
command -v git >/dev/null || need_apt+=(git)
if [ ${#need_apt[@]} -gt 0 ]; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need_apt[@]}"
  else
    echo "tests need: ${need_apt[*]} (install them, then re-run)" >&2
    exit 2
  fi
fi

PY=${PYTHON:-python3}
"$PY" -m pip install -q -e '.[dev,postgres,ray]'  # postgres: psycopg for the store tests; ray: the Ray executor's tests run a real local cluster
if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
  # CI (root on Debian): set up Docker and bubblewrap, and make their tests mandatory.
  # The sandbox image gets a tag of this checkout's own, so another checkout that builds the
  # shared tag (a second clone, a worktree) meanwhile cannot make this suite's image stale.
  export EVOLVE_SANDBOX_IMAGE=${EVOLVE_SANDBOX_IMAGE:-evolve-sandbox:test-$(pwd -P | sha1sum | cut -c1-12)}
  bash tests/setup_sandboxes.sh "$PY"
  export EVOLVE_REQUIRE_SANDBOXES=1
  # A real PostgreSQL server (Debian's package, started by hand) for the store tests, made mandatory.
  EVOLVE_TEST_POSTGRES_URL=$(bash tests/setup_postgres.sh)
  export EVOLVE_TEST_POSTGRES_URL EVOLVE_REQUIRE_POSTGRES=1
  export EVOLVE_REQUIRE_RAY=1  # the Ray executor's tests must run here, not skip
  # The report's browser test: Debian's Chromium, driven by Playwright (whose own browser download
  # is not used); the test saves its screenshots under runs/artifacts/.
  if ! command -v chromium >/dev/null; then
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null
  fi
  export EVOLVE_REQUIRE_BROWSER=1
fi
exec "$PY" -m pytest -q "$@"
