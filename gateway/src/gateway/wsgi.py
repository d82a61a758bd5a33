"""The gateway's own Flask app (``app.py``) served from the event loop: each request runs in
a small pool of threads (``GATEWAY_OWN_THREADS``, 4), its body read before and its answer
collected after. These answers are small and rare next to the proxied traffic: health,
readiness, the merged API document, the docs page and its assets, 401/404 for paths no
service owns."""
from __future__ import annotations

import asyncio
import io
import sys
from concurrent.futures import ThreadPoolExecutor
from urllib.parse import unquote_to_bytes

from aiohttp import web

from crm_common.errors import PayloadTooLarge

from .edge import SERVER, error_response, trace_id_of

# Set by aiohttp from the body it sends.
NOT_COPIED = frozenset({"content-length", "transfer-encoding", "connection"})


class WsgiBridge:
    def __init__(self, app, *, threads: int, max_body: int):
        self.app = app
        self.max_body = max_body
        self.pool = ThreadPoolExecutor(max_workers=threads, thread_name_prefix="gateway-own")

    async def __call__(self, request: web.BaseRequest) -> web.Response:
        try:
            body = await self._read_body(request)
        except PayloadTooLarge as exc:
            response = error_response(request.path, exc, {"X-Trace-Id": trace_id_of(request)})
            response.force_close()
            return response
        environ = self._environ(request, body)
        status, headers, chunks = await asyncio.get_running_loop().run_in_executor(self.pool, self._call, environ)
        copied = NOT_COPIED if request.method != "HEAD" else NOT_COPIED - {"content-length"}
        response = web.Response(status=status, headers=[(k, v) for k, v in headers if k.lower() not in copied])
        response.headers["Server"] = SERVER
        if request.method != "HEAD":
            response.body = b"".join(chunks)
        return response

    async def _read_body(self, request: web.BaseRequest) -> bytes:
        if request.content_length is not None and request.content_length > self.max_body:
            raise PayloadTooLarge()
        body = bytearray()
        async for block in request.content.iter_any():
            body += block
            if len(body) > self.max_body:
                raise PayloadTooLarge()
        return bytes(body)

    def _environ(self, request: web.BaseRequest, body: bytes) -> dict:
        """PEP 3333: PATH_INFO is the percent-decoded path as latin-1 text."""
        raw = request.raw_path if request.raw_path.startswith("/") else request.rel_url.raw_path_qs
        path, _, query = raw.partition("?")
        host, _, port = (request.host or "").partition(":")
        environ = {
            "REQUEST_METHOD": request.method, "SCRIPT_NAME": "",
            "PATH_INFO": unquote_to_bytes(path).decode("latin-1"), "QUERY_STRING": query, "RAW_URI": raw,
            "SERVER_NAME": host or "localhost", "SERVER_PORT": port or "80",
            "SERVER_PROTOCOL": f"HTTP/{request.version.major}.{request.version.minor}",
            "REMOTE_ADDR": request.remote or "",
            "wsgi.version": (1, 0), "wsgi.url_scheme": request.scheme, "wsgi.input": io.BytesIO(body),
            "wsgi.errors": sys.stderr, "wsgi.multithread": True, "wsgi.multiprocess": True, "wsgi.run_once": False,
        }
        for name, value in request.headers.items():
            key = name.upper().replace("-", "_")
            if key in ("CONTENT_TYPE", "CONTENT_LENGTH"):
                environ[key] = value
                continue
            key = "HTTP_" + key
            environ[key] = f"{environ[key]},{value}" if key in environ else value
        if body:
            environ["CONTENT_LENGTH"] = str(len(body))
        return environ

    def _call(self, environ: dict) -> tuple[int, list[tuple[str, str]], list[bytes]]:
        started: list = []

        def start_response(status, headers, exc_info=None):
            started[:] = [int(status.split(" ", 1)[0]), headers]
            return lambda data: chunks.append(data)

        chunks: list[bytes] = []
        result = self.app(environ, start_response)
        try:
            chunks.extend(result)
        finally:
            close = getattr(result, "close", None)
            if close is not None:
                close()
        return started[0], started[1], chunks

    def close(self) -> None:
        self.pool.shutdown(wait=False, cancel_futures=True)
