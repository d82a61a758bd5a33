"""sync-worker app factory: where requests enter."""
from __future__ import annotations

from flask import Flask

from crm_common.bootstrap import bootstrap_service
from crm_common.config import Settings
from crm_common.web import create_base_app, finish_app

from .adapters import orm
from .adapters.customer_client import CustomerServiceClient
from .entrypoints import contracts, projects, sync
from .service_layer.unit_of_work import SyncUnitOfWork

BLUEPRINTS = [projects.blp, contracts.blp, sync.blp]


def create_app(settings: Settings | None = None) -> Flask:
    settings = settings or Settings.from_env("sync")
    app, api = create_base_app(settings, title="sync-worker",
                               description="Consumes customer events; owns projects, contracts and their sync history (seed 004).")
    bootstrap_service(app, settings, SyncUnitOfWork, orm.start_mappers)
    app.extensions["customer_client"] = CustomerServiceClient(settings.service_urls["customer"],
                                                              settings.internal_http_timeout)
    for blp in BLUEPRINTS:
        api.register_blueprint(blp)
    return finish_app(app)
