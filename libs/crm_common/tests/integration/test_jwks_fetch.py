"""The issuer's documents fetched over real HTTP from a fake issuer on a free port: a slow
or dripping issuer never holds a request past JWKS_TIMEOUT, and the revocation list is
polled with If-None-Match."""
from __future__ import annotations

import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from crm_common.errors import ServiceUnavailable
from crm_common.jwks import FetchFailed, JwksCache, RevocationList, http_fetch
from crm_testing import free_port


class FakeIssuer:
    def __init__(self):
        self.mode = "ok"            # ok | slow | drip
        self.etag_hits = 0
        fake = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_GET(self):  # noqa: N802
                body = json.dumps({"keys": []} if "jwks" in self.path else {"client_ids": ["ac_x"]}).encode()
                if fake.mode == "slow":
                    time.sleep(10)  # sleep-ok: the slow issuer under test answers after the client gave up
                if self.headers.get("If-None-Match") == '"v1"':
                    fake.etag_hits += 1
                    self.send_response(304)
                    self.send_header("ETag", '"v1"')
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("ETag", '"v1"')
                self.send_header("Content-Length", str(len(body) + (2000 if fake.mode == "drip" else 0)))
                self.end_headers()
                if fake.mode == "drip":  # headers at once, then a byte every 0.2 s
                    for _ in range(20):
                        self.wfile.write(b" ")
                        self.wfile.flush()
                        time.sleep(0.2)
                self.wfile.write(body)

            def log_message(self, *args):
                pass

        self.port = free_port()
        self.server = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        self.server.daemon_threads = True
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.port}{path}"


@pytest.fixture
def issuer():
    fake = FakeIssuer()
    yield fake
    fake.server.shutdown()


@pytest.mark.parametrize("mode", ["slow", "drip"])
def test_a_slow_issuer_holds_a_request_no_longer_than_the_timeout(issuer, mode):
    issuer.mode = mode
    cache = JwksCache(issuer.url("/.well-known/jwks.json"), timeout=0.5)
    started = time.monotonic()
    with pytest.raises(ServiceUnavailable):
        cache.key_for("k1")
    elapsed = time.monotonic() - started
    assert elapsed < 4, f"waited {elapsed:.2f} s with JWKS_TIMEOUT=0.5"  # the slow issuer answers after 10 s


def test_fetch_refuses_what_is_not_a_document(issuer):
    fetch = http_fetch()
    with pytest.raises(FetchFailed):
        fetch(f"http://127.0.0.1:{free_port()}/nothing-listens", 0.5, None)
    document, etag = fetch(issuer.url("/internal/revoked-clients"), 2.0, None)
    assert document == {"client_ids": ["ac_x"]} and etag == '"v1"'


def test_the_revocation_list_is_polled_with_its_etag(issuer):
    revocations = RevocationList(issuer.url("/internal/revoked-clients"), timeout=2.0)
    assert revocations.refresh() is True
    assert revocations.refresh() is True  # 304: kept, and counted as fresh
    assert issuer.etag_hits == 1
    with pytest.raises(Exception) as refused:
        revocations.check("ac_x")
    assert getattr(refused.value, "error_code", None) == "TOKEN_REVOKED"
