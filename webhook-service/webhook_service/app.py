"""webhook-service app factory: where requests enter."""
from __future__ import annotations

from flask import Flask

from crm_common.bootstrap import bootstrap_service
from crm_common.config import Settings
from crm_common.web import create_base_app, finish_app

from . import __version__
from .bootstrap import bootstrap
from .entrypoints import webhooks
from .service_layer.unit_of_work import WebhookUnitOfWork


def create_app(settings: Settings | None = None) -> Flask:
    settings = settings or Settings.from_env("webhook")
    app, api = create_base_app(settings, release=__version__, title="webhook-service",
                               description="Webhook subscriptions and signed, retried, ordered deliveries "
                                           "of CRM events to outside systems (CONTRACT §6).")
    app.extensions["webhooks"] = bootstrap(settings)
    bootstrap_service(app, settings, WebhookUnitOfWork)
    api.register_blueprint(webhooks.blp)
    return finish_app(app)
