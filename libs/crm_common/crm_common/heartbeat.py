"""Liveness of the background loops (outbox relay, event consumer).

Each turn of a loop, idle, standing by or waiting to reconnect included, calls
``Heartbeat.beat()``, which touches the file named by ``HEARTBEAT_FILE``. A loop that is
stuck (a handler that never returns, a query waiting on a lock) stops touching it, and the
liveness probe ``crm-healthcheck --heartbeat FILE --max-age SECONDS``
(``deploy/docker/healthcheck.py``) fails once the file is older than ``SECONDS``; a metrics
server that still answers does not hide it. Without ``HEARTBEAT_FILE`` (``make run``,
tests) nothing is written."""
from __future__ import annotations

import os
import time
from pathlib import Path

from . import logs

log = logs.get_logger("crm.heartbeat")

HEARTBEAT_FILE = "HEARTBEAT_FILE"


class Heartbeat:
    """Touches ``path`` at most once per ``min_interval`` seconds (loops turn up to 20
    times a second; the probe needs seconds, not milliseconds)."""

    def __init__(self, path: str | os.PathLike | None, min_interval: float = 1.0):
        self.path = Path(path) if path else None
        self.min_interval = min_interval
        self._last = float("-inf")
        self._failing = False

    @classmethod
    def from_env(cls, environ: dict | None = None) -> "Heartbeat":
        return cls((os.environ if environ is None else environ).get(HEARTBEAT_FILE) or None)

    def beat(self) -> None:
        if self.path is None:
            return
        now = time.monotonic()
        if now - self._last < self.min_interval:
            return
        try:
            self.path.touch()  # creates the file, or moves its modification time to now
        except OSError as exc:
            # The probe will fail and restart the process; say why once, not every turn.
            if not self._failing:
                log.error("heartbeat_unwritable", path=str(self.path), error=str(exc))
            self._failing = True
            return
        self._failing = False
        self._last = now

