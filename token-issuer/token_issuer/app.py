"""token-issuer app factory: where requests enter."""
from __future__ import annotations

from functools import partial

from flask import Flask

from crm_common.config import Settings
from crm_common.db import database_ready
from crm_common.web import add_ready_check, create_base_app, finish_app

from . import __version__
from .bootstrap import build_issuer
from .entrypoints import api_clients, oauth
from .service_layer.keys import ensure_signing_key

BLUEPRINTS = [oauth.blp, api_clients.blp]


def create_app(settings: Settings | None = None) -> Flask:
    settings = settings or Settings.from_env("issuer")
    app, api = create_base_app(settings, release=__version__, title="token-issuer",
                               description="Integrator credentials: OAuth 2.0 client credentials, tokens "
                                           "signed with an asymmetric key published as a JWKS, rotation "
                                           "and revocation (CONTRACT §3).")
    parts = build_issuer(settings)
    app.extensions["issuer"] = parts
    add_ready_check(app, "database", partial(database_ready, parts.engine))
    # A database migrated by a separate job may have no key yet: the first start makes one.
    ensure_signing_key(parts.uow_factory(), parts.keys, parts.key_algorithm, parts.now())
    for blp in BLUEPRINTS:
        api.register_blueprint(blp)
    return finish_app(app)
