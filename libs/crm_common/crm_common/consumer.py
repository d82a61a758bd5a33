"""The consumer base (CONTRACT §5): a durable queue per consumer with a dead-letter queue,
manual acks after the handler's transaction commits, ``event_id`` dedupe and
``aggregate_version`` ordering stored in the consumer's own database in that same
transaction, bounded redelivery then dead-letter, reconnect with backoff.

A consumer is an entrypoint: parse, dedupe, call ``handler(session, event)``, commit, ack.

With ``batch_size`` > 1 (opt-in), the deliveries that arrive together (up to that many) are
applied in one transaction, each event in its own savepoint: one commit (one fsync) per
batch instead of per event, while a failing event still rolls back alone and is
redelivered alone. Acks follow the commit; a database outage hands the whole batch back.
Opt in only when the handler takes no locks that other writers take in another order (a
batch holds every event's locks until its commit).

``versions=None`` turns the ``aggregate_version`` check off (dedupe by ``event_id`` stays):
for a consumer that must see every event, not only the newest state of each aggregate.

With ``handler_many`` too (opt-in, for events that carry their aggregate's whole state), a
batch is applied set-based: one statement records every event id, one advances every
aggregate's version, and ``handler_many(uow_or_session, events)`` applies the events that
are new — only the newest of several versions of one aggregate in the batch, the others are
stale as they would be one by one. If that fails, the batch is applied again event by
event (each in its savepoint, with ``handler``), so that a poison event fails alone.

The poison limit counts HANDLER failures only (``max_deliveries`` failures of the handler
for one ``event_id`` in this process, then the delivery is rejected into ``<queue>.dlq``).
Redeliveries caused by the infrastructure (the database down, a consumer killed mid-batch,
the broker restarted, a lost channel) do not count: a valid event is never dead-lettered
because of a long series of incidents. The quorum queue's ``x-delivery-limit`` stays only
as a backstop (``backstop_delivery_limit``, far above the poison limit) for a message that
kills the process itself before its failure can be counted."""
from __future__ import annotations

import datetime as dt
import threading
import time
from collections import OrderedDict
from typing import Callable

import pika
import sqlalchemy as sa
from pika.exceptions import AMQPError
from prometheus_client import Counter
from sqlalchemy.orm import Session

from . import logs
from .broker import close_quietly, connection_parameters, declare_exchange, stop_on_signals, wait_before_retry
from .db import _insert_for, insert_ignore, upsert, utcnow
from .events import InvalidEvent, parse_event
from .heartbeat import Heartbeat
from .metrics import gauge

log = logs.get_logger("crm.consumer")

CONSUMED = Counter("events_consumed_total", "Events handled, by outcome (applied, duplicate, stale)",
                   ["queue", "outcome"])
FAILED = Counter("events_failed_total", "Event deliveries that failed (requeued or dead-lettered)",
                 ["queue", "reason"])
DLQ_DEPTH = gauge("dead_letter_queue_depth", "Messages waiting in the dead-letter queue", ["queue"])
LAG = gauge("event_apply_lag_seconds", "occurred_at to applied, last event", ["queue"])

Handler = Callable[[Session, dict], None]
TRANSIENT_DB_ERRORS = (sa.exc.OperationalError, sa.exc.InterfaceError, sa.exc.TimeoutError)
FAILURE_MEMORY = 10_000  # event ids whose handler failures are remembered (oldest forgotten first)


def is_transient_db_error(exc: BaseException) -> bool:
    """The database (not the event) is the problem: down, restarting, connection lost."""
    return isinstance(exc, TRANSIENT_DB_ERRORS) or (
        isinstance(exc, sa.exc.DBAPIError) and bool(getattr(exc, "connection_invalidated", False)))


def backstop_delivery_limit(max_deliveries: int) -> int:
    """The quorum queue's own limit: deliveries of any cause (broker restarts, kills,
    database outages included), so far above the handler-failure limit that only a message
    that crashes the consumer process every time reaches it."""
    return max(1000, 100 * int(max_deliveries))


def queue_arguments(queue: str, max_deliveries: int) -> dict:
    """Quorum queue: survives broker restarts, counts deliveries, dead-letters past the
    backstop limit (the poison limit proper is counted by the consumer: handler failures)."""
    return {"x-queue-type": "quorum", "x-dead-letter-exchange": "",
            "x-dead-letter-routing-key": f"{queue}.dlq", "x-delivery-limit": backstop_delivery_limit(max_deliveries)}


