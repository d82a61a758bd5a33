#!/usr/bin/env python3
"""Container health check without curl; exit 0 when healthy, else 1 (with the reason on stderr).

``crm-healthcheck [URL]``: GET the URL and expect a 2xx answer. The URL is the argument,
else ``HEALTHCHECK_URL``, else ``http://127.0.0.1:$PORT/healthz`` (the HTTP processes).
With ``HEALTHCHECK_EXPECT`` the body must also contain that text (a consumer's
``dead_letter_queue_depth`` appears on its metrics port once it has declared its queue:
its readiness).

``crm-healthcheck --heartbeat [FILE] --max-age SECONDS``: the liveness of a relay, a
consumer or webhook-service's delivery worker. Their loops touch ``HEARTBEAT_FILE`` on
every turn, idle, standing by or reconnecting included (``crm_common.heartbeat``); a file
older than ``SECONDS`` (default ``HEARTBEAT_MAX_AGE``, else 60), or none yet, means the loop
is stuck. FILE defaults to ``HEARTBEAT_FILE``."""
import argparse
import os
import sys
import time
import urllib.request


def check_url(url: str) -> int:
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


def check_heartbeat(path: str, max_age: float) -> int:
    try:
        age = time.time() - os.stat(path).st_mtime
    except FileNotFoundError:
        print(f"unhealthy: no heartbeat at {path} yet", file=sys.stderr)
        return 1
    if age > max_age:
        print(f"unhealthy: heartbeat {path} is {age:.0f}s old (limit {max_age:g}s): the loop is stuck",
              file=sys.stderr)
        return 1
    return 0


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="crm-healthcheck", description=__doc__.split("\n\n")[0])
    parser.add_argument("url", nargs="?", help="URL to GET (HTTP mode)")
    parser.add_argument("--heartbeat", nargs="?", const="", metavar="FILE",
                        help="check a worker's heartbeat file instead (default: $HEARTBEAT_FILE)")
    parser.add_argument("--max-age", type=float, metavar="SECONDS",
                        default=float(os.environ.get("HEARTBEAT_MAX_AGE") or 60),
                        help="oldest acceptable heartbeat (default: $HEARTBEAT_MAX_AGE or 60)")
    args = parser.parse_args(argv)
    if args.heartbeat is not None:
        path = args.heartbeat or os.environ.get("HEARTBEAT_FILE", "")
        if not path:
            parser.error("--heartbeat needs a FILE or HEARTBEAT_FILE")
        return check_heartbeat(path, args.max_age)
    url = args.url or os.environ.get("HEALTHCHECK_URL") \
        or f"http://127.0.0.1:{os.environ.get('PORT', '8000')}/healthz"
    return check_url(url)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
