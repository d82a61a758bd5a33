"""``gateway serve [gunicorn args]``: the gateway under gunicorn (PORT, else GATEWAY_PORT,
else 8080), with its own worker class (``gateway.worker.GatewayWorker``: one event loop
per worker process, ``server.py``)."""
from __future__ import annotations

import os
import sys

APP = "gateway.server:create_handler"
WORKER_CLASS = "gateway.worker.GatewayWorker"


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if not argv or argv[0] != "serve":
        print("usage: gateway serve [gunicorn options]", file=sys.stderr)
        return 2
    os.environ.setdefault("PORT", os.environ.get("GATEWAY_PORT") or "8080")
    os.execvp(sys.executable, [sys.executable, "-m", "gunicorn", "-c", "python:crm_common.gunicorn_conf",
                               "--worker-class", WORKER_CLASS, *argv[1:], APP])
    return 0  # not reached


if __name__ == "__main__":
    raise SystemExit(main())
