"""customer-service app factory: where requests enter."""
from __future__ import annotations

from flask import Flask

from crm_common.config import Settings
from crm_common.web import create_base_app, optional_blueprints

from .bootstrap import bootstrap
from .entrypoints.api_v1 import customers as customers_v1

# Each surface registers its blueprints here (later issues add theirs to this list).
BLUEPRINTS = [customers_v1.blp]


OPTIONAL_MODULES = (
    "customer_service.entrypoints.api_v1.bulk",
    "customer_service.entrypoints.api_v1.companies",
    "customer_service.entrypoints.api_v1.groups",
    "customer_service.entrypoints.api_v1.external_sync",
    "customer_service.entrypoints.mobile.customers",
    "customer_service.entrypoints.external.customers",
    "customer_service.entrypoints.internal.snapshot",
)


def create_app(settings: Settings | None = None) -> Flask:
    settings = settings or Settings.from_env("customer")
    app, api = create_base_app(settings, title="customer-service",
                               description="Owns customers, companies, groups, ratings, credit, balances and imports.")
    bootstrap(app, settings)
    for blp in BLUEPRINTS + optional_blueprints(*OPTIONAL_MODULES):
        api.register_blueprint(blp)
    return app
