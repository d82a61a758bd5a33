"""Repositories of viewing-service's tables: every query of records is scoped to a tenant
(factory) and, for a caller, to its business domains (the customer's domain, from
``customer_domains``), except the all-tenant snapshot that analytics rebuilds from."""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import sqlalchemy as sa
from sqlalchemy.orm import Session

from crm_common.auth import DomainScope
from crm_common.db import insert_ignore, upsert
from crm_common.paging import Cursor, keyset_page, offset_page

from ..domain.model import ViewingRecord
from . import orm

R = orm.viewing_records.c
D = orm.customer_domains.c


def _escape_like(value: str) -> str:
    return value.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


@dataclass(frozen=True)
class RecordFilter:
    property_name: str | None = None      # fuzzy
    viewing_status: int | None = None
    business_type: str | None = None
    viewer_name: str | None = None
    viewing_from: dt.datetime | None = None  # inclusive, UTC
    viewing_until: dt.datetime | None = None  # exclusive, UTC


def in_scope(scope: DomainScope) -> sa.ColumnElement:
    """Records whose customer is in one of ``scope``'s business domains (a customer whose
    domain is not known yet is in none of them: only every-domain callers see it)."""
    if scope.everything:
        return sa.true()
    return sa.exists().where(D.customer_id == R.customer_id, D.business_domain.in_(sorted(scope.codes)))


class ViewingRecordRepository:
    def __init__(self, session: Session):
        self.session = session

    def add(self, record: ViewingRecord) -> None:
        self.session.add(record)

    def by_identity(self, factory_id: str, user_id: str, identity_key: str, *,
                    for_update: bool = False) -> ViewingRecord | None:
        stmt = sa.select(ViewingRecord).where(R.factory_id == factory_id, R.user_id == user_id,
                                              R.identity_key == identity_key)
        if for_update:  # under the lock, the row as it is now
            stmt = stmt.with_for_update().execution_options(populate_existing=True)
        return self.session.scalars(stmt).first()

    def user_has_records(self, factory_id: str, user_id: str, scope: DomainScope | None = None) -> bool:
        """Whether the tenant holds records of ``user_id`` (that ``scope`` may see)."""
        stmt = sa.select(R.id).where(R.factory_id == factory_id, R.user_id == user_id,
                                     in_scope(scope) if scope is not None else sa.true()).limit(1)
        return self.session.execute(stmt).first() is not None

    def page_of_user(self, factory_id: str, scope: DomainScope, user_id: str, flt: RecordFilter, *, page: int,
                     page_size: int) -> tuple[list[ViewingRecord], int]:
        conditions = [R.factory_id == factory_id, R.user_id == user_id, in_scope(scope)]
        if flt.property_name:
            conditions.append(R.property_name.like(f"%{_escape_like(flt.property_name)}%", escape="\\"))
        if flt.viewing_status is not None:
            conditions.append(R.viewing_status == flt.viewing_status)
        if flt.business_type:
            conditions.append(R.business_type == flt.business_type)
        if flt.viewer_name:
            conditions.append(R.viewer_name == flt.viewer_name)
        if flt.viewing_from is not None:
            conditions.append(R.viewing_time >= flt.viewing_from)
        if flt.viewing_until is not None:
            conditions.append(R.viewing_time < flt.viewing_until)
        return offset_page(self.session, sa.select(ViewingRecord).where(*conditions)
                           .order_by(R.viewing_time.desc(), R.id.desc()), page, page_size,
                           count=sa.select(sa.func.count()).select_from(orm.viewing_records).where(*conditions))

    def changed(self, factory_id: str, scope: DomainScope, *, page_size: int, updated_since: dt.datetime | None,
                cursor: Cursor | None) -> tuple[list[ViewingRecord], str | None]:
        """The tenant's records in change order, a keyset page (CONTRACT §4)."""
        stmt = sa.select(ViewingRecord).where(R.factory_id == factory_id, in_scope(scope))
        return keyset_page(self.session, stmt, updated_at=R.updated_at, id_=R.id, page_size=page_size,
                           updated_since=updated_since, cursor=cursor)

    def snapshot(self, after_id: int, limit: int) -> list[ViewingRecord]:
        """Every tenant's records with ``id > after_id``, in id order (keyset pagination)."""
        return list(self.session.scalars(
            sa.select(ViewingRecord).where(R.id > after_id).order_by(R.id).limit(limit)).all())


class CustomerDomainRepository:
    """Which business domain each customer is in, as its events said (newest version wins)."""

    def __init__(self, session: Session):
        self.session = session

    def learn(self, customer_id: int, factory_id: str, domain: str | None, version: int, *, now) -> bool:
        """Keep ``domain`` unless a newer version of the customer is known; True when kept."""
        t = orm.customer_domains
        return upsert(self.session, t, {"customer_id": customer_id, "factory_id": factory_id,
                                        "business_domain": domain, "version": version, "updated_at": now},
                      index_elements=[t.c.customer_id], update=("factory_id", "business_domain", "version", "updated_at"),
                      where=lambda table, excluded: table.c.version < excluded.version) == 1

    def learn_if_unknown(self, customer_id: int, factory_id: str, domain: str, *, now) -> None:
        """A first hint (version 0) that any event of the customer supersedes."""
        insert_ignore(self.session, orm.customer_domains, {
            "customer_id": customer_id, "factory_id": factory_id, "business_domain": domain, "version": 0,
            "updated_at": now}, index_elements=["customer_id"])