def declare_queue(channel, queue: str, bindings, exchange: str = "crm.events", max_deliveries: int = 10) -> None:
    declare_exchange(channel, exchange)
    channel.queue_declare(queue=f"{queue}.dlq", durable=True)
    channel.queue_declare(queue=queue, durable=True, arguments=queue_arguments(queue, max_deliveries))
    for key in bindings:
        channel.queue_bind(queue=queue, exchange=exchange, routing_key=key)


def declare_or_keep(connection, queue: str, bindings, exchange: str = "crm.events", max_deliveries: int = 10):
    """``declare_queue`` on a new channel of ``connection``; a queue declared earlier with
    other arguments (an older release's ``x-delivery-limit`` 10) is kept as it is, with a
    warning, and bound again. Returns the channel to go on with."""
    channel = connection.channel()
    try:
        declare_queue(channel, queue, bindings, exchange, max_deliveries)
    except pika.exceptions.ChannelClosedByBroker as exc:
        if exc.reply_code != 406:
            raise
        # Consume it as it is; delete and re-declare it while empty to get the new arguments.
        log.warning("consumer_queue_arguments_differ", queue=queue, reply=exc.reply_text)
        channel = connection.channel()
        for key in bindings:
            channel.queue_bind(queue=queue, exchange=exchange, routing_key=key)
    return channel


def declare_topology(amqp_url: str, queue: str, bindings, exchange: str = "crm.events",
                     max_deliveries: int = 10) -> None:
    """Declare a consumer's queue, dead-letter queue and bindings once (deploy step)."""
    connection = pika.BlockingConnection(connection_parameters(amqp_url))
    try:
        declare_or_keep(connection, queue, bindings, exchange, max_deliveries)
    finally:
        connection.close()


