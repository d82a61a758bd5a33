"""The gateway's Flask app: its own endpoints (``/healthz``, ``/readyz``, ``/openapi.json``,
``/docs``) and the answer to every path no service owns (401 without a token, else 404).

``/dashboard/`` is the analysts' page, served from ``dashboard/static`` by the gateway itself.

Requests do not enter here first: gunicorn serves ``server.py``, which proxies the routed
paths itself on its event loop (``edge.py``) and hands every other request to this app."""
from __future__ import annotations

from flask import Flask

from crm_common.config import Settings
from crm_common.web import create_base_app, docs_blueprint, finish_app

from . import __version__, dashboard, views
from .bootstrap import bootstrap

DESCRIPTION = (
    "One entry point to the CRM services. Every path except /healthz, /readyz, /docs, "
    "/openapi.json, /oauth/token, /.well-known/jwks.json and the dashboard's static files "
    "(/dashboard/) needs `Authorization: Bearer <JWT>`. Responses carry `X-Trace-Id`; routed "
    "responses carry `X-RateLimit-Limit`, `X-RateLimit-Remaining` and `X-RateLimit-Reset` "
    "(seconds until the caller's bucket is full again)."
)


def create_app(settings: Settings | None = None) -> Flask:
    settings = settings or Settings.from_env("gateway")
    app, api = create_base_app(settings, release=__version__, title="CRM API", description=DESCRIPTION, serve_docs=False)
    bootstrap(app, settings, own_document=lambda: api.spec.to_dict())
    api.register_blueprint(views.docs_blp)
    app.register_blueprint(docs_blueprint("CRM API"))
    app.register_blueprint(dashboard.blp)  # /dashboard/: static files, outside the API document
    return finish_app(app)
