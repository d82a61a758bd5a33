"""analytics-service app factory: where requests enter."""
from __future__ import annotations

from flask import Flask

from crm_common.bootstrap import bootstrap_service
from crm_common.config import Settings
from crm_common.web import create_base_app, finish_app

from .adapters import orm
from .entrypoints import analyses, external, mobile, orders
from .service_layer.unit_of_work import ServiceUnitOfWork

BLUEPRINTS = [mobile.blp, external.blp, orders.blp, analyses.blp]


def create_app(settings: Settings | None = None) -> Flask:
    settings = settings or Settings.from_env("analytics")
    app, api = create_base_app(settings, title="analytics-service",
                               description="Owns statistics: a read model built from customer/viewing/order events, plus order facts.")
    bootstrap_service(app, settings, ServiceUnitOfWork, orm.start_mappers)
    for blp in BLUEPRINTS:
        api.register_blueprint(blp)
    return finish_app(app)
