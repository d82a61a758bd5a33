#!/usr/bin/env bash
# Debian's Chromium for the browser tests (/docs offline, the dashboard), installed from
# Debian's packages when missing; never a browser download from a test tool.
set -u
if command -v chromium >/dev/null 2>&1; then
  echo "Chromium: $(chromium --version 2>/dev/null | head -n1)"
  exit 0
fi
if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
  echo "Chromium: installing Debian's chromium"
  DEBIAN_FRONTEND=noninteractive apt-get install -y -q chromium chromium-driver >/dev/null 2>&1 \
    || { DEBIAN_FRONTEND=noninteractive apt-get update -q >/dev/null 2>&1 \
         && DEBIAN_FRONTEND=noninteractive apt-get install -y -q chromium chromium-driver >/dev/null 2>&1; }
fi
command -v chromium >/dev/null 2>&1 && { echo "Chromium: $(chromium --version | head -n1)"; exit 0; }
echo "Chromium: NOT available (apt-get install chromium); the browser tests will fail" >&2
exit 1
