"""Wires customer-service's dependencies once per process (engine, unit of work, cache,
readiness checks), so that views and consumers receive them instead of building them."""
from __future__ import annotations

from functools import partial

from flask import Flask

from crm_common.broker import broker_ready
from crm_common.config import Settings
from crm_common.db import database_ready, make_engine, make_session_factory
from crm_common.web import add_ready_check

from .adapters import orm
from .service_layer.unit_of_work import CustomerUnitOfWork


def build_uow_factory(settings: Settings):
    orm.start_mappers()
    engine = make_engine(settings.database_url,
                         pool_size=settings.get_int("DB_POOL_SIZE", 5),
                         max_overflow=settings.get_int("DB_MAX_OVERFLOW", 10))
    return engine, partial(CustomerUnitOfWork, make_session_factory(engine))


def bootstrap(app: Flask, settings: Settings) -> None:
    engine, uow_factory = build_uow_factory(settings)
    app.extensions["engine"] = engine
    app.extensions["uow_factory"] = uow_factory
    add_ready_check(app, "database", lambda: database_ready(engine))
    add_ready_check(app, "broker", partial(broker_ready, settings.amqp_url), critical=False)
