"""viewing-service's unit of work: the shared one with this service's outbox and repository."""
from __future__ import annotations

from crm_common.db import UnitOfWork

from ..adapters import orm
from ..adapters.repository import ViewingRecordRepository


class ServiceUnitOfWork(UnitOfWork):
    outbox = orm.outbox

    def __enter__(self):
        super().__enter__()
        self.records = ViewingRecordRepository(self.session)
        return self
