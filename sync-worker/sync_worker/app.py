"""sync-worker app factory: where requests enter (the blueprints of ``entrypoints``)."""
from __future__ import annotations

from functools import partial

from flask import Flask

from crm_common.broker import broker_ready
from crm_common.config import Settings
from crm_common.db import database_ready
from crm_common.web import add_ready_check, create_base_app, finish_app

from . import __version__
from .bootstrap import bootstrap
from .entrypoints import contracts, deps, projects, sync

BLUEPRINTS = [projects.blp, contracts.blp, sync.blp]


def create_app(settings: Settings | None = None) -> Flask:
    settings = settings or Settings.from_env("sync")
    app, api = create_base_app(settings, release=__version__, title="sync-worker",
                               description="Consumes customer events; owns projects, contracts and their sync history (seed 004).")
    worker = deps.install(app, bootstrap(settings))
    add_ready_check(app, "database", lambda: database_ready(worker.engine))
    # Reported, never fatal: requests need only the database (the consumer needs the broker).
    add_ready_check(app, "broker", partial(broker_ready, settings.amqp_url), critical=False)
    for blp in BLUEPRINTS:
        api.register_blueprint(blp)
    return finish_app(app)
