"""sync-worker's unit of work: the shared one with this service's outbox and repositories.

``EventTransaction`` gives the same repositories over the transaction that the event
consumer opened (it dedupes, orders and commits; handlers never commit)."""
from __future__ import annotations

from sqlalchemy.orm import Session

from crm_common.db import UnitOfWork

from ..adapters import orm
from ..adapters.repository import ContractRepository, HistoryRepository, ProjectRepository, SnapshotRepository


class _Repositories:
    session: Session

    def _bind_repositories(self) -> None:
        self.projects = ProjectRepository(self.session)
        self.contracts = ContractRepository(self.session)
        self.snapshots = SnapshotRepository(self.session)
        self.history = HistoryRepository(self.session)


class SyncUnitOfWork(UnitOfWork, _Repositories):
    outbox = orm.outbox

    def __enter__(self):
        super().__enter__()
        self._bind_repositories()
        return self


class EventTransaction(_Repositories):
    """Repositories over the consumer's open transaction."""

    def __init__(self, session: Session):
        self.session = session
        self._bind_repositories()

    def flush(self) -> None:
        self.session.flush()
