"""A webhook receiver for tests and benchmarks: a real HTTP server on 127.0.0.1 that
records every call (headers, body, whether the signature verified, the status it
answered), and can be told to fail some calls, answer slowly, hang on chosen calls, or go
away entirely (``stop``: the port refuses connections, open ones are cut) and come back
on the same port (``start``)."""
from __future__ import annotations

import hashlib
import hmac
import json
import random
import socket
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Callable

from . import free_port


@dataclass
class Call:
    at: float                   # time.time() when the request arrived
    path: str
    headers: dict[str, str]
    body: bytes
    status: int = 0             # what the receiver answered (0: no answer reached the caller)
    signature_ok: bool | None = None  # None: no secret registered for the path

    @property
    def event(self) -> dict:
        return json.loads(self.body)

    @property
    def delivery_id(self) -> str:
        return self.headers.get("x-crm-delivery-id", "")

    @property
    def event_id(self) -> str:
        return self.headers.get("x-crm-event-id", "")

    @property
    def accepted(self) -> bool:
        return 200 <= self.status < 300


def signature_valid(secret: str, body: bytes, header: str, tolerance: int = 300) -> bool:
    """An independent implementation of the receiver's check (CONTRACT §6)."""
    try:
        fields = dict(part.split("=", 1) for part in header.split(","))
        timestamp = int(fields["t"])
    except (KeyError, ValueError):
        return False
    expected = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()
    return abs(time.time() - timestamp) <= tolerance and hmac.compare_digest(expected, fields.get("v1", ""))


@dataclass
class Behaviour:
    fail_ratio: float = 0.0     # share of calls answered 500, at random
    fail_when: Callable[[Call], bool] | None = None  # calls matching are answered 500
    delay: float = 0.0          # seconds before answering
    status: int = 200           # the answer when not failing
    headers: dict[str, str] = field(default_factory=dict)  # added to the answer
    hang_when: Callable[[Call], bool] | None = None  # matching calls wait for ``release()`` first
    seed: int | None = None
    rng: random.Random = field(init=False)

    def __post_init__(self):
        self.rng = random.Random(self.seed)


class WebhookReceiver:
    def __init__(self, port: int | None = None):
        self.port = port or free_port()
        self.calls: list[Call] = []
        self.secrets: dict[str, str] = {}   # path -> subscription secret
        self.behaviour: dict[str, Behaviour] = {}  # path -> behaviour (default: answer 200 at once)
        self._lock = threading.RLock()  # predicates may look at the calls so far
        self._released = threading.Event()
        self._server: ThreadingHTTPServer | None = None
        self._connections: set[socket.socket] = set()

    def url(self, path: str = "/hook") -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    # --- lifecycle ---------------------------------------------------------------------------

    def start(self) -> "WebhookReceiver":
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"  # keep-alive, as real receivers

            def do_POST(self):  # noqa: N802
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length)
                receiver._answer(self, body)

            def log_message(self, *args):
                pass

        class Server(ThreadingHTTPServer):
            daemon_threads = True
            allow_reuse_address = True

            def process_request(self, request, client_address):
                with receiver._lock:
                    receiver._connections.add(request)
                super().process_request(request, client_address)

            def shutdown_request(self, request):
                with receiver._lock:
                    receiver._connections.discard(request)
                super().shutdown_request(request)

        self._server = Server(("127.0.0.1", self.port), Handler)
        threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()
        return self

    def stop(self) -> None:
        """Gone: new connections are refused and the open ones are cut."""
        if self._server is None:
            return
        self._server.shutdown()
        self._server.server_close()
        with self._lock:
            connections, self._connections = list(self._connections), set()
        for conn in connections:
            try:
                conn.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
        self._server = None

    def release(self) -> None:
        """Let the hanging calls answer (later matching calls no longer wait)."""
        self._released.set()

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.release()
        self.stop()

    # --- answering ---------------------------------------------------------------------------

    def _answer(self, handler: BaseHTTPRequestHandler, body: bytes) -> None:
        path = handler.path
        call = Call(at=time.time(), path=path, headers={k.lower(): v for k, v in handler.headers.items()}, body=body)
        secret = self.secrets.get(path)
        if secret is not None:
            call.signature_ok = signature_valid(secret, body, call.headers.get("x-crm-signature", ""))
        behaviour = self.behaviour.get(path) or Behaviour()
        with self._lock:
            self.calls.append(call)
            failing = behaviour.rng.random() < behaviour.fail_ratio or bool(
                behaviour.fail_when and behaviour.fail_when(call))
        if behaviour.hang_when is not None and behaviour.hang_when(call):
            self._released.wait(120)  # then answer, if the caller is still there
        if behaviour.delay:
            time.sleep(behaviour.delay)
        status = 500 if failing else behaviour.status
        call.status = status
        payload = b'{"ok": false}' if failing else b'{"ok": true}'
        try:
            handler.send_response(status)
            for name, value in behaviour.headers.items():
                handler.send_header(name, value)
            handler.send_header("Content-Type", "application/json")
            handler.send_header("Content-Length", str(len(payload)))
            handler.end_headers()
            handler.wfile.write(payload)
        except OSError:
            call.status = 0  # the connection was cut before the answer left

    # --- what it saw -------------------------------------------------------------------------

    def snapshot(self, path: str | None = None) -> list[Call]:
        with self._lock:
            return [c for c in self.calls if path is None or c.path == path]

    def accepted(self, path: str | None = None) -> list[Call]:
        return [c for c in self.snapshot(path) if c.accepted]

    def accepted_event_ids(self, path: str | None = None) -> set[str]:
        return {c.event_id for c in self.accepted(path)}
