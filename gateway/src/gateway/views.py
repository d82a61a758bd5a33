"""The gateway's own endpoints (merged docs) and the proxy view every routed path enters."""
from __future__ import annotations

from flask import Response, g, jsonify, request
from werkzeug.wsgi import get_input_stream

from crm_common import authz, logs
from crm_common.errors import NotFound, PayloadTooLarge, TooManyRequests
from crm_common.web import Blueprint

from .bootstrap import gateway
from .proxy import BoundedBody, forwarded_headers, request_target
from .routes import resolve

docs_blp = Blueprint("gateway_docs", __name__, description="The API documentation of every service, merged (no token needed)")


@docs_blp.route("/openapi.json")
@docs_blp.doc(security=[], responses={"200": {"description": "OpenAPI 3 document"}})
@authz.public
def openapi_json():
    """One OpenAPI document for the whole API: the gateway's paths plus every service's,
    fetched from the services and cached for about 30 seconds. A service that cannot be
    reached is listed as unavailable in `info.description`."""
    return jsonify(gateway().document.get())


PROXY_METHODS = ["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"]


@authz.authenticated
def proxy(path: str = ""):
    """Every other path. The token was checked already (crm_common.web); then the caller's
    rate limit, the route, the size limit, and the request goes to its service with the
    answer streamed back."""
    parts = gateway()
    principal = g.get("principal")
    if principal is not None:  # None only for OPTIONS preflights, which carry no token
        decision = parts.limiter.check(principal.sub, principal.roles)
        g.rate_limit = decision
        if decision is not None and not decision.allowed:
            raise TooManyRequests(f"请求过于频繁，请 {decision.headers()['Retry-After']} 秒后再试",
                                  headers=decision.headers())
    route = resolve(request.path)
    if route is None:
        raise NotFound(f"接口不存在：{request.path}")
    limit = parts.upstreams.max_request_bytes
    length = request.content_length
    if length is not None and length > limit:
        raise PayloadTooLarge(f"请求体超过 {limit} 字节上限")
    logs.bind(upstream=route.service_name)
    chunked = "chunked" in request.headers.get("Transfer-Encoding", "").lower()
    body = None
    if chunked or (length or 0) > 0:
        body = BoundedBody(get_input_stream(request.environ), limit, None if chunked else length)
    headers = forwarded_headers(request.headers, trace_id=g.trace_id, remote_addr=request.remote_addr,
                                scheme=request.scheme, host=request.host)
    return parts.upstreams.forward(route.service, request.method, request_target(request.environ),
                                   headers, body)


def rate_limit_headers(response: Response) -> Response:
    """``X-RateLimit-*`` on every response that went through the limiter (429s included)."""
    decision = g.get("rate_limit")
    if decision is not None:
        response.headers.update(decision.headers())
    return response
