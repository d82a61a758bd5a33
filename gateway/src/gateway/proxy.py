"""Forwarding one request to its upstream service and its response back, streamed both ways,
on the worker's event loop.

One ``aiohttp.ClientSession`` per worker carries every proxied call. Request bodies are read
from the client in blocks while they are sent upstream (never whole into memory) and cut
off with 413 past ``MAX_REQUEST_BYTES``; responses are relayed in blocks as they arrive.
Failures become 503 (refused), 504 (timed out) or 502 (anything else), named after the
service and never carrying a stack trace.

Pooled connections idle for more than ``UPSTREAM_MAX_IDLE_SECONDS`` are closed, never
reused (the services drop idle keep-alive connections after ``GUNICORN_KEEPALIVE``, 75 s,
and a request written into a connection the service is closing fails unanswered). A
request whose pooled connection was closed before any answer is sent once more only when
it is idempotent and carries no body (aiohttp's rule, RFC 9112 §9.3.1.1: GET, HEAD,
OPTIONS, DELETE, PUT, TRACE); POST and PATCH never are, nor is any body already streamed."""
from __future__ import annotations

import asyncio
import time
from urllib.parse import quote

import aiohttp
from aiohttp import web
from multidict import CIMultiDict
from yarl import URL

from crm_common import logs
from crm_common.config import Settings
from crm_common.errors import AppError, BadGateway, BadRequest, GatewayTimeout, PayloadTooLarge, ServiceUnavailable

from .metrics import UPSTREAM_ERRORS, UPSTREAM_LATENCY
from .routes import SERVICE_NAMES

log = logs.get_logger("gateway.proxy")

CHUNK = 64 * 1024
HOP_BY_HOP = frozenset({"connection", "keep-alive", "proxy-authenticate", "proxy-authorization",
                        "proxy-connection", "te", "trailer", "trailers", "transfer-encoding", "upgrade"})
# Set by the gateway (or by the client library from the body) rather than copied from the caller.
NOT_FORWARDED = HOP_BY_HOP | {"host", "expect", "x-trace-id", "x-request-id"}
# The gateway's server writes its own Date and Server.
NOT_RETURNED = HOP_BY_HOP | {"date", "server"}
# Characters kept as the client sent them in the request target ("%" keeps escapes intact).
TARGET_SAFE = "/?&=%:@!$'()*+,;[]~-._"
# Headers aiohttp would add on its own: the caller's go upstream as they are, or not at all.
NO_AUTO_HEADERS = frozenset({"Accept", "Accept-Encoding", "User-Agent", "Content-Type"})


class BoundedBody:
    """The caller's body as the async iterator aiohttp streams upstream, cut off past
    ``limit`` bytes. What went wrong is kept here (``too_large``, ``broken``), because the
    client library reports a failed body write as a generic connection error."""

    def __init__(self, stream: aiohttp.StreamReader, limit: int):
        self._stream = stream
        self._limit = limit
        self.seen = 0
        self.too_large = False
        self.broken = False

    async def __aiter__(self):
        while True:
            try:
                block = await self._stream.readany()
            except Exception:  # the client hung up or sent a broken chunk
                self.broken = True
                raise
            if not block:
                return
            self.seen += len(block)
            if self.seen > self._limit:
                self.too_large = True
                raise PayloadTooLarge()
            yield block


def request_target(request: web.BaseRequest) -> str:
    """Path and query string exactly as the caller sent them (escapes kept, so a ``%2F``
    or a ``+`` means upstream what it meant here). Raw non-ASCII bytes never get here (the
    server refuses such a request line with 400); whatever else is unsafe gets escaped."""
    raw = request.raw_path
    if not raw.startswith("/"):  # absolute-form target ("GET http://host/path")
        raw = request.rel_url.raw_path_qs
    raw = raw.split("#", 1)[0]
    return quote(raw.encode("utf-8", "surrogateescape"), safe=TARGET_SAFE)


def forwarded_headers(request: web.BaseRequest, trace_id: str) -> CIMultiDict:
    """The caller's headers minus hop-by-hop ones, plus the trace id and X-Forwarded-*.
    ``Authorization`` goes on unchanged: every service checks the token again."""
    headers = request.headers
    named_by_connection = {token.strip().lower() for token in headers.get("Connection", "").split(",")}
    out = CIMultiDict()
    for name, value in headers.items():
        lowered = name.lower()
        if lowered in NOT_FORWARDED or lowered in named_by_connection:
            continue
        out.add(name, value)
    out["X-Trace-Id"] = trace_id
    out["X-Request-ID"] = trace_id
    remote = request.remote
    if remote:
        previous = ", ".join(headers.getall("X-Forwarded-For", []))
        out["X-Forwarded-For"] = f"{previous}, {remote}" if previous else remote
    out.setdefault("X-Forwarded-Proto", request.scheme)
    if request.host:
        out.setdefault("X-Forwarded-Host", request.host)
    return out


def failure_kind(exc: BaseException) -> str:
    """unavailable (connection refused / no such host), timeout, or bad_gateway."""
    if isinstance(exc, (asyncio.TimeoutError, aiohttp.ServerTimeoutError)):
        return "timeout"
    if isinstance(exc, aiohttp.ClientConnectorError):
        return "unavailable"
    return "bad_gateway"


