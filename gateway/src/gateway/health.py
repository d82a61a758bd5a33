"""Readiness of the upstream services, as the gateway's ``/readyz`` reports it: every
service's ``/readyz`` fetched in parallel with a short timeout and cached for a moment,
so that a burst of probes costs the services one request each."""
from __future__ import annotations

import threading
import time
from concurrent.futures import ThreadPoolExecutor

import requests

from .internal import InternalClient
from .routes import SERVICE_NAMES

State = tuple[bool, dict]


class UpstreamReadiness:
    def __init__(self, upstreams: InternalClient, *, timeout: float = 1.0, ttl: float = 2.0):
        self._upstreams = upstreams
        self._timeout, self._ttl = timeout, ttl
        self._lock = threading.Lock()
        self._cached: tuple[float, dict[str, State]] | None = None

    def snapshot(self) -> dict[str, State]:
        with self._lock:
            if self._cached is None or time.monotonic() >= self._cached[0]:
                services = list(SERVICE_NAMES)
                with ThreadPoolExecutor(max_workers=len(services)) as pool:
                    states = dict(zip(services, pool.map(self._probe, services)))
                self._cached = (time.monotonic() + self._ttl, states)
            return self._cached[1]

    def state(self, service: str) -> State:
        """A ready check (``crm_common.web.add_ready_check``) for one upstream."""
        return self.snapshot()[service]

    def _probe(self, service: str) -> State:
        detail: dict = {"url": self._upstreams.urls[service]}
        try:
            resp = self._upstreams.get(service, "/readyz", self._timeout)
        except requests.RequestException as exc:
            detail["error"] = type(exc).__name__
            return False, detail
        detail["http_status"] = resp.status_code
        try:
            detail["status"] = resp.json().get("status")
        except ValueError:
            pass
        return resp.status_code == 200, detail
