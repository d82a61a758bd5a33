"""analytics-service's composition root: every dependency built once, typed, and handed to
the app (``install``), the CLI commands and the consumer. Views reach it through
``current()``; nothing is looked up by name anywhere else."""
from __future__ import annotations

from dataclasses import dataclass
from functools import partial
from typing import Callable

from flask import Flask, current_app
from sqlalchemy.engine import Engine

from crm_common.bootstrap import build_uow_factory
from crm_common.broker import broker_ready
from crm_common.config import Settings
from crm_common.db import database_ready
from crm_common.relay import backlog_check
from crm_common.web import add_ready_check
from crm_common.workers import consumer_command

from .adapters import broker, orm
from .adapters.customer_service import CustomerService
from .service_layer.projection import apply_many, handlers
from .service_layer.unit_of_work import AnalyticsUnitOfWork

SERVICE = "analytics"
# The name the consumer records its events and versions under, and its queue.
CONSUMER = broker.QUEUE
EXTENSION = "analytics"


@dataclass(frozen=True)
class Analytics:
    settings: Settings
    engine: Engine
    unit_of_work: Callable[[], AnalyticsUnitOfWork]
    queue_backlog: Callable[[], dict | None]
    customer_service: CustomerService      # the owner of customers, asked on a caller's behalf

    @property
    def timezone(self) -> str:
        return self.settings.app_timezone


def bootstrap(settings: Settings | None = None) -> Analytics:
    settings = settings or Settings.from_env(SERVICE)
    engine, unit_of_work = build_uow_factory(settings, AnalyticsUnitOfWork)
    return Analytics(settings=settings, engine=engine,
                     unit_of_work=partial(unit_of_work, timezone=settings.app_timezone),
                     queue_backlog=partial(broker.queue_backlog, settings.amqp_url),
                     customer_service=CustomerService(
                         settings.service_urls["customer"],
                         timeout=settings.get_float("CUSTOMER_SERVICE_TIMEOUT", 2.0),
                         budget=settings.get_float("ORDER_ELIGIBILITY_BUDGET", 10.0),
                         concurrency=settings.get_int("ORDER_ELIGIBILITY_CONCURRENCY", 8)))


def install(app: Flask, analytics: Analytics) -> None:
    """Readiness: the database decides; the broker and the outbox backlog are reported."""
    app.extensions[EXTENSION] = analytics
    add_ready_check(app, "database", partial(database_ready, analytics.engine))
    add_ready_check(app, "broker", partial(broker_ready, analytics.settings.amqp_url), critical=False)
    add_ready_check(app, "outbox", backlog_check(analytics.engine, orm.outbox, SERVICE), critical=False)


def current() -> Analytics:
    """The app's ``Analytics`` (inside a request)."""
    return current_app.extensions[EXTENSION]


# Deliveries applied together when a backlog drains (CONSUMER_BATCH_SIZE overrides): set-based,
# one statement per table for the batch (projection.apply_many); a batch that fails is
# applied again event by event, so that a poison event fails alone.
CONSUMER_BATCH_SIZE = 200


def consume_command() -> Callable[[list[str]], int]:
    """``analytics-service consume``: the read model's queue, bound to the event types the
    projection handles; each handler gets the unit of work joined to the consumer's
    transaction."""
    return consumer_command(SERVICE, name=CONSUMER, queue=broker.QUEUE, bindings=handlers.bindings,
                            processed=orm.processed_events, versions=orm.applied_versions,
                            handler_factory=lambda _settings: handlers,
                            handler_many_factory=lambda _settings: apply_many,
                            unit_of_work=lambda settings: partial(AnalyticsUnitOfWork.joining,
                                                                  timezone=settings.app_timezone),
                            batch_size=CONSUMER_BATCH_SIZE)
