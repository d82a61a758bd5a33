"""customer-service's unit of work: the shared one plus this service's repositories.

With the read cache configured, it marks every customer the transaction touched stale
once the commit succeeded: each customer event it wrote, each Customer the ORM flushed,
and what a handler names with ``touch_customers``. Writes from every surface (v1, bulk,
mobile, external) so invalidate without each view having to remember; other sessions
(e.g. a consumer's) get the same with ``adapters.cache.invalidate_on_commit``."""
from __future__ import annotations

from typing import Iterable

from crm_common.db import UnitOfWork

from ..adapters import orm
from ..adapters.cache import invalidate_on_commit, touch
from ..adapters.external_sync import ExternalSyncRepository
from ..adapters.groups import CustomerGroupRepository
from ..adapters.idempotency import IdempotencyRepository
from ..adapters.repository import CompanyRepository, CustomerRepository


class CustomerUnitOfWork(UnitOfWork):
    outbox = orm.outbox

    def __init__(self, session_factory, outbox=None, cache=None):
        super().__init__(session_factory, outbox)
        self.cache = cache

    def __enter__(self):
        super().__enter__()
        self.customers = CustomerRepository(self.session)
        self.companies = CompanyRepository(self.session)
        self.groups = CustomerGroupRepository(self.session)
        self.external_sync = ExternalSyncRepository(self.session)
        self.idempotency = IdempotencyRepository(self.session)
        invalidate_on_commit(self.session, self.cache)
        return self

    def add_event(self, event: dict) -> None:
        super().add_event(event)
        if self.cache is not None and event.get("aggregate_type") == "customer" and event.get("factory_id"):
            touch(self.session, event["factory_id"], [event["aggregate_id"]])

    def touch_customers(self, factory_id: str, customer_ids: Iterable[int]) -> None:
        """Name customers whose cached view a write changed without an event (e.g. groups)."""
        if self.cache is not None:
            touch(self.session, factory_id, customer_ids)
