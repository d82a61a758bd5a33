"""``gateway serve [gunicorn args]``: the gateway under gunicorn (PORT, else GATEWAY_PORT,
else 8080; GUNICORN_THREADS defaults to 16 here)."""
from __future__ import annotations

import os
import sys

APP = "gateway.app:create_app()"


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if not argv or argv[0] != "serve":
        print("usage: gateway serve [gunicorn options]", file=sys.stderr)
        return 2
    os.environ.setdefault("PORT", os.environ.get("GATEWAY_PORT") or "8080")
    # A proxy thread mostly waits on sockets (and long downloads hold one), so more threads
    # per worker than the services' default of 4.
    os.environ.setdefault("GUNICORN_THREADS", "16")
    os.execvp(sys.executable, [sys.executable, "-m", "gunicorn", "-c", "python:crm_common.gunicorn_conf",
                               *argv[1:], APP])
    return 0  # not reached


if __name__ == "__main__":
    raise SystemExit(main())
