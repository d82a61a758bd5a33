#!/usr/bin/env python3
"""Container health check without curl: GET a URL and exit 0 on a 2xx answer, else 1.

The URL is the first argument, else ``HEALTHCHECK_URL``, else
``http://127.0.0.1:$PORT/healthz`` (the HTTP processes). Relays and consumers set
``HEALTHCHECK_URL`` to their ``http://127.0.0.1:$METRICS_PORT/metrics``; with
``HEALTHCHECK_EXPECT`` the body must also contain that text (a consumer's
``dead_letter_queue_depth`` appears once it has declared its queue)."""
import os
import sys
import urllib.request


def main() -> int:
    url = (sys.argv[1] if len(sys.argv) > 1 else None) or os.environ.get("HEALTHCHECK_URL") \
        or f"http://127.0.0.1:{os.environ.get('PORT', '8000')}/healthz"
    expect = os.environ.get("HEALTHCHECK_EXPECT", "")
    try:
        with urllib.request.urlopen(url, timeout=float(os.environ.get("HEALTHCHECK_TIMEOUT", "3"))) as resp:
            body = resp.read().decode("utf-8", "replace")
            if not 200 <= resp.status < 300:
                print(f"unhealthy: {url}: HTTP {resp.status}", file=sys.stderr)
                return 1
    except Exception as exc:  # noqa: BLE001 - any failure is "unhealthy"
        print(f"unhealthy: {url}: {exc}", file=sys.stderr)
        return 1
    if expect and expect not in body:
        print(f"unhealthy: {url}: no {expect!r} yet", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
