"""viewing-service's unit of work: the shared one with this service's outbox."""
from __future__ import annotations

from crm_common.db import UnitOfWork

from ..adapters import orm


class ServiceUnitOfWork(UnitOfWork):
    outbox = orm.outbox
