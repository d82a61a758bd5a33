"""Repositories: every query is scoped to one tenant (factory)."""
from __future__ import annotations

import math

import sqlalchemy as sa
from sqlalchemy.orm import Session

from crm_common.db import utcnow

from ..domain.model import Contract, CustomerInfo, Project
from . import orm


def _escape_like(value: str) -> str:
    return value.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def paginate(session: Session, stmt, *, page: int, page_size: int, scalars: bool = True) -> dict:
    """CONTRACT §4 page: ``items``, ``total``, ``page``, ``page_size``, ``total_pages``."""
    total = session.execute(sa.select(sa.func.count()).select_from(stmt.order_by(None).subquery())).scalar_one()
    paged = stmt.limit(page_size).offset((page - 1) * page_size)
    items = list(session.scalars(paged)) if scalars else [dict(row._mapping) for row in session.execute(paged)]
    return {"items": items, "total": total, "page": page, "page_size": page_size,
            "total_pages": math.ceil(total / page_size) if total else 0}


class ProjectRepository:
    def __init__(self, session: Session):
        self.session = session

    def add(self, project: Project) -> None:
        self.session.add(project)

    def get(self, factory_id: str, project_id: int, *, for_update: bool = False) -> Project | None:
        stmt = sa.select(Project).where(orm.projects.c.factory_id == factory_id, orm.projects.c.id == project_id)
        if for_update:
            stmt = stmt.with_for_update()
        return self.session.scalars(stmt).first()

    def of_customer(self, factory_id: str, customer_id: int, *, for_update: bool = False) -> list[Project]:
        """Seed 004 §4.1: every project whose customer_id matches, oldest first."""
        stmt = sa.select(Project).where(orm.projects.c.factory_id == factory_id,
                                        orm.projects.c.customer_id == customer_id).order_by(orm.projects.c.id)
        if for_update:
            stmt = stmt.with_for_update()
        return list(self.session.scalars(stmt))

    def filtered(self, factory_id: str, *, customer_id: int | None = None, keyword: str | None = None):
        stmt = sa.select(Project).where(orm.projects.c.factory_id == factory_id)
        if customer_id is not None:
            stmt = stmt.where(orm.projects.c.customer_id == customer_id)
        if keyword:
            pattern = f"%{_escape_like(keyword)}%"
            stmt = stmt.where(sa.or_(orm.projects.c.name.ilike(pattern, escape="\\"),
                                     orm.projects.c.customer_name.ilike(pattern, escape="\\")))
        return stmt.order_by(orm.projects.c.id.desc())


class ContractRepository:
    def __init__(self, session: Session):
        self.session = session

    def add(self, contract: Contract) -> None:
        self.session.add(contract)

    def get(self, factory_id: str, contract_id: int, *, for_update: bool = False) -> Contract | None:
        stmt = sa.select(Contract).where(orm.contracts.c.factory_id == factory_id,
                                         orm.contracts.c.id == contract_id)
        if for_update:
            stmt = stmt.with_for_update()
        return self.session.scalars(stmt).first()

    def number_taken(self, factory_id: str, contract_no: str, exclude_id: int | None = None) -> bool:
        stmt = sa.select(orm.contracts.c.id).where(orm.contracts.c.factory_id == factory_id,
                                                   orm.contracts.c.contract_no == contract_no)
        if exclude_id is not None:
            stmt = stmt.where(orm.contracts.c.id != exclude_id)
        return self.session.execute(stmt.limit(1)).first() is not None

    def of_customer(self, factory_id: str, customer_id: int, *, for_update: bool = False) -> list[Contract]:
        stmt = sa.select(Contract).where(orm.contracts.c.factory_id == factory_id,
                                         orm.contracts.c.customer_id == customer_id).order_by(orm.contracts.c.id)
        if for_update:
            stmt = stmt.with_for_update()
        return list(self.session.scalars(stmt))

    def latest_of_project(self, factory_id: str, project_id: int) -> Contract | None:
        """The project's most recently changed contract."""
        stmt = sa.select(Contract).where(orm.contracts.c.factory_id == factory_id,
                                         orm.contracts.c.project_id == project_id) \
            .order_by(orm.contracts.c.updated_at.desc(), orm.contracts.c.id.desc()).limit(1)
        return self.session.scalars(stmt).first()

    def filtered(self, factory_id: str, *, customer_id: int | None = None, project_id: int | None = None,
                 keyword: str | None = None):
        stmt = sa.select(Contract).where(orm.contracts.c.factory_id == factory_id)
        if customer_id is not None:
            stmt = stmt.where(orm.contracts.c.customer_id == customer_id)
        if project_id is not None:
            stmt = stmt.where(orm.contracts.c.project_id == project_id)
        if keyword:
            pattern = f"%{_escape_like(keyword)}%"
            stmt = stmt.where(sa.or_(orm.contracts.c.contract_no.ilike(pattern, escape="\\"),
                                     orm.contracts.c.customer_name.ilike(pattern, escape="\\")))
        return stmt.order_by(orm.contracts.c.id.desc())


