"""The transactional-outbox relay (CONTRACT §5): publishes outbox rows to the ``crm.events``
topic exchange in id order, with publisher confirms, and marks rows sent only after the
broker confirmed them. At-least-once: a crash between confirm and mark republishes, and
consumers drop the duplicate by ``event_id``.

Several replicas are safe: on PostgreSQL only the holder of an advisory lock publishes
(the others stand by), which also keeps the per-aggregate order.

A PostgreSQL restart (fast or immediate) or a broker restart is survived in the process:
the turn fails, the relay backs off (``max_backoff``) and resumes where the outbox says."""
from __future__ import annotations

import threading
import time
import zlib

import pika
import sqlalchemy as sa
from pika.exceptions import AMQPError
from prometheus_client import Counter

from . import logs
from .broker import close_quietly, connection_parameters, declare_exchange, stop_on_signals, wait_before_retry
from .db import utcnow
from .heartbeat import Heartbeat
from .metrics import gauge

log = logs.get_logger("crm.relay")

PUBLISHED = Counter("outbox_published_total", "Outbox events confirmed by the broker", ["service"])
PRUNED = Counter("outbox_pruned_total", "Published outbox rows deleted after the retention period", ["service"])
PUBLISH_FAILURES = Counter("outbox_publish_failures_total", "Relay failures (broker or database)", ["service", "kind"])
BACKLOG = gauge("outbox_backlog", "Outbox rows not yet confirmed by the broker", ["service"])
OLDEST_AGE = gauge("outbox_oldest_unsent_age_seconds", "Age of the oldest unsent outbox row", ["service"])


def outbox_backlog(engine, outbox: sa.Table) -> tuple[int, float]:
    """(rows waiting, age in seconds of the oldest one)."""
    with engine.connect() as conn:
        count, oldest = conn.execute(
            sa.select(sa.func.count(), sa.func.min(outbox.c.created_at)).where(outbox.c.published_at.is_(None))
        ).one()
    age = 0.0
    if oldest is not None:
        if oldest.tzinfo is None:
            import datetime as dt
            oldest = oldest.replace(tzinfo=dt.timezone.utc)
        age = max(0.0, (utcnow() - oldest).total_seconds())
    return int(count or 0), age


def backlog_check(engine, outbox: sa.Table, service: str):
    """A /readyz check (non-critical) that reports the backlog."""
    def check():
        count, age = outbox_backlog(engine, outbox)
        BACKLOG.labels(service).set(count)
        OLDEST_AGE.labels(service).set(age)
        return True, {"unsent": count, "oldest_unsent_age_seconds": round(age, 3)}
    return check


