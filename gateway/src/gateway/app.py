"""The gateway's app factory: where requests enter.

Order per request: trace id (crm_common.web), token check (crm_common.web; public paths
excepted), then ``views.proxy``: route, size limit, rate limit, streamed forwarding.
``/dashboard/`` is the analysts' page, served from ``dashboard/static`` by the gateway itself."""
from __future__ import annotations

from flask import Flask

from crm_common.config import Settings
from crm_common.web import create_base_app, docs_blueprint, finish_app

from . import dashboard, views
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
    app, api = create_base_app(settings, title="CRM API", description=DESCRIPTION, serve_docs=False,
                               forwards_bodies=True)
    bootstrap(app, settings, own_document=lambda: api.spec.to_dict())
    api.register_blueprint(views.docs_blp)
    app.register_blueprint(docs_blueprint("CRM API"))
    app.register_blueprint(dashboard.blp)  # /dashboard/: static files, outside the API document
    app.add_url_rule("/", "proxy", views.proxy, methods=views.PROXY_METHODS)
    app.add_url_rule("/<path:path>", "proxy", views.proxy, methods=views.PROXY_METHODS)
    app.after_request(views.rate_limit_headers)
    return finish_app(app)
