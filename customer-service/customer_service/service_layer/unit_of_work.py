"""customer-service's unit of work: the shared one plus this service's repositories.

It also remembers every customer the transaction touched (each customer event it wrote,
each Customer the ORM flushed, and what a handler names with ``touch_customers``) and,
once the commit succeeded, marks those customers stale in the read cache. Writes from
every surface (v1, bulk, mobile, external, consumers) so invalidate without each view
having to remember."""
from __future__ import annotations

from typing import Iterable

from sqlalchemy import event as sa_event

from crm_common.db import UnitOfWork

from ..adapters import orm
from ..adapters.external_sync import ExternalSyncRepository
from ..adapters.groups import CustomerGroupRepository
from ..adapters.idempotency import IdempotencyRepository
from ..adapters.repository import CompanyRepository, CustomerRepository
from ..domain.model import Customer


class CustomerUnitOfWork(UnitOfWork):
    outbox = orm.outbox

    def __init__(self, session_factory, outbox=None, cache=None):
        super().__init__(session_factory, outbox)
        self.cache = cache
        self.touched: set[tuple[str, int]] = set()

    def __enter__(self):
        super().__enter__()
        self.touched = set()
        self.customers = CustomerRepository(self.session)
        self.companies = CompanyRepository(self.session)
        self.groups = CustomerGroupRepository(self.session)
        self.external_sync = ExternalSyncRepository(self.session)
        self.idempotency = IdempotencyRepository(self.session)
        if self.cache is not None:
            sa_event.listen(self.session, "after_flush", self._track_flushed)
        return self

    def _track_flushed(self, session, _flush_context) -> None:
        for obj in (*session.new, *session.dirty, *session.deleted):
            if isinstance(obj, Customer) and getattr(obj, "id", None) is not None:
                self.touched.add((obj.factory_id, int(obj.id)))

    def add_event(self, event: dict) -> None:
        super().add_event(event)
        if event.get("aggregate_type") == "customer" and event.get("factory_id"):
            self.touched.add((event["factory_id"], int(event["aggregate_id"])))

    def touch_customers(self, factory_id: str, customer_ids: Iterable[int]) -> None:
        """Name customers whose cached view a write changed without an event (e.g. groups)."""
        self.touched.update((factory_id, int(cid)) for cid in customer_ids)

    def commit(self) -> None:
        super().commit()
        touched, self.touched = self.touched, set()
        if self.cache is not None and touched:
            self.cache.invalidate(touched)
