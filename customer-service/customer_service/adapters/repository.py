"""Repositories: every query is scoped to a tenant (factory) and to the caller's
business domains; deleted customers are invisible unless asked for."""
from __future__ import annotations

from dataclasses import dataclass

import sqlalchemy as sa
from sqlalchemy.orm import Session

from crm_common.auth import DomainScope

from ..domain.model import Company, Customer
from . import orm


def _escape_like(value: str) -> str:
    return value.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


@dataclass
class CustomerFilter:
    keyword: str | None = None
    business_domain: str | None = None
    status: str | None = None
    source: str | None = None
    type: str | None = None
    industry_type: str | None = None


class CustomerRepository:
    def __init__(self, session: Session):
        self.session = session

    def _scoped(self, factory_id: str, scope: DomainScope | None, include_deleted: bool = False):
        stmt = sa.select(Customer).where(orm.customers.c.factory_id == factory_id)
        if not include_deleted:
            stmt = stmt.where(orm.customers.c.deleted_at.is_(None))
        if scope is not None and not scope.everything:
            stmt = stmt.where(orm.customers.c.business_domain.in_(sorted(scope.codes)))
        return stmt

    def add(self, customer: Customer) -> None:
        self.session.add(customer)

    def get(self, factory_id: str, customer_id: int, scope: DomainScope | None = None, *,
            for_update: bool = False, include_deleted: bool = False) -> Customer | None:
        stmt = self._scoped(factory_id, scope, include_deleted).where(orm.customers.c.id == customer_id)
        if for_update:
            stmt = stmt.with_for_update(of=orm.customers)
        return self.session.scalars(stmt).unique().first()

    def get_many(self, factory_id: str, ids, scope: DomainScope | None = None, *,
                 for_update: bool = False) -> dict[int, Customer]:
        if not ids:
            return {}
        stmt = self._scoped(factory_id, scope).where(orm.customers.c.id.in_(list(ids)))
        if for_update:
            stmt = stmt.with_for_update(of=orm.customers)
        return {c.id: c for c in self.session.scalars(stmt).unique()}

    def by_external_user_id(self, factory_id: str, user_id: str, *, for_update: bool = False) -> Customer | None:
        stmt = self._scoped(factory_id, None, include_deleted=True).where(
            orm.customers.c.external_user_id == user_id)
        if for_update:
            stmt = stmt.with_for_update(of=orm.customers)
        return self.session.scalars(stmt).unique().first()

    def name_taken(self, factory_id: str, name: str, exclude_id: int | None = None) -> bool:
        c = orm.customers.c
        stmt = sa.select(sa.literal(1)).where(
            c.factory_id == factory_id, c.name == name, c.deleted_at.is_(None),
            c.external_user_id.is_(None))
        if exclude_id is not None:
            stmt = stmt.where(c.id != exclude_id)
        return self.session.execute(stmt.limit(1)).first() is not None

    def names_taken(self, factory_id: str, names) -> set[str]:
        """Which of ``names`` live customers of the tenant already use (one query)."""
        names = [n for n in set(names) if n]
        if not names:
            return set()
        c = orm.customers.c
        return set(self.session.scalars(sa.select(c.name).where(
            c.factory_id == factory_id, c.name.in_(names), c.deleted_at.is_(None),
            c.external_user_id.is_(None))))

    def code_taken(self, factory_id: str, code: str, exclude_id: int | None = None) -> bool:
        c = orm.customers.c
        stmt = sa.select(sa.literal(1)).where(c.factory_id == factory_id, c.customer_code == code)
        if exclude_id is not None:
            stmt = stmt.where(c.id != exclude_id)
        return self.session.execute(stmt.limit(1)).first() is not None

    def filtered(self, factory_id: str, scope: DomainScope | None, flt: CustomerFilter):
        c = orm.customers.c
        stmt = self._scoped(factory_id, scope)
        if flt.keyword:
            pattern = f"%{_escape_like(flt.keyword)}%"
            stmt = stmt.where(sa.or_(c.name.like(pattern, escape="\\"),
                                     c.customer_code.like(pattern, escape="\\"),
                                     c.primary_contact_name.like(pattern, escape="\\")))
        if flt.business_domain:
            stmt = stmt.where(c.business_domain == flt.business_domain)
        if flt.status:
            stmt = stmt.where(c.status == flt.status)
        if flt.source:
            stmt = stmt.where(c.source == flt.source)
        if flt.type:
            stmt = stmt.where(c.type == flt.type)
        if flt.industry_type:
            stmt = stmt.where(c.industry_type == flt.industry_type)
        return stmt

    def page(self, stmt, *, page: int, page_size: int, order_by=None) -> tuple[list[Customer], int]:
        total = self.session.scalar(sa.select(sa.func.count()).select_from(
            stmt.with_only_columns(orm.customers.c.id).order_by(None).subquery()))
        order = order_by if order_by is not None else [orm.customers.c.created_at.desc(), orm.customers.c.id.desc()]
        rows = self.session.scalars(stmt.order_by(*order).limit(page_size).offset((page - 1) * page_size)).unique().all()
        return list(rows), int(total or 0)

    def groups_of(self, customer_ids) -> dict[int, list[dict]]:
        """Group memberships for display on customer detail."""
        if not customer_ids:
            return {}
        g, m = orm.customer_groups, orm.customer_group_members
        rows = self.session.execute(
            sa.select(m.c.customer_id, g.c.id, g.c.name, g.c.business_domain)
            .join(g, g.c.id == m.c.group_id)
            .where(m.c.customer_id.in_(list(customer_ids)), g.c.deleted_at.is_(None))
            .order_by(g.c.id)).all()
        out: dict[int, list[dict]] = {}
        for customer_id, gid, name, domain in rows:
            out.setdefault(customer_id, []).append({"id": gid, "name": name, "business_domain": domain})
        return out


