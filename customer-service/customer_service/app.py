"""customer-service app factory: where requests enter (one blueprint per resource and surface)."""
from __future__ import annotations

from flask import Flask

from crm_common.config import Settings
from crm_common.web import create_base_app, finish_app

from . import __version__
from .bootstrap import bootstrap, install
from .entrypoints.api_v1 import bulk, companies, external_sync, groups
from .entrypoints.api_v1 import customers as customers_v1
from .entrypoints.external import customers as external_customers
from .entrypoints.internal import snapshot
from .entrypoints.mobile import customers as mobile_customers

# Every surface's blueprints, registered in this order.
BLUEPRINTS = [customers_v1.blp, bulk.blp, companies.blp, groups.blp, external_sync.blp,
              mobile_customers.blp, external_customers.blp, snapshot.blp]


def create_app(settings: Settings | None = None) -> Flask:
    settings = settings or Settings.from_env("customer")
    app, api = create_base_app(settings, release=__version__, title="customer-service",
                               description="Owns customers, companies, groups, ratings, credit, balances and imports.")
    install(app, bootstrap(settings))
    for blp in BLUEPRINTS:
        api.register_blueprint(blp)
    return finish_app(app)
