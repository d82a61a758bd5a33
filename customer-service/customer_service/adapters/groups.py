"""Customer groups and their members (seed 003), scoped to a tenant and to the
caller's business domains."""
from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.orm import Session

from crm_common.auth import DomainScope
from crm_common.db import utcnow

from ..domain.model import CustomerGroup
from . import orm
from .repository import contains, in_scope

g = orm.customer_groups.c
m = orm.customer_group_members.c
c = orm.customers.c


class CustomerGroupRepository:
    def __init__(self, session: Session):
        self.session = session

    def add(self, group: CustomerGroup) -> None:
        self.session.add(group)

    def get(self, factory_id: str, group_id: int, scope: DomainScope | None = None, *,
            for_update: bool = False) -> CustomerGroup | None:
        stmt = sa.select(CustomerGroup).where(g.factory_id == factory_id, g.id == group_id,
                                              g.deleted_at.is_(None))
        stmt = in_scope(stmt, g.business_domain, scope)
        if for_update:
            stmt = stmt.with_for_update()
        return self.session.scalars(stmt).first()

    def name_taken(self, factory_id: str, name: str) -> bool:
        stmt = sa.select(sa.literal(1)).where(g.factory_id == factory_id, g.name == name,
                                              g.deleted_at.is_(None)).limit(1)
        return self.session.execute(stmt).first() is not None

    def filtered(self, factory_id: str, scope: DomainScope | None, *, business_domain: str | None,
                 keyword: str | None, include_deleted: bool = False) -> sa.Select:
        stmt = in_scope(sa.select(CustomerGroup).where(g.factory_id == factory_id), g.business_domain, scope)
        if not include_deleted:
            stmt = stmt.where(g.deleted_at.is_(None))
        if business_domain:
            stmt = stmt.where(g.business_domain == business_domain)
        if keyword:
            stmt = stmt.where(contains(g.name, keyword))
        return stmt

    def member_counts(self, group_ids, scope: DomainScope | None = None) -> dict[int, int]:
        """Live members each group has (among the customers the caller may see)."""
        if not group_ids:
            return {}
        stmt = (sa.select(m.group_id, sa.func.count())
                .join(orm.customers, c.id == m.customer_id)
                .where(m.group_id.in_(list(group_ids)), c.deleted_at.is_(None))
                .group_by(m.group_id))
        stmt = in_scope(stmt, c.business_domain, scope)
        return {gid: int(n) for gid, n in self.session.execute(stmt)}

    def members(self, group_id: int, scope: DomainScope | None = None) -> list[dict]:
        stmt = (sa.select(c.id, c.customer_code, c.name, c.status, c.business_domain, m.added_at)
                .join(orm.customers, c.id == m.customer_id)
                .where(m.group_id == group_id, c.deleted_at.is_(None))
                .order_by(m.added_at, c.id))
        stmt = in_scope(stmt, c.business_domain, scope)
        return [dict(row._mapping) for row in self.session.execute(stmt)]

    def member_ids(self, group_id: int) -> list[int]:
        return list(self.session.scalars(sa.select(m.customer_id).where(m.group_id == group_id)))

    def replace_members(self, group_id: int, customer_ids: list[int], added_by: str | None) -> None:
        """DELETE + INSERT of the whole member set (the caller holds the group's row lock)."""
        self.session.execute(sa.delete(orm.customer_group_members).where(m.group_id == group_id))
        if customer_ids:
            now = utcnow()
            self.session.execute(sa.insert(orm.customer_group_members), [
                {"group_id": group_id, "customer_id": cid, "added_at": now, "added_by": added_by}
                for cid in customer_ids])
