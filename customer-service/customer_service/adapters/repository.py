"""Repositories of customers and companies: every query is scoped to a tenant (factory) and
to the caller's business domains; deleted customers are invisible unless asked for."""
from __future__ import annotations

import json
import time
from dataclasses import dataclass
from functools import lru_cache
from typing import Hashable, Iterable

import sqlalchemy as sa
from sqlalchemy.orm import Session

from crm_common.auth import DomainScope

from ..domain.model import Company, Customer
from . import orm

IN_CHUNK = 1000  # ids, names or codes per IN (...) list
# A page's total is exact up to this many rows; beyond, PostgreSQL's estimate (``Total``).
EXACT_TOTAL_UP_TO = 10_000
ESTIMATE_SECONDS = 30.0  # how long an estimated total is reused in this process
_estimates: dict[Hashable, tuple[float, int]] = {}  # key -> (monotonic time, estimate)


class Total(int):
    """The ``total`` of a page of customers. Exact (``exact``) when at most
    ``EXACT_TOTAL_UP_TO`` rows match; beyond that the planner's estimate of the matching
    rows (from the table's statistics: close for a whole tenant or a status, rougher for a
    keyword), never below
    ``EXACT_TOTAL_UP_TO + 1``: an exact ``count(*)`` of a 100,000-customer tenant costs tens
    of milliseconds on every page, the capped count and the estimate about 3 ms (issue 19)."""
    exact: bool

    def __new__(cls, value: int, exact: bool = True) -> "Total":
        total = super().__new__(cls, value)
        total.exact = exact
        return total


def escape_like(value: str) -> str:
    return value.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def contains(column, keyword: str) -> sa.ColumnElement:
    """Case-insensitive "contains", wildcards literal. PostgreSQL serves ILIKE from the
    trigram (pg_trgm GIN) indexes; SQLite compares lower() of both sides."""
    return column.ilike(f"%{escape_like(keyword)}%", escape="\\")


def in_scope(stmt, column, scope: DomainScope | None):
    if scope is not None and not scope.everything:
        stmt = stmt.where(column.in_(sorted(scope.codes)))
    return stmt


# Statements run on every request, built once with their values as parameters: building a
# select (and its cache key) per call cost more CPU than the query itself (issue 19).
@lru_cache(maxsize=None)
def _customer_by_id(restricted: bool, include_deleted: bool, for_update: bool) -> sa.Select:
    c = orm.customers.c
    stmt = sa.select(Customer).where(c.factory_id == sa.bindparam("factory_id"), c.id == sa.bindparam("customer_id"))
    if not include_deleted:
        stmt = stmt.where(c.deleted_at.is_(None))
    if restricted:
        stmt = stmt.where(c.business_domain.in_(sa.bindparam("domains", expanding=True)))
    return stmt.with_for_update(of=orm.customers) if for_update else stmt


@lru_cache(maxsize=None)
def _groups_of() -> sa.Select:
    g, m = orm.customer_groups, orm.customer_group_members
    return (sa.select(m.c.customer_id, g.c.id, g.c.name, g.c.business_domain)
            .join(g, g.c.id == m.c.group_id)
            .where(m.c.customer_id.in_(sa.bindparam("ids", expanding=True)), g.c.deleted_at.is_(None))
            .order_by(g.c.id))


def _chunks(values: Iterable) -> Iterable[list]:
    values = sorted(set(values))
    for start in range(0, len(values), IN_CHUNK):
        yield values[start:start + IN_CHUNK]


