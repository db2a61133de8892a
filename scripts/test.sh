#!/usr/bin/env bash
# Runs ganblocks' tests on a fresh machine: all of the set-up, then the suite.
#
#   scripts/test.sh                      # the whole suite, as CI runs it
#   scripts/test.sh tests/test_hinge.py  # extra arguments go to pytest
#
# 1. The browser tests (tests/test_serve_browser.py, tests/test_bench_serve.py) drive the system's
#    headless Chromium: /usr/bin/chromium and /usr/bin/chromedriver, from Debian's `chromium` and
#    `chromium-driver` packages ($CHROMIUM and $CHROMEDRIVER name other paths). When they are
#    missing they are installed with apt-get (through sudo when not root). Where that cannot be
#    done (no apt-get, no root and no password-less sudo, or GANBLOCKS_NO_APT=1) one line says so
#    and the browser tests are skipped. When the browser is there, GANBLOCKS_REQUIRE_BROWSER=1 is
#    exported, and a browser test that cannot find it fails instead of skipping; a caller that
#    exports GANBLOCKS_REQUIRE_BROWSER=1 itself (CI does) gets a failing browser test, never a
#    skipped one.
# 2. pip install -e ".[test,example]" with the `pip` on PATH.
# 3. HF_HUB_OFFLINE=1 HYPOTHESIS_PROFILE=ci python -m pytest -n 2, plus the arguments given.
set -euo pipefail
cd "$(dirname "$0")/.."

chromium="${CHROMIUM:-/usr/bin/chromium}"
chromedriver="${CHROMEDRIVER:-/usr/bin/chromedriver}"
have_browser() { [ -x "$chromium" ] && [ -x "$chromedriver" ]; }

if ! have_browser; then
  why="" sudo=""
  if [ "${GANBLOCKS_NO_APT:-0}" = 1 ]; then
    why="GANBLOCKS_NO_APT=1"
  elif ! command -v apt-get >/dev/null 2>&1; then
    why="no apt-get: not a Debian-like system"
  elif [ "$(id -u)" -ne 0 ]; then
    if command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then
      sudo="sudo"
    else
      why="not root, and no password-less sudo"
    fi
  fi
  if [ -z "$why" ]; then
    echo "scripts/test.sh: installing chromium and chromium-driver with apt-get (for the browser tests)" >&2
    if ! { $sudo env DEBIAN_FRONTEND=noninteractive apt-get update -qq &&
           $sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
             chromium chromium-driver >/dev/null; }; then
      why="apt-get install chromium chromium-driver failed"
    elif ! have_browser; then
      why="apt-get installed no $chromium and $chromedriver"
    fi
  fi
  if [ -n "$why" ]; then
    echo "scripts/test.sh: the browser tests will be skipped: no $chromium and $chromedriver ($why)" >&2
  fi
fi
if have_browser; then
  export GANBLOCKS_REQUIRE_BROWSER=1
fi

pip install -e ".[test,example]"
HF_HUB_OFFLINE=1 HYPOTHESIS_PROFILE=ci python -m pytest -n 2 "$@"
