"""Repositories of sync-worker's tables: every query names its tenant (factory), and every
query made for a caller its business domains (``scope``)."""
from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.orm import Session

from crm_common.auth import DomainScope
from crm_common.db import upsert
from crm_common.paging import keyset_body, keyset_page, offset_page, page_body

from ..domain.commands import Paging
from ..domain.model import Contract, CustomerInfo, Project
from . import orm


def _escape_like(value: str) -> str:
    return value.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def _contains(column: sa.ColumnElement, text: str) -> sa.ColumnElement:
    return column.ilike(f"%{_escape_like(text)}%", escape="\\")


def in_scope(column: sa.ColumnElement, scope: DomainScope) -> sa.ColumnElement:
    """Rows of the business domains ``scope`` allows (CONTRACT §3: the customer's domain)."""
    return sa.true() if scope.everything else column.in_(sorted(scope.codes))


def _locked(stmt: sa.Select) -> sa.Select:
    # Under the lock, read the row as it is now, not as an earlier statement of this
    # session (e.g. a consumer batch) left it in the identity map.
    return stmt.with_for_update().execution_options(populate_existing=True)


def page(session: Session, stmt: sa.Select, paging: Paging, *, newest_first: sa.ColumnElement,
         changed_at: sa.ColumnElement, id_: sa.ColumnElement, scalars: bool = True) -> dict:
    """A CONTRACT §4 page of ``stmt`` (filtered, not ordered): offset pages newest first,
    or in incremental mode keyset pages in (``changed_at``, ``id``) order."""
    if paging.incremental:
        rows, next_cursor = keyset_page(session, stmt, updated_at=changed_at, id_=id_, page_size=paging.page_size,
                                        updated_since=paging.updated_since, cursor=paging.cursor, scalars=scalars,
                                        key=lambda row: (getattr(row, changed_at.key), row.id))
        return keyset_body(rows if scalars else [dict(row._mapping) for row in rows], paging.page_size,
                           next_cursor)
    rows, total = offset_page(session, stmt.order_by(newest_first), paging.page, paging.page_size,
                              scalars=scalars)
    return page_body(rows if scalars else [dict(row._mapping) for row in rows], total, paging.page,
                     paging.page_size)


def _move_to_domain(session: Session, table: sa.Table, factory_id: str, customer_id: int, domain: str | None,
                    now, operator: tuple[str | None, str | None]) -> int:
    """A customer moved to another business domain: so do its rows (a change of each row:
    new version and ``updated_at``, so that incremental sync sees it)."""
    t = table.c
    return session.execute(sa.update(table).where(
        t.factory_id == factory_id, t.customer_id == customer_id, t.business_domain.is_distinct_from(domain),
    ).values(business_domain=domain, version=t.version + 1, updated_at=now, updated_by=operator[0],
             updated_by_name=operator[1])).rowcount


class ProjectRepository:
    def __init__(self, session: Session):
        self.session = session

    def add(self, project: Project) -> None:
        self.session.add(project)

    def get(self, factory_id: str, scope: DomainScope, project_id: int, *, for_update: bool = False) -> Project | None:
        t = orm.projects.c
        stmt = sa.select(Project).where(t.factory_id == factory_id, t.id == project_id, in_scope(t.business_domain, scope))
        return self.session.scalars(_locked(stmt) if for_update else stmt).first()

    def of_customer(self, factory_id: str, customer_id: int, *, for_update: bool = False) -> list[Project]:
        """Seed 004 §4.1: every project whose customer_id matches, oldest first."""
        stmt = sa.select(Project).where(orm.projects.c.factory_id == factory_id,
                                        orm.projects.c.customer_id == customer_id).order_by(orm.projects.c.id)
        return list(self.session.scalars(_locked(stmt) if for_update else stmt))

    def move_to_domain(self, factory_id: str, customer_id: int, domain: str | None, *, now,
                       operator: tuple[str | None, str | None]) -> int:
        return _move_to_domain(self.session, orm.projects, factory_id, customer_id, domain, now, operator)

    def page(self, factory_id: str, scope: DomainScope, paging: Paging, *, customer_id: int | None = None,
             keyword: str | None = None) -> dict:
        t = orm.projects.c
        stmt = sa.select(Project).where(t.factory_id == factory_id, in_scope(t.business_domain, scope))
        if customer_id is not None:
            stmt = stmt.where(t.customer_id == customer_id)
        if keyword:
            stmt = stmt.where(sa.or_(_contains(t.name, keyword), _contains(t.customer_name, keyword)))
        return page(self.session, stmt, paging, newest_first=t.id.desc(), changed_at=t.updated_at, id_=t.id)