@dataclass(frozen=True)
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

    def scoped(self, factory_id: str, scope: DomainScope | None, include_deleted: bool = False) -> sa.Select:
        c = orm.customers.c
        stmt = sa.select(Customer).where(c.factory_id == factory_id)
        if not include_deleted:
            stmt = stmt.where(c.deleted_at.is_(None))
        return in_scope(stmt, c.business_domain, scope)

    def add(self, customer: Customer) -> None:
        self.session.add(customer)

    def get(self, factory_id: str, customer_id: int, scope: DomainScope | None = None, *,
            for_update: bool = False, include_deleted: bool = False) -> Customer | None:
        restricted = scope is not None and not scope.everything
        params = {"factory_id": factory_id, "customer_id": customer_id}
        if restricted:
            params["domains"] = sorted(scope.codes)
        return self.session.scalars(_customer_by_id(restricted, include_deleted, for_update), params).unique().first()

    def get_many(self, factory_id: str, ids, scope: DomainScope | None = None, *,
                 for_update: bool = False, include_deleted: bool = False) -> dict[int, Customer]:
        if not ids:
            return {}
        stmt = self.scoped(factory_id, scope, include_deleted).where(orm.customers.c.id.in_(sorted(set(ids))))
        if for_update:
            stmt = stmt.with_for_update(of=orm.customers)
        return {c.id: c for c in self.session.scalars(stmt).unique()}

    def by_external_user_id(self, factory_id: str, user_id: str, *, for_update: bool = False) -> Customer | None:
        stmt = self.scoped(factory_id, None, include_deleted=True).where(orm.customers.c.external_user_id == user_id)
        if for_update:
            stmt = stmt.with_for_update(of=orm.customers)
        return self.session.scalars(stmt).unique().first()

    def names_taken(self, factory_id: str, names: Iterable[str], exclude_id: int | None = None) -> set[str]:
        """Which of ``names`` live customers of the tenant use (those identified by an
        external ``userId`` aside: CONTRACT §4)."""
        c = orm.customers.c
        taken: set[str] = set()
        for chunk in _chunks(n for n in names if n):
            stmt = sa.select(c.name).where(c.factory_id == factory_id, c.name.in_(chunk), c.deleted_at.is_(None),
                                           c.external_user_id.is_(None))
            if exclude_id is not None:
                stmt = stmt.where(c.id != exclude_id)
            taken.update(self.session.scalars(stmt))
        return taken

    def codes_taken(self, factory_id: str, codes: Iterable[str]) -> set[str]:
        """Which of ``codes`` customers of the tenant use, deleted ones included (a code
        stays reserved)."""
        c = orm.customers.c
        taken: set[str] = set()
        for chunk in _chunks(code for code in codes if code):
            taken.update(self.session.scalars(sa.select(c.customer_code).where(
                c.factory_id == factory_id, c.customer_code.in_(chunk))))
        return taken

    def identities_taken(self, factory_id: str, names: Iterable[str], codes: Iterable[str]) -> tuple[set, set]:
        """(``names_taken``, ``codes_taken``) in one round trip per chunk: what a create
        checks before it inserts."""
        c = orm.customers.c
        names, codes = sorted({n for n in names if n}), sorted({code for code in codes if code})
        taken: tuple[set, set] = (set(), set())
        for start in range(0, max(len(names), len(codes), 1), IN_CHUNK):
            chunk_names, chunk_codes = names[start:start + IN_CHUNK], codes[start:start + IN_CHUNK]
            parts = []
            if chunk_names:
                parts.append(sa.select(sa.literal(0).label("kind"), c.name.label("value")).where(
                    c.factory_id == factory_id, c.name.in_(chunk_names), c.deleted_at.is_(None),
                    c.external_user_id.is_(None)))
            if chunk_codes:
                parts.append(sa.select(sa.literal(1).label("kind"), c.customer_code.label("value")).where(
                    c.factory_id == factory_id, c.customer_code.in_(chunk_codes)))
            if parts:
                for kind, value in self.session.execute(sa.union_all(*parts) if len(parts) > 1 else parts[0]):
                    taken[kind].add(value)
        return taken

    # --- reads ---------------------------------------------------------------------------
    def filtered(self, factory_id: str, scope: DomainScope | None, flt: CustomerFilter = CustomerFilter(), *,
                 include_deleted: bool = False) -> sa.Select:
        c = orm.customers.c
        stmt = self.scoped(factory_id, scope, include_deleted)
        if flt.keyword:
            stmt = stmt.where(sa.or_(contains(c.name, flt.keyword), contains(c.customer_code, flt.keyword),
                                     contains(c.primary_contact_name, flt.keyword)))
        for column, value in ((c.business_domain, flt.business_domain), (c.status, flt.status),
                              (c.source, flt.source), (c.type, flt.type), (c.industry_type, flt.industry_type)):
            if value:
                stmt = stmt.where(column == value)
        return stmt

    def count(self, stmt: sa.Select) -> int:
        """Rows of a ``filtered`` query, counted without its joined loads or order."""
        return int(self.session.scalar(sa.select(sa.func.count()).select_from(
            stmt.with_only_columns(orm.customers.c.id).order_by(None).subquery())) or 0)

    def page_total(self, stmt: sa.Select, key: Hashable | None = None) -> Total:
        """``Total`` of a ``filtered`` query: counts at most ``EXACT_TOTAL_UP_TO + 1`` of its
        rows (an index-only scan where the filter allows), and past that asks PostgreSQL's
        planner how many rows it expects (``EXPLAIN``, nothing is read). An estimate is kept
        ``ESTIMATE_SECONDS`` in this process under ``key`` (what the query filters by), so
        that paging through a large tenant compiles and plans it once. Other databases count
        exactly."""
        ids = stmt.with_only_columns(orm.customers.c.id).order_by(None)
        bind = self.session.get_bind()
        if bind.dialect.name != "postgresql":
            return Total(self.count(stmt))
        capped = int(self.session.scalar(sa.select(sa.func.count()).select_from(
            ids.limit(EXACT_TOTAL_UP_TO + 1).subquery())) or 0)
        if capped <= EXACT_TOTAL_UP_TO:
            return Total(capped)
        now = time.monotonic()
        kept = _estimates.get(key) if key is not None else None
        if kept is not None and now - kept[0] < ESTIMATE_SECONDS:
            return Total(kept[1], exact=False)
        compiled = ids.compile(dialect=bind.dialect, compile_kwargs={"render_postcompile": True})
        plan = self.session.connection().exec_driver_sql("EXPLAIN (FORMAT JSON) " + compiled.string,
                                                         compiled.params).scalar()
        if isinstance(plan, str):
            plan = json.loads(plan)
        estimate = max(int(plan[0]["Plan"]["Plan Rows"]), EXACT_TOTAL_UP_TO + 1)
        if key is not None:
            if len(_estimates) >= 1024:
                _estimates.clear()
            _estimates[key] = (now, estimate)
        return Total(estimate, exact=False)

    def rows(self, stmt: sa.Select) -> list[Customer]:
        return list(self.session.scalars(stmt).unique())

    def groups_of(self, customer_ids) -> dict[int, list[dict]]:
        """Group memberships for display on customer detail."""
        if not customer_ids:
            return {}
        rows = self.session.execute(_groups_of(), {"ids": list(customer_ids)}).all()
        out: dict[int, list[dict]] = {}
        for customer_id, gid, name, domain in rows:
            out.setdefault(customer_id, []).append({"id": gid, "name": name, "business_domain": domain})
        return out