def _upsert(session: Session, table: sa.Table, values: dict, index: list[str], update: dict, where=None):
    dialect = session.get_bind().dialect.name
    if dialect == "postgresql":
        from sqlalchemy.dialects.postgresql import insert
    else:
        from sqlalchemy.dialects.sqlite import insert
    stmt = insert(table).values(**values)
    stmt = stmt.on_conflict_do_update(index_elements=index,
                                      set_={k: getattr(stmt.excluded, k) for k in update},
                                      where=where(stmt.excluded) if where is not None else None)
    return session.execute(stmt)


class SnapshotRepository:
    """The latest known state of each customer. Never goes back to an older version."""

    def __init__(self, session: Session):
        self.session = session

    def remember(self, info: CustomerInfo, *, source: str, event_id: str | None = None) -> bool:
        """Store ``info`` unless a newer version is known; True when it is now the newest."""
        t = orm.customer_snapshots
        values = {"customer_id": info.customer_id, "factory_id": info.factory_id,
                  "business_domain": info.business_domain, "name": info.name, "contact": info.contact,
                  "phone": info.phone, "version": info.version, "deleted": info.deleted,
                  "source": source, "event_id": event_id, "updated_at": utcnow()}
        result = _upsert(self.session, t, values, ["customer_id"], [k for k in values if k != "customer_id"],
                         where=lambda excluded: t.c.version < excluded.version)
        return result.rowcount == 1

    def get(self, factory_id: str, customer_id: int) -> CustomerInfo | None:
        t = orm.customer_snapshots
        row = self.session.execute(sa.select(t).where(t.c.factory_id == factory_id,
                                                      t.c.customer_id == customer_id)).first()
        if row is None:
            return None
        return CustomerInfo(customer_id=row.customer_id, factory_id=row.factory_id, name=row.name,
                            contact=row.contact, phone=row.phone, version=row.version,
                            deleted=row.deleted, business_domain=row.business_domain)


class HistoryRepository:
    def __init__(self, session: Session):
        self.session = session

    def add(self, **values) -> None:
        values.setdefault("synced_at", utcnow())
        self.session.execute(sa.insert(orm.sync_history).values(**values))

    def filtered(self, factory_id: str, *, customer_id: int | None = None, trigger: str | None = None,
                 outcome: str | None = None):
        t = orm.sync_history
        stmt = sa.select(t).where(t.c.factory_id == factory_id)
        if customer_id is not None:
            stmt = stmt.where(t.c.customer_id == customer_id)
        if trigger:
            stmt = stmt.where(t.c.trigger == trigger)
        if outcome:
            stmt = stmt.where(t.c.outcome == outcome)
        return stmt.order_by(t.c.id.desc())