class Upstreams:
    """Every proxied call from the gateway to a service goes through here. The session is
    made on the worker's event loop (``start``), after gunicorn forked the worker."""

    def __init__(self, service_urls: dict[str, str], *, connect_timeout: float, read_timeout: float,
                 max_request_bytes: int, max_connections: int = 256, max_idle: float = 30.0):
        self.urls = {name: url.rstrip("/") for name, url in service_urls.items()}
        self.connect_timeout = connect_timeout
        self.read_timeout = read_timeout
        self.max_request_bytes = max_request_bytes
        self.max_connections = max_connections
        self.max_idle = max_idle
        self._session: aiohttp.ClientSession | None = None

    @classmethod
    def from_settings(cls, settings: Settings) -> "Upstreams":
        return cls(settings.service_urls, connect_timeout=settings.upstream_connect_timeout,
                   read_timeout=settings.upstream_read_timeout, max_request_bytes=settings.max_request_bytes,
                   max_connections=settings.get_int("UPSTREAM_MAX_CONNECTIONS", 256),
                   max_idle=settings.get_float("UPSTREAM_MAX_IDLE_SECONDS", 30.0))

    async def start(self) -> None:
        connector = aiohttp.TCPConnector(
            limit=0,  # no limit across services: one slow service never holds up the others
            limit_per_host=self.max_connections,
            keepalive_timeout=self.max_idle,  # an idle connection older than this is closed, not reused
            ttl_dns_cache=60)
        self._session = aiohttp.ClientSession(
            connector=connector, cookie_jar=aiohttp.DummyCookieJar(),  # shared by every caller: no cookies kept
            auto_decompress=False, trust_env=False, skip_auto_headers=NO_AUTO_HEADERS,
            # waiting for a connection counts as connecting; then each read may take read_timeout
            timeout=aiohttp.ClientTimeout(total=None, connect=self.connect_timeout,
                                          sock_connect=self.connect_timeout, sock_read=self.read_timeout))

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()

    async def forward(self, request: web.BaseRequest, service: str, target: str, headers: CIMultiDict,
                      body: BoundedBody | None, extra_headers: dict[str, str]) -> web.StreamResponse:
        """Send the request upstream and relay the answer (status, headers, streamed body);
        ``extra_headers`` (trace id, rate limit) go onto the answer."""
        name = SERVICE_NAMES[service]
        url = URL(self.urls[service] + target, encoded=True)  # exactly as the caller sent it
        started = time.perf_counter()
        try:
            upstream = await self._session.request(
                request.method, url, headers=headers, data=body, allow_redirects=False)
        except Exception as exc:
            if body is not None and body.too_large:
                raise PayloadTooLarge(f"请求体超过 {self.max_request_bytes} 字节上限") from None
            if body is not None and body.broken:
                raise BadRequest("请求体不完整或读取失败") from None
            if not isinstance(exc, (aiohttp.ClientError, asyncio.TimeoutError, OSError)):
                raise
            raise self._failure(name, failure_kind(exc), exc, time.perf_counter() - started) from None
        UPSTREAM_LATENCY.labels(name).observe(time.perf_counter() - started)
        return await self._relay(request, name, upstream, extra_headers)

    def _failure(self, name: str, kind: str, exc: BaseException, elapsed: float) -> AppError:
        UPSTREAM_ERRORS.labels(name, kind).inc()
        UPSTREAM_LATENCY.labels(name).observe(elapsed)
        log.warning("upstream_failed", upstream=name, kind=kind, error=type(exc).__name__,
                    elapsed_ms=round(elapsed * 1000, 1))
        if kind == "unavailable":
            return ServiceUnavailable(f"{name} 暂不可用（无法建立连接），请稍后重试")
        if kind == "timeout":
            return GatewayTimeout(f"{name} 响应超时（超过 {self.read_timeout:g} 秒），请稍后重试")
        return BadGateway(f"{name} 返回了无效响应，请稍后重试")

    async def _relay(self, request: web.BaseRequest, name: str, upstream: aiohttp.ClientResponse,
                     extra_headers: dict[str, str]) -> web.StreamResponse:
        response = web.StreamResponse(status=upstream.status, reason=upstream.reason)
        out = response.headers
        named_by_connection = {token.strip().lower()
                               for token in upstream.headers.get("Connection", "").split(",")}
        base = self._base_of(str(upstream.url))
        for raw_key, raw_value in upstream.raw_headers:
            key, value = raw_key.decode("latin-1"), raw_value.decode("latin-1")
            lowered = key.lower()
            if lowered in NOT_RETURNED or lowered in named_by_connection:
                continue
            if lowered == "location" and base and value.startswith(base):
                value = value[len(base):] or "/"  # never leak internal URLs
            out.add(key, value)
        out.update(extra_headers)
        try:
            await response.prepare(request)
            async for block in upstream.content.iter_chunked(CHUNK):
                await response.write(block)
        except (ConnectionResetError, aiohttp.ClientConnectionResetError):
            upstream.close()  # the caller hung up: stop reading the service's answer
            raise
        except (aiohttp.ClientError, asyncio.TimeoutError) as exc:
            upstream.close()
            UPSTREAM_ERRORS.labels(name, "stream_aborted").inc()
            log.warning("upstream_stream_aborted", upstream=name, error=type(exc).__name__,
                        trace_id=extra_headers.get("X-Trace-Id"))
            raise StreamAborted(name) from None  # the caller sees a cut-off body, not a complete one
        upstream.release()
        await response.write_eof()
        return response

    def _base_of(self, url: str) -> str | None:
        for base in self.urls.values():
            if url.startswith(base):
                return base
        return None


class StreamAborted(Exception):
    """The service's answer broke off after its headers were relayed: the connection to the
    caller is closed without ending the body (``worker.EnvelopeRequestHandler``)."""