class CompanyRepository:
    """Companies of a tenant; with a restricted ``scope`` only those of its domains."""

    def __init__(self, session: Session):
        self.session = session

    def scoped(self, factory_id: str, scope: DomainScope | None) -> sa.Select:
        return in_scope(sa.select(Company).where(orm.companies.c.factory_id == factory_id),
                        orm.companies.c.business_domain, scope)

    def add(self, company: Company) -> None:
        self.session.add(company)

    def _one(self, stmt, for_update: bool) -> Company | None:
        return self.session.scalars(stmt.with_for_update() if for_update else stmt).first()

    def get(self, factory_id: str, company_id: int, scope: DomainScope | None = None, *,
            for_update: bool = False) -> Company | None:
        return self._one(self.scoped(factory_id, scope).where(orm.companies.c.id == company_id), for_update)

    def by_code(self, factory_id: str, code: str, *, for_update: bool = False,
                scope: DomainScope | None = None) -> Company | None:
        return self._one(self.scoped(factory_id, scope).where(orm.companies.c.company_code == code), for_update)

    def by_source_ref(self, factory_id: str, source: str, ref: str, *, for_update: bool = False,
                      scope: DomainScope | None = None) -> Company | None:
        co = orm.companies.c
        return self._one(self.scoped(factory_id, scope).where(co.source == source, co.source_ref_id == ref),
                         for_update)

    def filtered(self, factory_id: str, scope: DomainScope | None, *, keyword: str | None,
                 source: str | None) -> sa.Select:
        co = orm.companies.c
        stmt = self.scoped(factory_id, scope)
        if keyword:
            stmt = stmt.where(sa.or_(contains(co.name, keyword), contains(co.company_code, keyword)))
        if source:
            stmt = stmt.where(co.source == source)
        return stmt