class ContractRepository:
    def __init__(self, session: Session):
        self.session = session

    def add(self, contract: Contract) -> None:
        self.session.add(contract)

    def get(self, factory_id: str, scope: DomainScope, contract_id: int, *,
            for_update: bool = False) -> Contract | None:
        t = orm.contracts.c
        stmt = sa.select(Contract).where(t.factory_id == factory_id, t.id == contract_id,
                                         in_scope(t.business_domain, scope))
        return self.session.scalars(_locked(stmt) if for_update else stmt).first()

    def number_taken(self, factory_id: str, contract_no: str, exclude_id: int | None = None) -> bool:
        stmt = sa.select(orm.contracts.c.id).where(orm.contracts.c.factory_id == factory_id,
                                                   orm.contracts.c.contract_no == contract_no)
        if exclude_id is not None:
            stmt = stmt.where(orm.contracts.c.id != exclude_id)
        return self.session.execute(stmt.limit(1)).first() is not None

    def of_customer(self, factory_id: str, customer_id: int, *, for_update: bool = False) -> list[Contract]:
        stmt = sa.select(Contract).where(orm.contracts.c.factory_id == factory_id,
                                         orm.contracts.c.customer_id == customer_id).order_by(orm.contracts.c.id)
        return list(self.session.scalars(_locked(stmt) if for_update else stmt))

    def latest_of_project(self, factory_id: str, scope: DomainScope, project_id: int) -> Contract | None:
        """The project's most recently changed contract."""
        t = orm.contracts.c
        stmt = sa.select(Contract).where(t.factory_id == factory_id, t.project_id == project_id,
                                         in_scope(t.business_domain, scope)) \
            .order_by(t.updated_at.desc(), t.id.desc()).limit(1)
        return self.session.scalars(stmt).first()

    def move_to_domain(self, factory_id: str, customer_id: int, domain: str | None, *, now,
                       operator: tuple[str | None, str | None]) -> int:
        return _move_to_domain(self.session, orm.contracts, factory_id, customer_id, domain, now, operator)

    def page(self, factory_id: str, scope: DomainScope, paging: Paging, *, customer_id: int | None = None,
             project_id: int | None = None, keyword: str | None = None) -> dict:
        t = orm.contracts.c
        stmt = sa.select(Contract).where(t.factory_id == factory_id, in_scope(t.business_domain, scope))
        if customer_id is not None:
            stmt = stmt.where(t.customer_id == customer_id)
        if project_id is not None:
            stmt = stmt.where(t.project_id == project_id)
        if keyword:
            stmt = stmt.where(sa.or_(_contains(t.contract_no, keyword), _contains(t.customer_name, keyword)))
        return page(self.session, stmt, paging, newest_first=t.id.desc(), changed_at=t.updated_at, id_=t.id)


class SnapshotRepository:
    """The latest known state of each customer. Never goes back to an older version."""

    def __init__(self, session: Session):
        self.session = session

    def remember(self, info: CustomerInfo, *, source: str, now, event_id: str | None = None) -> bool:
        """Store ``info`` unless a newer version is known; True when it is now the newest."""
        t = orm.customer_snapshots
        values = {"customer_id": info.customer_id, "factory_id": info.factory_id,
                  "business_domain": info.business_domain, "name": info.name, "contact": info.contact,
                  "phone": info.phone, "version": info.version, "deleted": info.deleted,
                  "source": source, "event_id": event_id, "updated_at": now}
        return upsert(self.session, t, values, index_elements=[t.c.customer_id],
                      update=[k for k in values if k != "customer_id"],
                      where=lambda table, excluded: table.c.version < excluded.version) == 1

    def get(self, factory_id: str, customer_id: int, *, lock: bool = False) -> CustomerInfo | None:
        """``lock``: share-lock the row until the transaction ends (an event's ``remember``
        waits for it, and a pending one is waited for)."""
        t = orm.customer_snapshots
        stmt = sa.select(t).where(t.c.factory_id == factory_id, t.c.customer_id == customer_id)
        row = self.session.execute(stmt.with_for_update(read=True) if lock else stmt).first()
        if row is None:
            return None
        return CustomerInfo(customer_id=row.customer_id, factory_id=row.factory_id, name=row.name,
                            contact=row.contact, phone=row.phone, version=row.version,
                            deleted=row.deleted, business_domain=row.business_domain)


class HistoryRepository:
    def __init__(self, session: Session):
        self.session = session

    def add(self, **values) -> None:
        self.session.execute(sa.insert(orm.sync_history).values(**values))

    def move_to_domain(self, factory_id: str, customer_id: int, domain: str | None) -> int:
        t = orm.sync_history
        return self.session.execute(sa.update(t).where(
            t.c.factory_id == factory_id, t.c.customer_id == customer_id,
            t.c.business_domain.is_distinct_from(domain)).values(business_domain=domain)).rowcount

    def page(self, factory_id: str, scope: DomainScope, paging: Paging, *, customer_id: int | None = None,
             trigger: str | None = None, outcome: str | None = None) -> dict:
        t = orm.sync_history
        stmt = sa.select(t).where(t.c.factory_id == factory_id, in_scope(t.c.business_domain, scope))
        if customer_id is not None:
            stmt = stmt.where(t.c.customer_id == customer_id)
        if trigger:
            stmt = stmt.where(t.c.trigger == trigger)
        if outcome:
            stmt = stmt.where(t.c.outcome == outcome)
        return page(self.session, stmt, paging, newest_first=t.c.id.desc(), changed_at=t.c.synced_at, id_=t.c.id,
                    scalars=False)