class OutboxRelay:
    def __init__(self, *, service: str, engine, outbox: sa.Table, amqp_url: str,
                 exchange: str = "crm.events", batch_size: int = 500, idle_interval: float = 0.05,
                 max_backoff: float = 10.0, retention_hours: float = 168.0, prune_batch: int = 1000,
                 prune_interval: float = 60.0, heartbeat: Heartbeat | None = None):
        self.service, self.engine, self.outbox = service, engine, outbox
        self.heartbeat = heartbeat or Heartbeat.from_env()  # liveness: every turn, idle or not
        self.amqp_url, self.exchange = amqp_url, exchange
        self.batch_size, self.idle_interval, self.max_backoff = batch_size, idle_interval, max_backoff
        self.retention_hours, self.prune_batch, self.prune_interval = retention_hours, prune_batch, prune_interval
        self._last_prune = 0.0
        self.stop_event = threading.Event()
        self._lock_conn = None
        self._lock_key = zlib.crc32(f"crm-outbox-relay:{service}".encode()) & 0x7FFFFFFF

    # --- leadership (one publisher per service) -------------------------------------------
    def _hold_leadership(self) -> bool:
        if self.engine.dialect.name != "postgresql":
            return True
        try:
            if self._lock_conn is not None:
                self._lock_conn.execute(sa.text("SELECT 1"))
                return True
            # Session-level lock on an autocommit connection: held without holding a
            # transaction open (no "idle in transaction" connection for hours).
            conn = self.engine.connect().execution_options(isolation_level="AUTOCOMMIT")
            got = conn.execute(sa.text("SELECT pg_try_advisory_lock(:k)"), {"k": self._lock_key}).scalar()
            if got:
                self._lock_conn = conn
                log.info("relay_leader", service=self.service)
                return True
            conn.close()
            return False
        except sa.exc.SQLAlchemyError:
            self._release_leadership()
            raise

    def _release_leadership(self) -> None:
        if self._lock_conn is not None:
            try:
                self._lock_conn.close()
            except Exception:  # noqa: BLE001
                pass
            self._lock_conn = None

    # --- publishing ----------------------------------------------------------------------
    def publish_batch(self, channel) -> int:
        """Publish up to ``batch_size`` unsent rows in id order; returns how many."""
        o = self.outbox
        with self.engine.connect() as conn:
            rows = conn.execute(
                sa.select(o.c.id, o.c.event_id, o.c.event_type, o.c.payload)
                .where(o.c.published_at.is_(None)).order_by(o.c.id).limit(self.batch_size)
            ).all()
        if not rows:
            return 0
        confirmed = []
        try:
            for row in rows:
                channel.basic_publish(
                    exchange=self.exchange, routing_key=row.event_type, body=row.payload.encode("utf-8"),
                    properties=pika.BasicProperties(
                        content_type="application/json", delivery_mode=pika.DeliveryMode.Persistent,
                        message_id=row.event_id, type=row.event_type, app_id=self.service),
                    mandatory=False)
                confirmed.append(row.id)  # confirm_delivery: returns only once the broker acked
        finally:
            if confirmed:
                with self.engine.begin() as conn:
                    conn.execute(sa.update(o).where(o.c.id.in_(confirmed)).values(published_at=utcnow()))
                PUBLISHED.labels(self.service).inc(len(confirmed))
        return len(confirmed)

    def prune_published(self, now=None) -> int:
        """Delete published rows older than the retention period, ``prune_batch`` rows per
        statement (short transactions, no long lock on the table); returns how many. Rows
        not yet published are never touched, whatever their age."""
        import datetime as dt
        if self.retention_hours <= 0:
            return 0
        o = self.outbox
        cutoff = (now or utcnow()) - dt.timedelta(hours=self.retention_hours)
        total = 0
        while not self.stop_event.is_set():
            self.heartbeat.beat()  # a long first prune is progress, not a stuck loop
            oldest = (sa.select(o.c.id).where(o.c.published_at.is_not(None), o.c.published_at < cutoff)
                      .order_by(o.c.id).limit(self.prune_batch))
            with self.engine.begin() as conn:
                deleted = conn.execute(sa.delete(o).where(o.c.id.in_(oldest.scalar_subquery()))).rowcount
            total += deleted
            if deleted < self.prune_batch:
                break
        if total:
            PRUNED.labels(self.service).inc(total)
            log.info("outbox_pruned", service=self.service, rows=total, older_than_hours=self.retention_hours)
        return total

    def _maybe_prune(self) -> None:
        if time.monotonic() - self._last_prune >= self.prune_interval:
            self._last_prune = time.monotonic()
            self.prune_published()

    def run_once(self, channel) -> int:
        if not self._hold_leadership():
            return 0
        return self.publish_batch(channel)

    def run(self) -> None:
        """Publish forever; reconnect to the broker and the database with backoff."""
        delay = 0.5
        while not self.stop_event.is_set():
            self.heartbeat.beat()
            connection = None
            try:
                if not self._hold_leadership():
                    self.stop_event.wait(2.0)
                    continue
                connection = pika.BlockingConnection(connection_parameters(self.amqp_url))
                channel = connection.channel()
                channel.confirm_delivery()
                declare_exchange(channel, self.exchange)
                log.info("relay_connected", service=self.service)
                delay = 0.5
                last_backlog = 0.0
                while not self.stop_event.is_set():
                    self.heartbeat.beat()
                    sent = self.run_once(channel)
                    if time.monotonic() - last_backlog > 5:
                        backlog_check(self.engine, self.outbox, self.service)()
                        last_backlog = time.monotonic()
                    if sent == 0:
                        self._maybe_prune()  # only while idle: publishing comes first
                        connection.process_data_events(time_limit=self.idle_interval)
            except (AMQPError, OSError) as exc:
                PUBLISH_FAILURES.labels(self.service, "broker").inc()
                log.warning("relay_broker_unavailable", error=type(exc).__name__, retry_in=round(delay, 2))
            except sa.exc.SQLAlchemyError as exc:
                # PostgreSQL restarting or gone: drop the lock connection (its lock died with
                # it), back off and start over; the pool's pre-ping replaces dead connections.
                # Rows confirmed but not yet marked are published again: consumers drop the
                # duplicate by event_id.
                PUBLISH_FAILURES.labels(self.service, "database").inc()
                self._release_leadership()
                log.warning("relay_database_unavailable", error=type(exc).__name__, retry_in=round(delay, 2))
            finally:
                close_quietly(connection)
            delay = wait_before_retry(self.stop_event, delay, self.max_backoff)
        self._release_leadership()
        log.info("relay_stopped", service=self.service)

    def install_signal_handlers(self) -> None:
        stop_on_signals(self.stop_event)
