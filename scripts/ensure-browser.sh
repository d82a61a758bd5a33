#!/usr/bin/env bash
# Debian's Chromium for the browser tests (/docs offline, the dashboard), and a CJK font so
# that their screenshots show the Chinese labels, installed from Debian's packages when
# missing; never a browser download from a test tool. Idempotent.
set -u

has_cjk_font() { fc-list :lang=zh family 2>/dev/null | grep -q . || dpkg -s fonts-wqy-microhei >/dev/null 2>&1; }

missing=()
command -v chromium >/dev/null 2>&1 || missing+=(chromium chromium-driver)
has_cjk_font || missing+=(fonts-wqy-microhei)
if [ ${#missing[@]} -gt 0 ] && [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
  echo "Chromium: installing Debian's ${missing[*]}"
  DEBIAN_FRONTEND=noninteractive apt-get install -y -q "${missing[@]}" >/dev/null 2>&1 \
    || { DEBIAN_FRONTEND=noninteractive apt-get update -q >/dev/null 2>&1 \
         && DEBIAN_FRONTEND=noninteractive apt-get install -y -q "${missing[@]}" >/dev/null 2>&1; }
fi
has_cjk_font || echo "Chromium: no CJK font (apt-get install fonts-wqy-microhei); screenshots show boxes for Chinese" >&2
command -v chromium >/dev/null 2>&1 && { echo "Chromium: $(chromium --version 2>/dev/null | head -n1)"; exit 0; }
echo "Chromium: NOT available (apt-get install chromium); the browser tests will fail" >&2
exit 1
