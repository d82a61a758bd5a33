"""The issuer's unit of work: the shared one (no outbox: the issuer publishes no events)
with its repositories."""
from __future__ import annotations

from crm_common.db import UnitOfWork

from ..adapters.repository import AuditRepository, ClientRepository, KeyRepository


class IssuerUnitOfWork(UnitOfWork):
    def __enter__(self):
        super().__enter__()
        self.clients = ClientRepository(self.session)
        self.audit = AuditRepository(self.session)
        self.keys = KeyRepository(self.session)
        return self
