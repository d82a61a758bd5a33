"""viewing-service's unit of work: its repositories and outbox over one transaction.

The same class serves requests (``with uow: ... uow.commit()`` commits) and the event
consumer (``ServiceUnitOfWork.joining(session)``: the consumer owns the transaction)."""
from __future__ import annotations

import datetime as dt

from sqlalchemy.orm import Session

from crm_common.db import UnitOfWork, transaction_now

from ..adapters import orm
from ..adapters.repository import CustomerDomainRepository, ViewingRecordRepository


class ServiceUnitOfWork(UnitOfWork):
    outbox = orm.outbox
    records: ViewingRecordRepository
    customer_domains: CustomerDomainRepository

    def bind(self, session: Session) -> None:
        self.records = ViewingRecordRepository(session)
        self.customer_domains = CustomerDomainRepository(session)

    def now(self) -> dt.datetime:
        """This transaction's start on the database clock: every row it writes is stamped
        with it (``updated_at``), which keeps incremental-sync pages exact."""
        return transaction_now(self.session)
