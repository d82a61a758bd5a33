"""sync-worker app factory: where requests enter."""
from __future__ import annotations

from flask import Flask

from crm_common.bootstrap import bootstrap_service
from crm_common.config import Settings
from crm_common.web import create_base_app, optional_blueprints

from .adapters import orm
from .adapters.customer_client import CustomerServiceClient
from .service_layer.unit_of_work import SyncUnitOfWork

BLUEPRINTS: list = []
OPTIONAL_MODULES = (
    "sync_worker.entrypoints.projects",
    "sync_worker.entrypoints.contracts",
    "sync_worker.entrypoints.sync",
)


def create_app(settings: Settings | None = None) -> Flask:
    settings = settings or Settings.from_env("sync")
    app, api = create_base_app(settings, title="sync-worker",
                               description="Consumes customer events; owns projects, contracts and their sync history (seed 004).")
    bootstrap_service(app, settings, SyncUnitOfWork, orm.start_mappers)
    app.extensions["customer_client"] = CustomerServiceClient(settings.service_urls["customer"],
                                                              settings.internal_http_timeout)
    for blp in BLUEPRINTS + optional_blueprints(*OPTIONAL_MODULES):
        api.register_blueprint(blp)
    return app
