"""The composition root: every dependency of viewing-service, built once per process and
used by the HTTP app and the CLI alike."""
from __future__ import annotations

from dataclasses import dataclass
from functools import partial
from typing import Callable

from sqlalchemy.engine import Engine

from crm_common.config import Settings
from crm_common.context import RequestContext
from crm_common.db import make_engine, make_session_factory

from .adapters import orm
from .adapters.customer_service import CustomerDirectory, CustomerServiceClient
from .adapters.property_lookup import PropertyLookup
from .service_layer.unit_of_work import ServiceUnitOfWork


@dataclass
class ViewingService:
    settings: Settings
    engine: Engine
    uow: Callable[[], ServiceUnitOfWork]     # a fresh unit of work (one per operation)
    customer_service: CustomerServiceClient
    property_lookup: PropertyLookup | None    # None: PROPERTY_LOOKUP_URL unset, no enrichment

    @property
    def timezone(self) -> str:
        return self.settings.app_timezone

    def customers_for(self, ctx: RequestContext, authorization: str | None) -> CustomerDirectory:
        """customer-service with the caller's own token and tenant."""
        return self.customer_service.for_caller(authorization, ctx.factory_id)

    def close(self) -> None:
        """Drop pooled connections (tests; a kept-alive connection would hold a graceful stop)."""
        self.customer_service.session.close()
        if self.property_lookup is not None:
            self.property_lookup.session.close()
        self.engine.dispose()


def bootstrap(settings: Settings, *, pool_size: int | None = None) -> ViewingService:
    orm.start_mappers()
    engine = make_engine(settings.database_url,
                         pool_size=pool_size or settings.get_int("DB_POOL_SIZE", 5),
                         max_overflow=1 if pool_size else settings.get_int("DB_MAX_OVERFLOW", 10))
    customers = CustomerServiceClient(
        settings.service_urls["customer"], timeout=settings.internal_http_timeout,
        connect_timeout=settings.get_float("CUSTOMER_SERVICE_CONNECT_TIMEOUT", 1.0),
        tries=settings.get_int("CUSTOMER_SERVICE_TRIES", 3))
    properties = (PropertyLookup(settings.property_lookup_url,
                                 timeout=settings.get_float("PROPERTY_LOOKUP_TIMEOUT", 1.0))
                  if settings.property_lookup_url else None)
    return ViewingService(settings, engine, partial(ServiceUnitOfWork, make_session_factory(engine)),
                          customers, properties)
