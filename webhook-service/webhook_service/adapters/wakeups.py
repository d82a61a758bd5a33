"""New deliveries wake the delivery workers at once (PostgreSQL ``LISTEN``/``NOTIFY``)
instead of at their next poll; on SQLite, or while the listening connection is down, the
poll (``WEBHOOK_POLL_SECONDS``) still finds everything, only later."""
from __future__ import annotations

import select
import threading
from typing import Callable

import sqlalchemy as sa
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session

from crm_common import logs

CHANNEL = "webhook_deliveries"

log = logs.get_logger("webhook.wakeups")


def announce_new_deliveries(session: Session) -> None:
    """Tell listening workers, once the caller's transaction commits (PostgreSQL delivers a
    notification at commit, once per transaction and channel)."""
    if session.get_bind().dialect.name == "postgresql":
        session.execute(sa.text(f"NOTIFY {CHANNEL}"))


class DeliveryListener:
    """A thread holding one connection that ``LISTEN``s and calls ``on_new`` for each
    notification batch; it reconnects after a failure."""

    def __init__(self, engine: Engine, on_new: Callable[[], None], stop_event: threading.Event):
        self.engine, self.on_new, self.stop_event = engine, on_new, stop_event
        self.listening = threading.Event()
        self.thread = threading.Thread(target=self._run, name="deliver-listen", daemon=True)

    def start(self) -> "DeliveryListener":
        if self.engine.dialect.name == "postgresql":
            self.thread.start()
        return self

    def _run(self) -> None:
        while not self.stop_event.is_set():
            connection = None
            try:
                connection = self.engine.raw_connection()
                connection.dbapi_connection.autocommit = True
                raw = connection.dbapi_connection
                raw.cursor().execute(f"LISTEN {CHANNEL}")
                self.listening.set()
                self.on_new()  # anything announced while not listening
                while not self.stop_event.is_set():
                    if select.select([raw], [], [], 1.0)[0]:
                        raw.poll()
                        if raw.notifies:
                            raw.notifies.clear()
                            self.on_new()
            except Exception as exc:  # noqa: BLE001 - the poll covers the gap; listen again soon
                self.listening.clear()
                log.warning("deliver_listen_failed", error=type(exc).__name__)
                self.stop_event.wait(2.0)
            finally:
                if connection is not None:
                    connection.invalidate()  # never back into the pool in LISTEN state
                    connection.close()
