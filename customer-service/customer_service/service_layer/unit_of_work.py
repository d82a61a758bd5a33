"""customer-service's unit of work: the shared one plus this service's repositories."""
from __future__ import annotations

from crm_common.db import UnitOfWork

from ..adapters import orm
from ..adapters.repository import CompanyRepository, CustomerRepository


class CustomerUnitOfWork(UnitOfWork):
    outbox = orm.outbox

    def __enter__(self):
        super().__enter__()
        self.customers = CustomerRepository(self.session)
        self.companies = CompanyRepository(self.session)
        return self
