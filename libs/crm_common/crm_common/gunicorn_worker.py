"""gunicorn's threaded worker, except that the errors gunicorn answers by itself (a request
line or header it refuses before any app code runs: 400, 414, 431, 501...) use the
surface's envelope with an ``X-Trace-Id``, like every other error a client can get
(CONTRACT §4), instead of gunicorn's bare HTML page. gunicorn still decides the status
and logs the request; only the bytes written back change."""
from __future__ import annotations

import json

from gunicorn.workers.gthread import ThreadWorker

from .envelopes import error_body, surface_for_path
from .logs import new_trace_id

MESSAGES = {400: "请求格式错误", 414: "请求地址过长", 431: "请求头过大", 417: "不支持的 Expect 请求头",
            403: "请求被拒绝", 501: "不支持的传输编码", 500: "服务器内部错误"}


class _Capture:
    """Stands in for the client socket while gunicorn writes its HTML error page."""

    def __init__(self):
        self.data = b""

    def gettimeout(self):
        return 0.0

    def setblocking(self, _flag):
        pass

    def sendall(self, data):
        self.data += data

    send = sendall


def envelope_response(status: int, reason: str, path: str | None) -> bytes:
    trace_id = new_trace_id()
    body = json.dumps(error_body(surface_for_path(path or ""), status, MESSAGES.get(status, reason)),
                      ensure_ascii=False).encode("utf-8")
    head = (f"HTTP/1.1 {status} {reason}\r\nConnection: close\r\n"
            f"Content-Type: application/json; charset=utf-8\r\nContent-Length: {len(body)}\r\n"
            f"X-Trace-Id: {trace_id}\r\n\r\n")
    return head.encode("latin-1") + body


class EnvelopeThreadWorker(ThreadWorker):
    def handle_error(self, req, client, addr, exc):
        capture = _Capture()
        super().handle_error(req, capture, addr, exc)
        status_line = capture.data.split(b"\r\n", 1)[0].decode("latin-1")  # "HTTP/1.1 414 URI Too Long"
        try:
            _version, status, reason = status_line.split(" ", 2)
            status_int = int(status)
        except ValueError:
            status_int, reason = 500, "Internal Server Error"
        path = getattr(req, "path", None) or getattr(getattr(exc, "req", None), "path", None)
        try:
            client.sendall(envelope_response(status_int, reason, path))
        except Exception:  # noqa: BLE001 - the client may be gone; gunicorn logged the request
            self.log.debug("Failed to send error message.")
