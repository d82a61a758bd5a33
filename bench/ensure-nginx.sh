#!/usr/bin/env bash
# `make bench`: the gateway section measures nginx proxying the same request as its
# baseline. Find nginx, or install Debian's nginx-light when apt can (without letting the
# package start its system service on port 80), or say clearly that the rows will be missing.
set -u
if command -v nginx >/dev/null 2>&1 || [ -x /usr/sbin/nginx ]; then
    exit 0
fi
install() {
    DEBIAN_FRONTEND=noninteractive RUNLEVEL=1 apt-get install -y -q --no-install-recommends nginx-light \
        >/tmp/ensure-nginx.log 2>&1
}
if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    echo "make bench: nginx not found; installing Debian's nginx-light for the gateway's baseline row"
    if install || { apt-get update -q >/tmp/ensure-nginx.log 2>&1 && install; }; then
        exit 0
    fi
fi
echo "make bench: nginx is not installed and could not be installed (apt-get install nginx-light;" \
     "see /tmp/ensure-nginx.log): the nginx baseline rows will say 'not available'" >&2
exit 0