class CompanyRepository:
    """Companies of a tenant; with a restricted ``scope`` only those of its domains."""

    def __init__(self, session: Session):
        self.session = session

    def _scoped(self, factory_id: str, scope: DomainScope | None):
        stmt = sa.select(Company).where(orm.companies.c.factory_id == factory_id)
        if scope is not None and not scope.everything:
            stmt = stmt.where(orm.companies.c.business_domain.in_(sorted(scope.codes)))
        return stmt

    def add(self, company: Company) -> None:
        self.session.add(company)

    def get(self, factory_id: str, company_id: int, scope: DomainScope | None = None, *,
            for_update: bool = False) -> Company | None:
        stmt = self._scoped(factory_id, scope).where(orm.companies.c.id == company_id)
        if for_update:
            stmt = stmt.with_for_update()
        return self.session.scalars(stmt).first()

    def by_code(self, factory_id: str, code: str, *, for_update: bool = False,
                scope: DomainScope | None = None) -> Company | None:
        stmt = self._scoped(factory_id, scope).where(orm.companies.c.company_code == code)
        if for_update:
            stmt = stmt.with_for_update()
        return self.session.scalars(stmt).first()

    def by_source_ref(self, factory_id: str, source: str, ref: str, *, for_update: bool = False,
                      scope: DomainScope | None = None) -> Company | None:
        stmt = self._scoped(factory_id, scope).where(orm.companies.c.source == source,
                                                     orm.companies.c.source_ref_id == ref)
        if for_update:
            stmt = stmt.with_for_update()
        return self.session.scalars(stmt).first()

    def page(self, factory_id: str, scope: DomainScope | None, *, keyword: str | None,
             source: str | None, page: int, page_size: int) -> tuple[list[Company], int]:
        co = orm.companies.c
        stmt = self._scoped(factory_id, scope)
        if keyword:
            pattern = f"%{_escape_like(keyword)}%"
            stmt = stmt.where(sa.or_(co.name.like(pattern, escape="\\"),
                                     co.company_code.like(pattern, escape="\\")))
        if source:
            stmt = stmt.where(co.source == source)
        total = self.session.scalar(sa.select(sa.func.count()).select_from(
            stmt.with_only_columns(co.id).subquery()))
        rows = self.session.scalars(stmt.order_by(co.created_at.desc(), co.id.desc())
                                    .limit(page_size).offset((page - 1) * page_size)).all()
        return list(rows), int(total or 0)
