"""Forwarding one request to its upstream service and its response back, streamed both ways.

One pooled ``requests.Session`` per process carries every upstream call. Request bodies are
read from the WSGI input in blocks while they are sent upstream (never whole into memory)
and cut off with 413 past ``MAX_REQUEST_BYTES``; responses are relayed in blocks as they
arrive. Failures become 503 (refused), 504 (timed out) or 502 (anything else), named after
the service and never carrying a stack trace."""
from __future__ import annotations

import time
from urllib.parse import quote

import requests
from flask import Response
from requests.adapters import HTTPAdapter
from urllib3 import HTTPConnectionPool
from urllib3.exceptions import NewConnectionError, ProtocolError, ReadTimeoutError

from crm_common import logs
from crm_common.config import Settings
from crm_common.errors import AppError, BadGateway, BadRequest, GatewayTimeout, PayloadTooLarge, ServiceUnavailable

from .metrics import UPSTREAM_ERRORS, UPSTREAM_LATENCY
from .routes import SERVICE_NAMES

log = logs.get_logger("gateway.proxy")

CHUNK = 64 * 1024
HOP_BY_HOP = frozenset({"connection", "keep-alive", "proxy-authenticate", "proxy-authorization",
                        "proxy-connection", "te", "trailer", "trailers", "transfer-encoding", "upgrade"})
# Set by the gateway (or by requests from the body) rather than copied from the caller.
NOT_FORWARDED = HOP_BY_HOP | {"host", "content-length", "expect", "x-trace-id", "x-request-id"}
# gunicorn writes its own Date and Server.
NOT_RETURNED = HOP_BY_HOP | {"date", "server"}
# Sent once more when a reused connection turned out to be closed before any answer, as
# long as they carry no body: safe or idempotent (RFC 9110 §9.2.2), so a repeat is harmless.
RETRYABLE_METHODS = frozenset({"GET", "HEAD", "OPTIONS", "DELETE"})
# Characters kept as the client sent them in the request target ("%" keeps escapes intact).
TARGET_SAFE = "/?&=%:@!$'()*+,;[]~-._"


class BodyTooLarge(Exception):
    """The client's body went past MAX_REQUEST_BYTES while it was being streamed."""


class ClientBodyError(Exception):
    """Reading the client's body failed (it hung up or sent a broken chunk)."""


class BoundedBody:
    """The caller's body as a file-like object that requests streams upstream block by
    block. ``len`` (when the caller sent Content-Length) makes requests send the same
    Content-Length; without it the body goes upstream chunked."""

    def __init__(self, stream, limit: int, length: int | None = None):
        self._stream = stream
        self._limit = limit
        self.seen = 0
        if length is not None:
            self.len = length

    def read(self, size: int = -1) -> bytes:
        size = CHUNK if size is None or size < 0 else min(size, CHUNK)
        try:
            data = self._stream.read(size)
        except Exception as exc:  # noqa: BLE001 - whatever the server raises for a broken body
            raise ClientBodyError(type(exc).__name__) from exc
        self.seen += len(data)
        if self.seen > self._limit:
            raise BodyTooLarge(self.seen)
        return data

    def __iter__(self):
        while True:
            block = self.read(CHUNK)
            if not block:
                return
            yield block


class _NoCookies(requests.cookies.RequestsCookieJar):
    """The session is shared by every caller: it must never remember anyone's cookies."""

    def extract_cookies(self, response, request):  # noqa: D401
        return None

    def set_cookie(self, cookie, *args, **kwargs):
        return None


class _IdleBoundedPool(HTTPConnectionPool):
    """Never hands out a pooled connection that sat idle longer than ``max_idle`` seconds:
    the service may be closing it right now (gunicorn drops idle keep-alive connections
    after GUNICORN_KEEPALIVE), and a request written into a closing connection fails
    without ever reaching the service. Keep ``max_idle`` below the services' keep-alive."""

    max_idle = 30.0

    def _get_conn(self, timeout=None):
        conn = super()._get_conn(timeout)
        idle_since = getattr(conn, "_crm_idle_since", None)
        if idle_since is not None and time.monotonic() - idle_since > self.max_idle:
            conn.close()  # reconnects on use
        return conn

    def _put_conn(self, conn):
        if conn is not None:
            conn._crm_idle_since = time.monotonic()
        return super()._put_conn(conn)


