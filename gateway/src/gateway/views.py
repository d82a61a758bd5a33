"""The gateway's own API endpoint served by Flask: the merged OpenAPI document (the
proxied paths never reach Flask: ``edge.py``)."""
from __future__ import annotations

from flask import jsonify

from crm_common import authz
from crm_common.web import Blueprint

from .bootstrap import gateway

docs_blp = Blueprint("gateway_docs", __name__, description="The API documentation of every service, merged (no token needed)")


@docs_blp.route("/openapi.json")
@docs_blp.doc(operationId="getOpenApiDocument")
@docs_blp.doc(security=[], responses={"200": {"description": "OpenAPI 3 document"}})
@authz.public
def openapi_json():
    """One OpenAPI document for the whole API: the gateway's paths plus every service's,
    fetched from the services and cached for about 30 seconds. A service that cannot be
    reached is listed as unavailable in `info.description`."""
    return jsonify(gateway().document.get())
