"""sync-worker's unit of work: its repositories over one transaction.

The same class serves requests (``with uow: ... uow.commit()`` commits) and the event
consumer (``SyncUnitOfWork.joining(session)``: the consumer owns the transaction, records
the event id and version, commits and acks). sync-worker publishes no events: no outbox."""
from __future__ import annotations

import datetime as dt

from sqlalchemy.orm import Session

from crm_common.db import UnitOfWork, transaction_now

from ..adapters.repository import ContractRepository, HistoryRepository, ProjectRepository, SnapshotRepository


class SyncUnitOfWork(UnitOfWork):
    projects: ProjectRepository
    contracts: ContractRepository
    snapshots: SnapshotRepository
    history: HistoryRepository

    def bind(self, session: Session) -> None:
        self.projects = ProjectRepository(session)
        self.contracts = ContractRepository(session)
        self.snapshots = SnapshotRepository(session)
        self.history = HistoryRepository(session)

    def now(self) -> dt.datetime:
        """This transaction's start on the database clock: every row it writes is stamped
        with it (``updated_at``), which keeps incremental-sync pages exact."""
        return transaction_now(self.session)