class _IdleBoundedAdapter(HTTPAdapter):
    def __init__(self, *args, max_idle: float, **kwargs):
        self._max_idle = max_idle
        super().__init__(*args, **kwargs)

    def init_poolmanager(self, *args, **kwargs):
        super().init_poolmanager(*args, **kwargs)
        pool_class = type("IdleBoundedPool", (_IdleBoundedPool,), {"max_idle": self._max_idle})
        self.poolmanager.pool_classes_by_scheme = {"http": pool_class,
                                                   "https": self.poolmanager.pool_classes_by_scheme["https"]}


def build_session(pool_size: int, max_idle: float = 30.0) -> requests.Session:
    session = requests.Session()
    session.trust_env = False  # no proxies or netrc from the environment for internal calls
    session.cookies = _NoCookies()
    adapter = _IdleBoundedAdapter(pool_connections=len(SERVICE_NAMES) + 1, pool_maxsize=pool_size, max_retries=0,
                                  max_idle=max_idle)
    session.mount("http://", adapter)
    session.mount("https://", adapter)
    return session


def request_target(environ: dict) -> str:
    """Path and query string exactly as the caller sent them (escapes kept, so a
    ``%2F`` or a ``+`` means upstream what it meant here; raw non-ASCII bytes get escaped)."""
    raw = environ.get("RAW_URI") or environ.get("REQUEST_URI") or ""
    if not raw.startswith("/"):  # absolute-form or a server without RAW_URI
        path = quote(environ.get("PATH_INFO", "").encode("latin-1"), safe=TARGET_SAFE.replace("%", ""))
        query = environ.get("QUERY_STRING", "")
        raw = path + (f"?{query}" if query else "")
    raw = raw.split("#", 1)[0]
    return quote(raw.encode("latin-1"), safe=TARGET_SAFE)


def forwarded_headers(headers, *, trace_id: str, remote_addr: str | None, scheme: str,
                      host: str | None) -> dict[str, str]:
    """The caller's headers minus hop-by-hop ones, plus the trace id and X-Forwarded-*.
    ``Authorization`` goes on unchanged: every service checks the token again."""
    named_by_connection = {token.strip().lower() for token in headers.get("Connection", "").split(",")}
    out: dict[str, str] = {}
    for name, value in headers.items():
        lowered = name.lower()
        if lowered in NOT_FORWARDED or lowered in named_by_connection:
            continue
        out[name] = value
    out["X-Trace-Id"] = trace_id
    out["X-Request-ID"] = trace_id
    if remote_addr:
        previous = headers.get("X-Forwarded-For")
        out["X-Forwarded-For"] = f"{previous}, {remote_addr}" if previous else remote_addr
    out.setdefault("X-Forwarded-Proto", scheme)
    if host:
        out.setdefault("X-Forwarded-Host", host)
    return out


def _caused_by(exc: BaseException, *types: type) -> bool:
    seen: set[int] = set()
    stack: list[object] = [exc]
    while stack:
        item = stack.pop()
        if not isinstance(item, BaseException) or id(item) in seen:
            continue
        seen.add(id(item))
        if isinstance(item, types):
            return True
        stack.extend(item.args)
        stack.extend([item.__cause__, item.__context__, getattr(item, "reason", None)])
    return False


def failure_kind(exc: requests.RequestException) -> str:
    """unavailable (connection refused / no such host), timeout, or bad_gateway."""
    if isinstance(exc, requests.Timeout) or _caused_by(exc, ReadTimeoutError):
        return "timeout"
    if isinstance(exc, requests.ConnectionError) and _caused_by(exc, NewConnectionError, ConnectionRefusedError):
        return "unavailable"
    return "bad_gateway"


