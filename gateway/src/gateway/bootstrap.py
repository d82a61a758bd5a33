"""Wires the gateway's parts once per process (upstream client, rate limiter, token cache,
readiness probes, merged API document), so that the handlers receive them instead of
building them."""
from __future__ import annotations

from dataclasses import dataclass
from functools import partial
from typing import Callable

from flask import Flask, current_app

from crm_common.auth import TokenCache
from crm_common.config import Settings
from crm_common.web import add_ready_check

from .health import UpstreamReadiness
from .internal import InternalClient
from .openapi import DocumentUnavailable, MergedDocument
from .proxy import Upstreams
from .ratelimit import RateLimiter
from .routes import SERVICE_NAMES


@dataclass
class Gateway:
    settings: Settings
    upstreams: Upstreams        # proxied traffic, on the event loop
    internal: InternalClient    # the gateway's own calls (readiness, documents), from threads
    tokens: TokenCache          # the one verifier of the process (crm_common.web's)
    limiter: RateLimiter
    readiness: UpstreamReadiness
    document: MergedDocument


def bootstrap(app: Flask, settings: Settings, own_document: Callable[[], dict]) -> Gateway:
    internal = InternalClient(settings.service_urls, settings.upstream_connect_timeout)
    limiter = RateLimiter.from_settings(settings)
    readiness = UpstreamReadiness(internal, timeout=settings.get_float("READYZ_UPSTREAM_TIMEOUT", 1.0),
                                  ttl=settings.get_float("READYZ_CACHE_SECONDS", 2.0))

    def fetch_document(service: str) -> dict:
        resp = internal.get(service, "/openapi.json", settings.internal_http_timeout)
        if resp.status_code != 200:
            raise DocumentUnavailable(f"HTTP {resp.status_code}")
        try:
            doc = resp.json()
        except ValueError as exc:
            raise DocumentUnavailable("not JSON") from exc
        if not isinstance(doc, dict) or not isinstance(doc.get("paths"), dict):
            raise DocumentUnavailable("not an OpenAPI document")
        return doc

    document = MergedDocument(own_document, fetch_document, list(SERVICE_NAMES),
                              ttl=settings.get_float("OPENAPI_CACHE_SECONDS", 30.0))
    gateway = Gateway(settings, Upstreams.from_settings(settings), internal, app.extensions["crm_token_verifier"],
                      limiter, readiness, document)
    app.extensions["gateway"] = gateway
    # The gateway can serve while a service is down (its routes answer 503), so upstreams
    # and the rate-limit store are reported in /readyz without failing it.
    for service, name in SERVICE_NAMES.items():
        add_ready_check(app, name, partial(readiness.state, service), critical=False)
    add_ready_check(app, "rate_limit_store", limiter.ready, critical=False)
    return gateway


def gateway() -> Gateway:
    return current_app.extensions["gateway"]
