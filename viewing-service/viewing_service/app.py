"""viewing-service app factory: where requests enter (the blueprints of ``entrypoints``)."""
from __future__ import annotations

from functools import partial

from flask import Flask

from crm_common.broker import broker_ready
from crm_common.config import Settings
from crm_common.db import database_ready
from crm_common.relay import backlog_check
from crm_common.web import add_ready_check, create_base_app, finish_app

from . import __version__
from .adapters import orm
from .bootstrap import bootstrap
from .entrypoints import deps, external, internal

BLUEPRINTS = [external.blp, internal.blp]


def create_app(settings: Settings | None = None) -> Flask:
    settings = settings or Settings.from_env("viewing")
    app, api = create_base_app(settings, release=__version__, title="viewing-service",
                               description="Owns property-viewing records (seed 002); publishes viewing.recorded / viewing.updated.")
    service = deps.install(app, bootstrap(settings))
    add_ready_check(app, "database", lambda: database_ready(service.engine))
    # Reported, never fatal: writes go to the outbox, the relay publishes them later.
    add_ready_check(app, "broker", partial(broker_ready, settings.amqp_url), critical=False)
    add_ready_check(app, "outbox", backlog_check(service.engine, orm.outbox, settings.service), critical=False)
    external.register_converters(app, api)
    for blp in BLUEPRINTS:
        api.register_blueprint(blp)
    return finish_app(app)
