"""viewing-service app factory: where requests enter."""
from __future__ import annotations

from flask import Flask

from crm_common.config import Settings
from crm_common.web import create_base_app, finish_app

from .bootstrap import bootstrap
from .entrypoints import external, internal

BLUEPRINTS = [external.blp, internal.blp]


def create_app(settings: Settings | None = None) -> Flask:
    settings = settings or Settings.from_env("viewing")
    app, api = create_base_app(settings, title="viewing-service",
                               description="Owns property-viewing records (seed 002); publishes viewing.recorded / viewing.updated.")
    bootstrap(app, settings)
    for blp in BLUEPRINTS:
        api.register_blueprint(blp)
    return finish_app(app)
