"""Dependency wiring every service repeats: engine, unit-of-work factory, readiness checks."""
from __future__ import annotations

from functools import partial
from typing import Callable

from flask import Flask

from .broker import broker_ready
from .config import Settings
from .db import UnitOfWork, database_ready, make_engine, make_session_factory
from .relay import backlog_check
from .web import add_ready_check


def build_uow_factory(settings: Settings, uow_cls: type[UnitOfWork] = UnitOfWork,
                      start_mappers: Callable[[], None] | None = None):
    """(engine, uow_factory) for the service's own database."""
    if start_mappers is not None:
        start_mappers()
    engine = make_engine(settings.database_url,
                         pool_size=settings.get_int("DB_POOL_SIZE", 5),
                         max_overflow=settings.get_int("DB_MAX_OVERFLOW", 10))
    return engine, partial(uow_cls, make_session_factory(engine))


def bootstrap_service(app: Flask, settings: Settings, uow_cls: type[UnitOfWork] = UnitOfWork,
                      start_mappers: Callable[[], None] | None = None) -> None:
    """Puts ``engine`` and ``uow_factory`` in ``app.extensions`` and registers the
    database (critical) and broker (reported only) readiness checks."""
    engine, uow_factory = build_uow_factory(settings, uow_cls, start_mappers)
    app.extensions["engine"] = engine
    app.extensions["uow_factory"] = uow_factory
    add_service_ready_checks(app, settings, engine, getattr(uow_cls, "outbox", None))


def add_service_ready_checks(app: Flask, settings: Settings, engine, outbox=None) -> None:
    """The database (critical), the broker and the outbox backlog (reported only)."""
    add_ready_check(app, "database", lambda: database_ready(engine))
    add_ready_check(app, "broker", partial(broker_ready, settings.amqp_url), critical=False)
    if outbox is not None:
        add_ready_check(app, "outbox", backlog_check(engine, outbox, settings.service), critical=False)
