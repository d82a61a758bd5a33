"""The proxied path: what every routed request goes through, on the worker's event loop.

In order, as ``crm_common.web`` does for the services: the trace id; the token (401; CORS
preflights and the token issuer's public paths need none), verified once per process
(``crm_common.auth.TokenCache``, in a thread only when the issuer must be asked); the
caller's rate limit (429); the method and size limits (405, 413); then the request goes to
its service and the answer streams back (``proxy.py``). Every answer carries ``X-Trace-Id``
(and ``X-RateLimit-*`` once the limiter decided); the gateway's own errors use the envelope
of the path's surface. One JSON log line and the request metrics per request."""
from __future__ import annotations

import asyncio
import json
import time

from aiohttp import web

from crm_common import logs
from crm_common.auth import NeedsIssuer, Principal, TokenCache, bearer_token
from crm_common.envelopes import error_body, surface_for_path
from crm_common.errors import AppError, PayloadTooLarge, TooManyRequests
from crm_common.metrics import HTTP_LATENCY, HTTP_REQUESTS
from crm_common.web import is_public_path

from .proxy import BoundedBody, Upstreams, forwarded_headers, request_target
from .ratelimit import RateLimiter
from .routes import Route

log = logs.get_logger("crm.web")

PROXY_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})


# In place of aiohttp's own (its name and version).
SERVER = "crm-gateway"


class MethodNotAllowed(AppError):
    status = 405
    default_message = "请求方法不被允许"

    def __init__(self):
        super().__init__(error_code="METHOD_NOT_ALLOWED")


def trace_id_of(request: web.BaseRequest) -> str:
    """The caller's ``X-Request-ID`` or ``X-Trace-Id`` when it is sane, else a new id."""
    headers = request.headers
    return (logs.sane_trace_id(headers.get("X-Request-ID")) or logs.sane_trace_id(headers.get("X-Trace-Id"))
            or logs.new_trace_id())


def error_response(path: str, exc: AppError, headers: dict[str, str]) -> web.Response:
    """An error of the gateway itself, in the envelope of the path's surface."""
    body = error_body(surface_for_path(path), exc.status, exc.message, exc.errors, exc.error_code)
    response = web.Response(status=exc.status, body=json.dumps(body, ensure_ascii=False).encode(),
                            content_type="application/json")
    response.headers.update(exc.headers)
    response.headers.update(headers)
    return response


class Edge:
    def __init__(self, *, service: str, tokens: TokenCache, limiter: RateLimiter, upstreams: Upstreams):
        self.service = service
        self.tokens = tokens
        self.limiter = limiter
        self.upstreams = upstreams

    async def handle(self, request: web.BaseRequest, route: Route) -> web.StreamResponse:
        started = time.perf_counter()
        trace_id = trace_id_of(request)
        extra = {"X-Trace-Id": trace_id, "Server": SERVER}  # on every answer, errors included
        principal: Principal | None = None
        status = 500  # what the log says when the caller hung up or the answer broke off
        try:
            try:
                principal = await self._authenticate(request)
                response = await self._forward(request, route, principal, trace_id, extra)
            except AppError as exc:
                response = error_response(request.path, exc, extra)
                if exc.status in (400, 413):
                    response.force_close()  # the rest of the caller's body is not worth reading
            status = response.status
            return response
        finally:
            elapsed = time.perf_counter() - started
            method = request.method if request.method in PROXY_METHODS else "other"
            HTTP_REQUESTS.labels(self.service, method, route.pattern, str(status)).inc()
            HTTP_LATENCY.labels(self.service, method, route.pattern).observe(elapsed)
            fields = {"sub": principal.sub} if principal is not None else {}
            log.info("request", trace_id=trace_id, method=request.method, path=request.path,
                     upstream=route.service_name, status=status, duration_ms=round(elapsed * 1000, 2), **fields)

    async def _authenticate(self, request: web.BaseRequest) -> Principal | None:
        if request.method == "OPTIONS" or is_public_path(request.path):
            return None  # preflights carry no token; /oauth/token is how a client gets one
        token = bearer_token(request.headers.get("Authorization"))
        try:
            return self.tokens.verify(token, fetch=False)
        except NeedsIssuer:  # the issuer's keys or revocation list must be fetched: not on the loop
            return await asyncio.get_running_loop().run_in_executor(None, self.tokens.verify, token)

    async def _forward(self, request: web.BaseRequest, route: Route, principal: Principal | None,
                       trace_id: str, extra: dict[str, str]) -> web.StreamResponse:
        if principal is not None:
            decision = await self.limiter.check(principal.sub, principal.roles)
            if decision is not None:
                extra.update(decision.headers())
                if not decision.allowed:
                    raise TooManyRequests(f"请求过于频繁，请 {extra['Retry-After']} 秒后再试")
        if request.method not in PROXY_METHODS:
            raise MethodNotAllowed()
        limit = self.upstreams.max_request_bytes
        length = request.content_length
        if length is not None and length > limit:
            raise PayloadTooLarge(f"请求体超过 {limit} 字节上限")
        body = BoundedBody(request.content, limit) if request.body_exists else None
        return await self.upstreams.forward(request, route.service, request_target(request),
                                            forwarded_headers(request, trace_id), body, extra)
