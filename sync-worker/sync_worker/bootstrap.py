"""The composition root: every dependency of sync-worker, built once per process and used
by the HTTP app, the CLI and the event consumer alike."""
from __future__ import annotations

from dataclasses import dataclass
from functools import partial
from typing import Callable

from sqlalchemy.engine import Engine

from crm_common.config import Settings
from crm_common.context import RequestContext
from crm_common.db import make_engine, make_session_factory

from .adapters import orm
from .adapters.customer_client import CustomerServiceClient
from .service_layer.customers import FetchCustomer
from .service_layer.unit_of_work import SyncUnitOfWork


@dataclass
class SyncWorker:
    settings: Settings
    engine: Engine
    uow: Callable[[], SyncUnitOfWork]    # a fresh unit of work (one per operation)
    customer_service: CustomerServiceClient

    def customers_for(self, ctx: RequestContext, authorization: str | None,
                      trace_headers: dict[str, str]) -> FetchCustomer:
        """customer-service as the caller sees it: its own token, tenant and trace."""
        return partial(self.customer_service.fetch, factory_id=ctx.factory_id, authorization=authorization,
                       trace_headers=trace_headers)


def bootstrap(settings: Settings, *, pool_size: int | None = None) -> SyncWorker:
    """``pool_size``: connections of this process's pool (default ``DB_POOL_SIZE``, 5; the
    consumer needs one, to record failures outside the failed transaction)."""
    orm.start_mappers()
    engine = make_engine(settings.database_url,
                         pool_size=pool_size or settings.get_int("DB_POOL_SIZE", 5),
                         max_overflow=1 if pool_size else settings.get_int("DB_MAX_OVERFLOW", 10))
    uow = partial(SyncUnitOfWork, make_session_factory(engine))
    client = CustomerServiceClient(settings.service_urls["customer"], settings.internal_http_timeout)
    return SyncWorker(settings, engine, uow, client)
