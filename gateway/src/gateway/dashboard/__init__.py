"""The analysts' dashboard (CONTRACT §4 ``/dashboard/...``): one static page and its assets,
served by the gateway itself. The files need no token (CONTRACT §3: every view here is
``@public``); the page's data calls go to the APIs with the user's.

Every file the page loads is under ``static/`` (the chart library is vendored, see
``static/vendor/echarts/README.md``), and the Content-Security-Policy below keeps the
browser from loading or calling anything on another origin."""
from __future__ import annotations

from pathlib import Path

from flask import Blueprint, Response, send_from_directory
from werkzeug.exceptions import MethodNotAllowed

from crm_common import authz

STATIC = Path(__file__).resolve().parent / "static"

CONTENT_SECURITY_POLICY = "; ".join([
    "default-src 'self'",
    "script-src 'self'",
    # ECharts writes style attributes into the markup of its tooltips.
    "style-src 'self' 'unsafe-inline'",
    "img-src 'self' data: blob:",
    "connect-src 'self'",
    "object-src 'none'",
    "base-uri 'none'",
    "form-action 'none'",
    "frame-ancestors 'none'",
])

blp = Blueprint("dashboard", __name__, url_prefix="/dashboard")


@blp.get("/")
@authz.public
def page():
    """The dashboard page (``/dashboard`` redirects here, so relative asset URLs resolve)."""
    return send_from_directory(STATIC, "index.html")


@blp.get("/<path:asset>")
@authz.public
def asset(asset: str):
    """A file of the page (scripts, styles, the vendored chart library); a path outside
    ``static/`` is 404, never another file."""
    return send_from_directory(STATIC, asset)


@blp.route("/", methods=["POST", "PUT", "PATCH", "DELETE"])
@blp.route("/<path:asset>", methods=["POST", "PUT", "PATCH", "DELETE"])
@authz.public
def read_only(asset: str = ""):
    """405: every request under ``/dashboard/`` is answered here, never proxied upstream."""
    raise MethodNotAllowed(valid_methods=["GET", "HEAD"])


@blp.after_request
def page_headers(response: Response) -> Response:
    # Revalidated on every load (ETag/Last-Modified answer 304), so an upgraded gateway
    # never leaves a browser with last version's scripts.
    response.headers["Cache-Control"] = "no-cache"
    response.headers["Content-Security-Policy"] = CONTENT_SECURITY_POLICY
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["Referrer-Policy"] = "no-referrer"
    return response
