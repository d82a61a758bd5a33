"""Wires customer-service's dependencies once per process (engine, unit of work, cache,
readiness checks), so that views and consumers receive them instead of building them."""
from __future__ import annotations

from functools import partial

from flask import Flask

from crm_common.bootstrap import bootstrap_service, build_uow_factory  # noqa: F401
from crm_common.config import Settings
from crm_common.web import add_ready_check

from .adapters import orm
from .adapters.cache import CustomerCache
from .service_layer.unit_of_work import CustomerUnitOfWork


def build_cache(settings: Settings) -> CustomerCache | None:
    """The customer read cache when ``REDIS_URL`` is set. ``CUSTOMER_CACHE_TTL`` (seconds,
    default 60) bounds how long an entry lives; ``CUSTOMER_CACHE_PREFIX`` namespaces keys."""
    if not settings.redis_url:
        return None
    return CustomerCache.from_url(settings.redis_url,
                                  prefix=settings.get("CUSTOMER_CACHE_PREFIX", "") or "",
                                  ttl=settings.get_int("CUSTOMER_CACHE_TTL", 60))


def bootstrap(app: Flask, settings: Settings) -> None:
    bootstrap_service(app, settings, CustomerUnitOfWork, orm.start_mappers)
    cache = build_cache(settings)
    app.extensions["customer_cache"] = cache
    if cache is not None:
        # Every unit of work invalidates the customers it touched once it committed.
        app.extensions["uow_factory"] = partial(app.extensions["uow_factory"], cache=cache)
        add_ready_check(app, "cache", cache.ping, critical=False)