class Upstreams:
    """Every call from the gateway to a service goes through here."""

    def __init__(self, service_urls: dict[str, str], *, connect_timeout: float, read_timeout: float,
                 max_request_bytes: int, pool_size: int = 32, max_idle: float = 30.0):
        self.urls = {name: url.rstrip("/") for name, url in service_urls.items()}
        self.connect_timeout = connect_timeout
        self.read_timeout = read_timeout
        self.max_request_bytes = max_request_bytes
        self.session = build_session(pool_size, max_idle)

    @classmethod
    def from_settings(cls, settings: Settings) -> "Upstreams":
        return cls(settings.service_urls, connect_timeout=settings.upstream_connect_timeout,
                   read_timeout=settings.upstream_read_timeout, max_request_bytes=settings.max_request_bytes,
                   pool_size=settings.get_int("UPSTREAM_POOL_SIZE", 32),
                   max_idle=settings.get_float("UPSTREAM_MAX_IDLE_SECONDS", 30.0))

    # --- internal calls (readiness, API documents) -------------------------------------------

    def get(self, service: str, path: str, timeout: float) -> requests.Response:
        return self.session.get(self.urls[service] + path, headers=logs.trace_headers(),
                                timeout=(min(self.connect_timeout, timeout), timeout), allow_redirects=False)

    # --- proxying -------------------------------------------------------------------------

    def forward(self, service: str, method: str, target: str, headers: dict[str, str],
                body: BoundedBody | None) -> Response:
        """Send the request upstream and relay the answer (status, headers, streamed body)."""
        name = SERVICE_NAMES[service]
        prepared = requests.PreparedRequest()
        prepared.prepare(method=method, url=self.urls[service] + "/", headers=headers, data=body)
        prepared.url = self.urls[service] + target  # exactly as the caller sent it, no re-quoting
        started = time.perf_counter()
        attempts = 2 if method in RETRYABLE_METHODS and body is None else 1
        for attempt in range(attempts):
            try:
                upstream = self.session.send(prepared, stream=True, allow_redirects=False,
                                             timeout=(self.connect_timeout, self.read_timeout))
                break
            except BodyTooLarge:
                raise PayloadTooLarge(f"请求体超过 {self.max_request_bytes} 字节上限") from None
            except ClientBodyError:
                raise BadRequest("请求体不完整或读取失败") from None
            except requests.RequestException as exc:
                kind = failure_kind(exc)
                # A pooled keep-alive connection the service had just closed: a safe or
                # idempotent request without a body is sent once more; nothing else is.
                if attempt + 1 < attempts and kind == "bad_gateway" and _caused_by(exc, ProtocolError):
                    continue
                raise self._failure(name, kind, exc, time.perf_counter() - started) from None
        UPSTREAM_LATENCY.labels(name).observe(time.perf_counter() - started)
        return self._relay(name, upstream)

    def _failure(self, name: str, kind: str, exc: Exception, elapsed: float) -> AppError:
        UPSTREAM_ERRORS.labels(name, kind).inc()
        UPSTREAM_LATENCY.labels(name).observe(elapsed)
        log.warning("upstream_failed", upstream=name, kind=kind, error=type(exc).__name__,
                    elapsed_ms=round(elapsed * 1000, 1))
        if kind == "unavailable":
            return ServiceUnavailable(f"{name} 暂不可用（无法建立连接），请稍后重试")
        if kind == "timeout":
            return GatewayTimeout(f"{name} 响应超时（超过 {self.read_timeout:g} 秒），请稍后重试")
        return BadGateway(f"{name} 返回了无效响应，请稍后重试")

    def _relay(self, name: str, upstream: requests.Response) -> Response:
        headers = []
        named_by_connection = {token.strip().lower()
                               for token in upstream.headers.get("Connection", "").split(",")}
        base = self._base_of(upstream.url)
        for key, value in upstream.raw.headers.items():
            lowered = key.lower()
            if lowered in NOT_RETURNED or lowered in named_by_connection:
                continue
            if lowered == "location" and base and value.startswith(base):
                value = value[len(base):] or "/"  # never leak internal URLs
            headers.append((key, value))
        trace_id = logs.current_trace_id()

        def body():
            try:
                yield from upstream.raw.stream(CHUNK, decode_content=False)
            except Exception as exc:
                UPSTREAM_ERRORS.labels(name, "stream_aborted").inc()
                log.warning("upstream_stream_aborted", upstream=name, error=type(exc).__name__,
                            trace_id=trace_id)
                raise  # the caller sees a cut-off body, not a complete-looking one
            finally:
                upstream.close()

        response = Response(body(), status=upstream.status_code, headers=headers, direct_passthrough=True)
        if "content-type" not in upstream.headers:
            response.headers.pop("Content-Type", None)
        response.call_on_close(upstream.close)
        return response

    def _base_of(self, url: str | None) -> str | None:
        for base in self.urls.values():
            if url and url.startswith(base):
                return base
        return None