class EventConsumer:
    def __init__(self, *, name: str, queue: str, bindings: list[str], amqp_url: str,
                 session_factory: Callable[[], Session], processed: sa.Table, versions: sa.Table,
                 handler: Handler, exchange: str = "crm.events", prefetch: int = 50,
                 max_deliveries: int = 10, failure_pause: float = 1.0, batch_size: int = 1,
                 unit_of_work: Callable[[Session], object] | None = None,
                 heartbeat: Heartbeat | None = None,
                 handler_many: Callable[[object, list[dict]], None] | None = None):
        self.name, self.queue, self.bindings = name, queue, list(bindings)
        self.amqp_url, self.exchange = amqp_url, exchange
        self.session_factory, self.processed, self.versions = session_factory, processed, versions
        self.handler = handler
        # With ``unit_of_work`` (e.g. ``ServiceUnitOfWork.joining``) the handler gets the
        # service's unit of work bound to this transaction instead of the bare session.
        self.unit_of_work = unit_of_work
        self.handler_many = handler_many
        self.prefetch, self.max_deliveries, self.failure_pause = prefetch, max_deliveries, failure_pause
        self.batch_size = max(1, min(int(batch_size or 1), prefetch))
        self.heartbeat = heartbeat or Heartbeat.from_env()  # liveness: every turn, idle or not
        self.stop_event = threading.Event()
        self._db_down = False
        self._pending: list[tuple[int, dict]] = []  # (delivery tag, parsed event) not yet applied
        # event_id -> handler failures so far (the poison limit counts these, nothing else)
        self._handler_failures: OrderedDict[str, int] = OrderedDict()

    # --- the transaction ------------------------------------------------------------------
    def apply(self, event: dict) -> str:
        """Apply one parsed event in one transaction: 'applied', 'duplicate' or 'stale'."""
        session = self.session_factory()
        try:
            with session.begin():
                return self._apply_in(session, event)
        finally:
            session.close()

    def apply_batch(self, events: list[dict]) -> list:
        """Apply events in one transaction, each in a savepoint. Returns, per event, its
        outcome ('applied', 'duplicate', 'stale') or the exception its handler raised (that
        event alone rolled back). A transient database error aborts the whole batch (raised)."""
        if self.handler_many is not None:
            try:
                return self.apply_together(events)
            except Exception as exc:  # noqa: BLE001 - find the event that fails, one by one
                if is_transient_db_error(exc):
                    raise
                log.warning("event_batch_retried_one_by_one", queue=self.queue, error=type(exc).__name__,
                            size=len(events))
        outcomes: list = []
        session = self.session_factory()
        try:
            with session.begin():
                for event in events:
                    self._bind(event)
                    try:
                        with session.begin_nested():
                            outcomes.append(self._apply_in(session, event))
                    except Exception as exc:  # noqa: BLE001 - this event fails alone
                        if is_transient_db_error(exc):
                            raise
                        FAILED.labels(self.queue, "handler").inc()
                        log.exception("event_handler_failed", queue=self.queue, error=type(exc).__name__)
                        outcomes.append(exc)
        finally:
            session.close()
        return outcomes

    def apply_together(self, events: list[dict]) -> list[str]:
        """The set-based batch (``handler_many``), in one transaction: outcomes per event."""
        session = self.session_factory()
        try:
            with session.begin():
                outcomes = self._claim_together(session, events)
                fresh = [event for event, outcome in zip(events, outcomes) if outcome == "applied"]
                if fresh:
                    self.handler_many(self.unit_of_work(session) if self.unit_of_work else session, fresh)
            return outcomes
        finally:
            session.close()

    def _claim_together(self, session: Session, events: list[dict]) -> list[str]:
        """Record every event id and advance every aggregate's version in two statements:
        'duplicate' for an id already recorded (or twice in the batch), 'stale' for a version
        not newer than the stored one or than another of the batch, else 'applied'."""
        outcomes = ["duplicate"] * len(events)
        first: dict[str, int] = {}
        for i, event in enumerate(events):
            first.setdefault(str(event["event_id"]), i)
        now = utcnow()
        insert = _insert_for(session)
        p = self.processed
        # executemany with RETURNING: one statement compiled once, the rows sent in pages.
        fresh = set(session.execute(
            insert(p).on_conflict_do_nothing(index_elements=[p.c.consumer, p.c.event_id]).returning(p.c.event_id),
            [{"consumer": self.name, "event_id": event_id, "event_type": str(events[i]["event_type"]),
              "aggregate_id": str(events[i]["aggregate_id"]), "aggregate_version": int(events[i]["aggregate_version"]),
              "applied": True, "processed_at": now} for event_id, i in first.items()]).scalars())
        if self.versions is None:  # every event applies, once per event_id
            for event_id, i in first.items():
                if event_id in fresh:
                    outcomes[i] = "applied"
            return outcomes
        newest: dict[tuple[str, str], int] = {}
        for event_id, i in first.items():
            if event_id not in fresh:
                continue
            outcomes[i] = "stale"
            key = (str(events[i]["aggregate_type"]), str(events[i]["aggregate_id"]))
            if key not in newest or int(events[newest[key]]["aggregate_version"]) < int(events[i]["aggregate_version"]):
                newest[key] = i
        v = self.versions
        advanced = set()
        if newest:
            stmt = insert(v)
            stmt = stmt.on_conflict_do_update(
                index_elements=[v.c.consumer, v.c.aggregate_type, v.c.aggregate_id],
                set_={"version": stmt.excluded.version, "occurred_at": stmt.excluded.occurred_at,
                      "updated_at": stmt.excluded.updated_at},
                where=v.c.version < stmt.excluded.version).returning(v.c.aggregate_type, v.c.aggregate_id)
            advanced = {tuple(row) for row in session.execute(stmt, [
                {"consumer": self.name, "aggregate_type": key[0], "aggregate_id": key[1],
                 "version": int(events[i]["aggregate_version"]), "occurred_at": events[i].get("occurred_at"),
                 "updated_at": now} for key, i in sorted(newest.items())])}
        for key, i in newest.items():
            if key in advanced:
                outcomes[i] = "applied"
        stale = [str(events[i]["event_id"]) for i, outcome in enumerate(outcomes)
                 if outcome == "stale" and first[str(events[i]["event_id"])] == i]
        if stale:
            session.execute(sa.update(p).where(p.c.consumer == self.name, p.c.event_id.in_(stale))
                            .values(applied=False))
        return outcomes

    @staticmethod
    def _bind(event: dict) -> None:
        logs.bind_trace(event.get("trace_id") or logs.new_trace_id(), event_id=event["event_id"],
                        event_type=event["event_type"], sub=(event.get("actor") or {}).get("sub"))

    def _apply_in(self, session: Session, event: dict) -> str:
        """Dedupe, order and handle one event inside the caller's transaction."""
        inserted = insert_ignore(session, self.processed, {
            "consumer": self.name, "event_id": str(event["event_id"]),
            "event_type": str(event["event_type"]), "aggregate_id": str(event["aggregate_id"]),
            "aggregate_version": int(event["aggregate_version"]), "applied": True,
            "processed_at": utcnow()})
        if not inserted:
            return "duplicate"
        if self.versions is not None and not self._advance_version(session, event):
            session.execute(sa.update(self.processed).where(
                (self.processed.c.consumer == self.name)
                & (self.processed.c.event_id == str(event["event_id"]))).values(applied=False))
            return "stale"
        self.handler(self.unit_of_work(session) if self.unit_of_work else session, event)
        return "applied"

    def _advance_version(self, session: Session, event: dict) -> bool:
        """Record the event's version as the aggregate's newest, unless one at least as new
        was applied: one atomic upsert that locks the row (concurrent replicas serialise
        on it). True when the event is newer."""
        v = self.versions
        return upsert(session, v, {
            "consumer": self.name, "aggregate_type": str(event["aggregate_type"]),
            "aggregate_id": str(event["aggregate_id"]), "version": int(event["aggregate_version"]),
            "occurred_at": event.get("occurred_at"), "updated_at": utcnow()},
            index_elements=[v.c.consumer, v.c.aggregate_type, v.c.aggregate_id],
            update=("version", "occurred_at", "updated_at"),
            where=lambda table, excluded: table.c.version < excluded.version) == 1

    def handle_body(self, body: bytes) -> str:
        """Parse and apply (used by the broker callback and by tests)."""
        return self.apply(parse_event(body))

    # --- broker callback ------------------------------------------------------------------
    def _on_message(self, channel, method, properties, body) -> None:
        """Parse now (a message that can never be applied is dead-lettered at once); the
        rest waits in ``_pending`` for ``_flush``, right after this read from the socket."""
        try:
            event = parse_event(body)
        except InvalidEvent as exc:
            FAILED.labels(self.queue, "invalid").inc()
            log.error("event_invalid_dead_lettered", queue=self.queue, error=str(exc),
                      message_id=getattr(properties, "message_id", None))
            channel.basic_reject(method.delivery_tag, requeue=False)
            return
        if self._db_down:
            channel.basic_nack(method.delivery_tag, requeue=True)
            return
        self._pending.append((method.delivery_tag, event))
        if len(self._pending) >= self.batch_size:
            self._flush(channel)

    def _flush(self, channel) -> None:
        """Apply the pending deliveries in one transaction, then ack them (or hand back
        the ones whose handler failed, and all of them when the database is down)."""
        batch, self._pending = self._pending, []
        if not batch:
            return
        if self._db_down:
            for tag, _event in batch:
                channel.basic_nack(tag, requeue=True)
            return
        try:
            outcomes = self._apply_each_alone(batch[0][1]) if len(batch) == 1 \
                else self.apply_batch([event for _tag, event in batch])
        except Exception as exc:  # noqa: BLE001 - the batch itself failed (its commit): redeliver all
            if is_transient_db_error(exc):
                # Our database is down: hand the messages back (not counted as failures of
                # the events) and pause until it returns.
                FAILED.labels(self.queue, "database").inc(len(batch))
                log.warning("consumer_database_unavailable", queue=self.queue, error=type(exc).__name__)
                self._db_down = True
                for tag, _event in batch:
                    channel.basic_nack(tag, requeue=True)
                return
            FAILED.labels(self.queue, "handler").inc(len(batch))
            log.exception("event_batch_failed", queue=self.queue, error=type(exc).__name__, size=len(batch))
            outcomes = [exc] * len(batch)
        failed = [tag for (tag, _event), outcome in zip(batch, outcomes) if isinstance(outcome, Exception)]
        if not failed:
            # Every delivery of this channel up to the last one is settled: one ack for all.
            channel.basic_ack(batch[-1][0], multiple=True)
        for (tag, event), outcome in zip(batch, outcomes):
            if isinstance(outcome, Exception):
                continue
            if failed:
                channel.basic_ack(tag)
            CONSUMED.labels(self.queue, outcome).inc()
            self._bind(event)
            self._observe_lag(event)
            log.info("event_applied", queue=self.queue, outcome=outcome,
                     aggregate_id=event["aggregate_id"], aggregate_version=event["aggregate_version"])
        if failed:
            # The handler failed: redeliver, until this event's handler failed
            # ``max_deliveries`` times; then it is poison: dead-letter it.
            time.sleep(min(self.failure_pause, 5.0))
            for (tag, event), outcome in zip(batch, outcomes):
                if not isinstance(outcome, Exception):
                    continue
                if self._count_handler_failure(str(event["event_id"])) >= self.max_deliveries:
                    self._handler_failures.pop(str(event["event_id"]), None)
                    FAILED.labels(self.queue, "dead_lettered").inc()
                    log.error("event_dead_lettered", queue=self.queue, event_id=event["event_id"],
                              event_type=event["event_type"], handler_failures=self.max_deliveries,
                              error=type(outcome).__name__)
                    channel.basic_reject(tag, requeue=False)
                else:
                    channel.basic_nack(tag, requeue=True)

    def _count_handler_failure(self, event_id: str) -> int:
        count = self._handler_failures.pop(event_id, 0) + 1
        self._handler_failures[event_id] = count
        while len(self._handler_failures) > FAILURE_MEMORY:
            self._handler_failures.popitem(last=False)
        return count

    def _apply_each_alone(self, event: dict) -> list:
        """One event, one transaction (no savepoint): its outcome or its handler's error."""
        self._bind(event)
        try:
            return [self.apply(event)]
        except Exception as exc:  # noqa: BLE001 - the handler failed: redeliver, bounded
            if is_transient_db_error(exc):
                raise
            FAILED.labels(self.queue, "handler").inc()
            log.exception("event_handler_failed", queue=self.queue, error=type(exc).__name__)
            return [exc]

    def _observe_lag(self, event: dict) -> None:
        try:
            occurred = dt.datetime.fromisoformat(str(event["occurred_at"]).replace("Z", "+00:00"))
            LAG.labels(self.queue).set(max(0.0, (utcnow() - occurred).total_seconds()))
        except ValueError:
            pass

    def _wait_for_database(self, connection) -> None:
        while self._db_down and not self.stop_event.is_set():
            self.heartbeat.beat()  # waiting for our database is not being stuck
            try:
                with self.session_factory() as session:
                    session.execute(sa.text("SELECT 1"))
                self._db_down = False
                log.info("consumer_database_back", queue=self.queue)
            except sa.exc.SQLAlchemyError:
                connection.process_data_events(time_limit=1.0)

    def dead_letter_depth(self, channel) -> int:
        depth = channel.queue_declare(queue=f"{self.queue}.dlq", durable=True, passive=True).method.message_count
        DLQ_DEPTH.labels(self.queue).set(depth)
        return depth

    def run(self) -> None:
        delay = 0.5
        while not self.stop_event.is_set():
            self.heartbeat.beat()
            connection = None
            try:
                connection = pika.BlockingConnection(connection_parameters(self.amqp_url))
                channel = declare_or_keep(connection, self.queue, self.bindings, self.exchange, self.max_deliveries)
                channel.basic_qos(prefetch_count=self.prefetch)
                tag = channel.basic_consume(self.queue, self._on_message, auto_ack=False)
                log.info("consumer_connected", queue=self.queue, bindings=self.bindings)
                delay = 0.5
                last_depth = 0.0
                self._pending = []  # deliveries of a lost channel come again
                while not self.stop_event.is_set():
                    self.heartbeat.beat()
                    connection.process_data_events(time_limit=0.5)
                    self._flush(channel)
                    if self._db_down:
                        channel.basic_cancel(tag)
                        self._wait_for_database(connection)
                        tag = channel.basic_consume(self.queue, self._on_message, auto_ack=False)
                    if time.monotonic() - last_depth > 5:
                        self.dead_letter_depth(channel)
                        last_depth = time.monotonic()
                self._flush(channel)  # stopping: apply what has already arrived
            except (AMQPError, OSError) as exc:
                log.warning("consumer_broker_unavailable", queue=self.queue, error=type(exc).__name__,
                            retry_in=round(delay, 2))
            except sa.exc.SQLAlchemyError as exc:
                # Anything the database threw that the turn did not handle: start over (the
                # unacked deliveries come again with the new channel), never exit.
                self._db_down = True
                log.warning("consumer_database_unavailable", queue=self.queue, error=type(exc).__name__,
                            retry_in=round(delay, 2))
            finally:
                close_quietly(connection)
            delay = wait_before_retry(self.stop_event, delay, 15.0)
        log.info("consumer_stopped", queue=self.queue)

    def install_signal_handlers(self) -> None:
        stop_on_signals(self.stop_event)


def replay_dead_letters(amqp_url: str, queue: str, limit: int | None = None) -> int:
    """Move messages from ``<queue>.dlq`` back to ``<queue>`` (after fixing the cause)."""
    connection = pika.BlockingConnection(connection_parameters(amqp_url))
    channel = connection.channel()
    channel.confirm_delivery()
    moved = 0
    try:
        while limit is None or moved < limit:
            method, properties, body = channel.basic_get(f"{queue}.dlq", auto_ack=False)
            if method is None:
                break
            headers = dict(properties.headers or {})
            headers.pop("x-death", None)
            headers["x-replayed-from-dlq"] = True
            properties.headers = headers
            channel.basic_publish(exchange="", routing_key=queue, body=body, properties=properties)
            channel.basic_ack(method.delivery_tag)
            moved += 1
    finally:
        connection.close()
    return moved
