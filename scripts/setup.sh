#!/usr/bin/env bash
# Installs everything the package and its test suite need on a fresh Debian machine: the
# package with every extra the tests use, and Debian's Chromium for the report's browser test
# (Chromium's own downloads are not reachable here; the distribution's package is).
set -euo pipefail
cd "$(dirname "$0")/.."
if ! command -v chromium >/dev/null; then
    if [ "$(id -u)" -eq 0 ]; then
        apt-get update -qq && apt-get install -y -qq chromium >/dev/null
    else
        sudo apt-get update -qq && sudo apt-get install -y -qq chromium >/dev/null
    fi
fi
pip install -e ".[dev]"
