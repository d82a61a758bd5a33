"""analytics-service app factory: where requests enter."""
from __future__ import annotations

from flask import Flask

from crm_common.config import Settings
from crm_common.web import create_base_app, finish_app

from . import __version__
from .bootstrap import SERVICE, bootstrap, install
from .entrypoints import analyses, external, mobile, orders


def create_app(settings: Settings | None = None) -> Flask:
    analytics = bootstrap(settings or Settings.from_env(SERVICE))
    app, api = create_base_app(analytics.settings, release=__version__, title="analytics-service",
                               description="Owns statistics: a read model built from customer/viewing/order "
                                           "events, plus order facts.")
    install(app, analytics)
    for blp in (mobile.blp, external.blp, orders.blp, analyses.blp):
        api.register_blueprint(blp)
    return finish_app(app)
