"""The background processes every service runs the same way: the outbox relay and event
consumers, as CLI commands (``<service> relay``, ``<service> consume``)."""
from __future__ import annotations

import argparse
from typing import Callable

import sqlalchemy as sa
from sqlalchemy.orm import Session

from . import logs
from .config import Settings
from .consumer import EventConsumer, declare_topology, replay_dead_letters
from .db import make_engine, make_session_factory
from .metrics import start_metrics_server
from .relay import OutboxRelay


def relay_command(service: str, outbox: sa.Table) -> Callable[[list[str]], int]:
    def run(argv: list[str]) -> int:
        argparse.ArgumentParser(prog=f"{service} relay", description="Publish the outbox to RabbitMQ").parse_args(argv)
        settings = Settings.from_env(service)
        logs.configure_logging(f"{service}-relay", settings.log_level)
        start_metrics_server(settings.get_int("METRICS_PORT", 0))
        relay = OutboxRelay(service=service, engine=make_engine(settings.database_url, pool_size=2),
                            outbox=outbox, amqp_url=settings.amqp_url, exchange=settings.exchange,
                            batch_size=settings.get_int("RELAY_BATCH_SIZE", 500),
                            retention_hours=settings.get_float("OUTBOX_RETENTION_HOURS", 168.0),
                            prune_batch=settings.get_int("OUTBOX_PRUNE_BATCH", 1000))
        relay.install_signal_handlers()
        relay.run()
        return 0
    return run


def consumer_command(service: str, *, name: str, queue: str, bindings: list[str], processed: sa.Table,
                     versions: sa.Table | None, handler_factory: Callable[[Settings], Callable[[Session, dict], None]],
                     start_mappers: Callable[[], None] | None = None,
                     batch_size: int = 1, prefetch: int = 50,
                     unit_of_work: Callable[[Settings], Callable[[Session], object]] | None = None,
                     handler_many_factory: Callable[[Settings], Callable] | None = None,
                     ) -> Callable[[list[str]], int]:
    """``handler_factory(settings)`` builds the handler once per process: ``handler(uow,
    event)`` when ``unit_of_work(settings)`` gives a factory of the service's unit of work
    joining the consumer's transaction (``UnitOfWork.joining``), else ``handler(session, event)``.
    ``batch_size`` > 1 applies deliveries that arrive together in one transaction (see
    ``EventConsumer``); ``CONSUMER_BATCH_SIZE`` overrides it. ``versions=None``: every event
    is applied (no ``aggregate_version`` ordering), still once per ``event_id``.
    ``handler_many_factory`` gives ``handler_many(uow, events)`` for set-based batches
    (``EventConsumer``)."""
    def run(argv: list[str]) -> int:
        parser = argparse.ArgumentParser(prog=f"{service} consume", description=f"Consume {queue}")
        parser.add_argument("--replay-dead-letters", action="store_true",
                            help=f"move messages from {queue}.dlq back to {queue} and exit")
        parser.add_argument("--declare-only", action="store_true",
                            help=f"declare {queue}, its dead-letter queue and bindings, and exit "
                                 "(run before the first write: events published before the queue "
                                 "exists are routed nowhere)")
        args = parser.parse_args(argv)
        settings = Settings.from_env(service)
        logs.configure_logging(f"{service}-consumer", settings.log_level)
        max_deliveries = settings.get_int("CONSUMER_MAX_DELIVERIES", 10)
        if args.replay_dead_letters:
            moved = replay_dead_letters(settings.amqp_url, queue)
            print(f"replayed {moved} message(s) from {queue}.dlq")
            return 0
        if args.declare_only:
            declare_topology(settings.amqp_url, queue, bindings, settings.exchange, max_deliveries)
            print(f"declared {queue} and {queue}.dlq, bound to {', '.join(bindings)}")
            return 0
        if start_mappers is not None:
            start_mappers()
        start_metrics_server(settings.get_int("METRICS_PORT", 0))
        engine = make_engine(settings.database_url, pool_size=2)
        consumer = EventConsumer(name=name, queue=queue, bindings=bindings, amqp_url=settings.amqp_url,
                                 session_factory=make_session_factory(engine), processed=processed,
                                 versions=versions, handler=handler_factory(settings),
                                 exchange=settings.exchange,
                                 prefetch=settings.get_int("CONSUMER_PREFETCH", max(prefetch, batch_size)),
                                 max_deliveries=max_deliveries,
                                 batch_size=settings.get_int("CONSUMER_BATCH_SIZE", batch_size),
                                 unit_of_work=unit_of_work(settings) if unit_of_work else None,
                                 handler_many=handler_many_factory(settings) if handler_many_factory else None)
        consumer.install_signal_handlers()
        consumer.run()
        return 0
    return run
