#!/usr/bin/env bash
# The web page's browser test (tests/test_web.py) drives Debian's Chromium through chromedriver
# (/usr/bin/chromium, /usr/bin/chromedriver). Installs the packages chromium and chromium-driver when
# either is missing (with sudo when not root); does nothing when both are there.
set -euo pipefail
if [ -x /usr/bin/chromium ] && [ -x /usr/bin/chromedriver ]; then
  exit 0
fi
if ! command -v apt-get >/dev/null 2>&1; then
  echo "error: the browser test needs /usr/bin/chromium and /usr/bin/chromedriver; install Chromium and" \
       "its chromedriver (Debian packages: chromium, chromium-driver)" >&2
  exit 1
fi
sudo=""
[ "$(id -u)" -eq 0 ] || sudo="sudo"
echo "Installing chromium and chromium-driver (for the browser test) ..." >&2
$sudo env DEBIAN_FRONTEND=noninteractive apt-get update -qq
$sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium chromium-driver
