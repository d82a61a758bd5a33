"""The external-sync audit table (seed 003 ``ExternalSystemSync``)."""
from __future__ import annotations

import zlib

import sqlalchemy as sa
from sqlalchemy.orm import Session

from crm_common.auth import DomainScope

from ..domain.external_sync import ENTITY_CUSTOMER, SUCCESS
from . import orm

x = orm.external_sync.c
c = orm.customers.c


class ExternalSyncRepository:
    def __init__(self, session: Session):
        self.session = session

    def add(self, **row) -> int:
        return self.session.execute(sa.insert(orm.external_sync).values(**row)
                                    .returning(x.id)).scalar_one()

    def lock_remote(self, factory_id: str, source: str, remote_id: str) -> None:
        """Serialise imports of one remote record (transaction-scoped advisory lock on
        PostgreSQL; SQLite has one writer at a time anyway)."""
        if self.session.get_bind().dialect.name != "postgresql":
            return
        key = zlib.crc32(f"{factory_id}\x1f{source}\x1f{remote_id}".encode()) - 2**31
        self.session.execute(sa.text("SELECT pg_advisory_xact_lock(:ns, :key)"), {"ns": 7003, "key": key})

    def latest(self, factory_id: str, source: str, remote_id: str):
        """The newest audit row of a remote record (``sync_status``, ``payload``, ...), if any."""
        stmt = (sa.select(orm.external_sync)
                .where(x.factory_id == factory_id, x.entity_type == ENTITY_CUSTOMER, x.source == source,
                       x.remote_id == remote_id)
                .order_by(x.id.desc()).limit(1))
        return self.session.execute(stmt).mappings().first()

    def imported_customer(self, factory_id: str, source: str, remote_id: str) -> int | None:
        """The live customer a SUCCESS import of this remote record created, if any."""
        stmt = (sa.select(c.id)
                # entity_id -> customers.id (not the other way round): the primary key finds the
                # customer of each audit row, where casting every customer's id scanned them all
                .join(orm.external_sync, sa.and_(c.id == sa.cast(x.entity_id, sa.BigInteger),
                                                 x.factory_id == c.factory_id))
                .where(x.factory_id == factory_id, x.entity_type == ENTITY_CUSTOMER,
                       x.source == source, x.remote_id == remote_id, x.sync_status == SUCCESS,
                       c.deleted_at.is_(None))
                .order_by(x.id.desc()).limit(1))
        return self.session.scalar(stmt)

    def filtered(self, factory_id: str, scope: DomainScope | None, *, entity_type: str | None,
                 entity_id: str | None, remote_id: str | None, source: str | None) -> sa.Select:
        """Audit rows of the tenant, newest first; callers limited to some business domains
        see the rows of customers in those domains only."""
        stmt = sa.select(orm.external_sync).where(x.factory_id == factory_id)
        for column, value in ((x.entity_type, entity_type), (x.entity_id, entity_id),
                              (x.remote_id, remote_id), (x.source, source)):
            if value:
                stmt = stmt.where(column == value)
        if scope is not None and not scope.everything:
            visible = sa.select(sa.cast(c.id, sa.String)).where(
                c.factory_id == factory_id, c.business_domain.in_(sorted(scope.codes)))
            stmt = stmt.where(x.entity_type == ENTITY_CUSTOMER, x.entity_id.in_(visible))
        return stmt.order_by(x.created_at.desc(), x.id.desc())


r = orm.external_sync_runs.c


class ExternalSyncRunRepository:
    """Runs of the import from the third party's MySQL (issue 21)."""

    def __init__(self, session: Session):
        self.session = session

    def add(self, **row) -> int:
        return self.session.execute(sa.insert(orm.external_sync_runs).values(**row).returning(r.id)).scalar_one()

    def get(self, factory_id: str, run_id: int):
        return self.session.execute(sa.select(orm.external_sync_runs)
                                    .where(r.factory_id == factory_id, r.id == run_id)).mappings().first()

    def update(self, run_id: int, **values) -> None:
        self.session.execute(sa.update(orm.external_sync_runs).where(r.id == run_id).values(**values))

    def last_watermark(self, factory_id: str, source: str) -> str | None:
        """Where the source's next run starts: the newest watermark any run committed."""
        return self.session.scalar(sa.select(r.watermark)
                                   .where(r.factory_id == factory_id, r.source == source, r.watermark.is_not(None))
                                   .order_by(r.id.desc()).limit(1))

    def running(self, factory_id: str, source: str):
        return self.session.execute(sa.select(orm.external_sync_runs)
                                    .where(r.factory_id == factory_id, r.source == source,
                                           r.state.in_(("QUEUED", "RUNNING")))
                                    .order_by(r.id.desc()).limit(1)).mappings().first()
