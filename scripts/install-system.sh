#!/bin/sh
# System packages SeaSight's test suite needs beyond Python: Debian's chromium, which the
# Playwright browser tests drive (Playwright's own browser downloads are never used).
# Run by `make test`; does nothing when chromium is already there.
set -e
if [ -x /usr/bin/chromium ]; then
    exit 0
fi
if ! command -v apt-get >/dev/null 2>&1; then
    echo "seasight: no apt-get; install chromium yourself to run the browser tests" >&2
    exit 0
fi
SUDO=""
if [ "$(id -u)" -ne 0 ]; then
    SUDO="sudo"
fi
$SUDO apt-get install -y -qq chromium >/dev/null \
    || { $SUDO apt-get update -qq && $SUDO apt-get install -y -qq chromium >/dev/null; }
