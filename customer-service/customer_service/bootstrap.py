"""customer-service's composition root: every dependency wired once per process into one
typed ``CustomerService``, used by the app (views), the CLI and the event consumer, so that
nobody builds or looks up a dependency by name."""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from zoneinfo import ZoneInfo

from flask import Flask, current_app
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session, sessionmaker

from crm_common import logs
from crm_common.bootstrap import add_service_ready_checks
from crm_common.config import Settings
from crm_common.db import make_engine, make_session_factory
from crm_common.web import add_ready_check

from .adapters import orm
from .adapters.analytics_client import OrderSummaryClient
from .adapters.cache import CustomerCache
from .adapters.external_mysql import ExternalCustomerGateway
from .service_layer.unit_of_work import CustomerUnitOfWork

EXTENSION = "customer_service"


@dataclass(frozen=True)
class CustomerService:
    settings: Settings
    engine: Engine | None                  # None in the consumer: it brings its own transaction
    session_factory: sessionmaker | None
    cache: CustomerCache | None            # REDIS_URL: read cache of customer detail
    timezone: ZoneInfo                     # APP_TIMEZONE: the business's calendar days
    external: ExternalCustomerGateway | None = None  # EXTERNAL_MYSQL_URL: the third party's MySQL (read only)

    def uow(self) -> CustomerUnitOfWork:
        """A unit of work of its own (requests, commands)."""
        return CustomerUnitOfWork(self.session_factory, cache=self.cache)

    def joining(self, session: Session) -> CustomerUnitOfWork:
        """A unit of work inside a transaction that an event consumer owns."""
        return CustomerUnitOfWork.joining(session, cache=self.cache)

    def today(self) -> dt.date:
        return dt.datetime.now(self.timezone).date()

    def order_figures(self, factory_id: str, authorization: str | None) -> OrderSummaryClient:
        """analytics-service's order figures of customers (its customer lifetime value),
        asked with the caller's token; best effort within ``ORDER_SUMMARY_TIMEOUT``."""
        return OrderSummaryClient(self.settings.service_urls["analytics"], factory_id, authorization=authorization,
                                  timeout=self.settings.get_float("ORDER_SUMMARY_TIMEOUT", 0.5),
                                  extra_headers=logs.trace_headers())


def build_cache(settings: Settings) -> CustomerCache | None:
    """The customer read cache when ``REDIS_URL`` is set. ``CUSTOMER_CACHE_TTL`` (seconds,
    default 60) bounds how long an entry lives; ``CUSTOMER_CACHE_PREFIX`` namespaces keys."""
    if not settings.redis_url:
        return None
    return CustomerCache.from_url(settings.redis_url, prefix=settings.get("CUSTOMER_CACHE_PREFIX", "") or "",
                                  ttl=settings.get_int("CUSTOMER_CACHE_TTL", 60))


def build_external(settings: Settings) -> ExternalCustomerGateway | None:
    """Issue 21: the third party's MySQL when ``EXTERNAL_MYSQL_URL`` is set (the import is
    off otherwise); ``EXTERNAL_MYSQL_CUSTOMER_TABLE`` / ``EXTERNAL_MYSQL_COMPANY_TABLE``
    name their tables when they differ from the mapping's defaults. Connects on first use."""
    url = settings.get("EXTERNAL_MYSQL_URL")
    if not url:
        return None
    names = {key: value for key, value in (("customer_table", settings.get("EXTERNAL_MYSQL_CUSTOMER_TABLE")),
                                           ("company_table", settings.get("EXTERNAL_MYSQL_COMPANY_TABLE"))) if value}
    return ExternalCustomerGateway.from_url(url, **names)


def bootstrap(settings: Settings, *, database: bool = True) -> CustomerService:
    """Every dependency of the process; ``database=False`` for the consumer, whose
    transactions the shared consumer opens (``joining``)."""
    orm.start_mappers()
    engine = make_engine(settings.database_url, pool_size=settings.get_int("DB_POOL_SIZE", 5),
                         max_overflow=settings.get_int("DB_MAX_OVERFLOW", 10)) if database else None
    return CustomerService(settings=settings, engine=engine,
                           session_factory=make_session_factory(engine) if engine is not None else None,
                           cache=build_cache(settings), timezone=ZoneInfo(settings.app_timezone),
                           external=build_external(settings) if database else None)


def install(app: Flask, service: CustomerService) -> None:
    """Make ``service`` the app's (``customer_service()`` in views) and report its
    dependencies in /readyz."""
    app.extensions[EXTENSION] = service
    add_service_ready_checks(app, service.settings, service.engine, orm.outbox)
    if service.cache is not None:
        add_ready_check(app, "cache", service.cache.ping, critical=False)
    external = service.external
    add_ready_check(app, "external_mysql", external.ping if external is not None else
                    (lambda: (True, "off: EXTERNAL_MYSQL_URL not set, the import from the third party is disabled")),
                    critical=False)


def customer_service() -> CustomerService:
    """The current app's ``CustomerService``."""
    return service_of(current_app)


def service_of(app: Flask) -> CustomerService:
    return app.extensions[EXTENSION]
