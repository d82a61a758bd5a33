"""Reads, for every surface: customers (detail through the read cache, pages, incremental
sync, the tenant API's short lists and search), their audit trail, order eligibility,
companies, groups, the external-sync audit, the Excel export's rows and the snapshot for
read-model rebuilds. Each read runs in a unit of work that never commits."""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Iterator

import sqlalchemy as sa

from crm_common.context import RequestContext
from crm_common.paging import Cursor, keyset_page, offset_page

from ..adapters import orm
from ..adapters.cache import CustomerCache
from ..adapters.repository import CustomerFilter, Total
from ..domain import history, rules
from ..domain.errors import CompanyNotFound, CustomerNotFound, GroupNotFound
from ..domain.model import Company, Customer, CustomerGroup
from ..domain.orders import Eligibility, order_eligibility
from .customers import load
from .unit_of_work import CustomerUnitOfWork

c = orm.customers.c
EXPORT_CHUNK = 1000


@dataclass(frozen=True)
class Sort:
    """A customer attribute to order by (``available_credit`` is computed, by its SQL form)."""
    attribute: str = "created_at"
    descending: bool = True

    def columns(self) -> list:
        key = rules.available_credit_sql(c.credit_limit, c.current_balance) if self.attribute == "available_credit" \
            else c[self.attribute]
        return [key.desc(), c.id.desc()] if self.descending else [key.asc(), c.id.asc()]


@dataclass(frozen=True)
class Changes:
    """Incremental sync (CONTRACT §4): changes at or after ``updated_since``, after ``cursor``."""
    page_size: int
    updated_since: dt.datetime | None = None
    cursor: Cursor | None = None


# --- customers ------------------------------------------------------------------------------------

def visible_groups(ctx: RequestContext, groups: list[dict]) -> list[dict]:
    """Only the groups of business domains the caller may see."""
    return [g for g in groups if ctx.scope.allows(g["business_domain"])]


def customer_detail(uow: CustomerUnitOfWork, ctx: RequestContext, customer_id: int,
                    cache: CustomerCache | None = None, *, groups: bool = True) -> Customer:
    """The customer with its company, order summary and (``groups``) the groups the caller
    may see, through the read cache when there is one. A cached customer is checked against
    the caller's tenant and domains exactly as the query would."""
    lookup = cache.get(ctx.factory_id, customer_id) if cache is not None else None
    if lookup is not None and lookup.customer is not None:
        customer = lookup.customer
        if customer.factory_id != ctx.factory_id or not ctx.scope.allows(customer.business_domain):
            raise CustomerNotFound()
    else:
        with uow:
            customer = load(uow, ctx, customer_id, for_update=False)
            # The cache keeps the whole detail, groups included, for every reader.
            wanted = groups or cache is not None
            customer.groups = uow.customers.groups_of([customer.id]).get(customer.id, []) if wanted else []
        if cache is not None:
            cache.fill(customer, lookup.stamp)  # skipped when a write invalidated it meanwhile
    customer.groups = visible_groups(ctx, customer.groups)
    return customer


def customer_page(uow: CustomerUnitOfWork, ctx: RequestContext, flt: CustomerFilter, *, page: int, page_size: int,
                  sort: Sort = Sort(), with_groups: bool = False) -> tuple[list[Customer], Total]:
    """A page of live customers and its ``Total``: exact up to
    ``repository.EXACT_TOTAL_UP_TO`` matching customers, PostgreSQL's estimate beyond
    (``total.exact`` false)."""
    with uow:
        stmt = uow.customers.filtered(ctx.factory_id, ctx.scope, flt)
        scope = ctx.scope
        total = uow.customers.page_total(stmt, key=(ctx.factory_id, scope.everything, tuple(sorted(scope.codes)), flt))
        # The page's ids first (from the index alone where the sort has one), then their rows:
        # an OFFSET over whole rows would read every skipped row and its order figures.
        page_ids = (stmt.with_only_columns(c.id).order_by(*sort.columns())
                    .limit(page_size).offset((page - 1) * page_size))
        items = [] if total == 0 else list(uow.session.execute(
            stmt.where(c.id.in_(page_ids.scalar_subquery())).order_by(*sort.columns())).scalars().all())
        if with_groups:
            _attach_groups(uow, ctx, items)
    return items, total


def customer_changes(uow: CustomerUnitOfWork, ctx: RequestContext, flt: CustomerFilter,
                     changes: Changes, with_groups: bool = False) -> tuple[list[Customer], str | None]:
    """Customers changed since, deleted ones included (``deleted_at`` set), in (updated_at,
    id) order from the index ``ix_customers_factory_updated``."""
    with uow:
        stmt = uow.customers.filtered(ctx.factory_id, ctx.scope, flt, include_deleted=True)
        items, cursor = keyset_page(uow.session, stmt, updated_at=c.updated_at, id_=c.id,
                                    page_size=changes.page_size, updated_since=changes.updated_since,
                                    cursor=changes.cursor)
        if with_groups:
            _attach_groups(uow, ctx, items)
    return items, cursor


def _attach_groups(uow: CustomerUnitOfWork, ctx: RequestContext, items: list[Customer]) -> None:
    groups = uow.customers.groups_of([customer.id for customer in items])
    for customer in items:
        customer.groups = visible_groups(ctx, groups.get(customer.id, []))


def first_by_name(uow: CustomerUnitOfWork, ctx: RequestContext, flt: CustomerFilter,
                  limit: int) -> tuple[list[Customer], bool]:
    """Seed 001 §2.1, §2.3, §2.4: live customers by name, at most ``limit``; ``True`` when
    more matched."""
    with uow:
        return _by_name(uow, uow.customers.filtered(ctx.factory_id, ctx.scope, flt), limit)


def _by_name(uow: CustomerUnitOfWork, stmt, limit: int) -> tuple[list[Customer], bool]:
    rows = uow.customers.rows(stmt.order_by(c.name.asc(), c.id.asc()).limit(limit + 1))
    return rows[:limit], len(rows) > limit


def search_customers(uow: CustomerUnitOfWork, ctx: RequestContext, keyword: str,
                     limit: int) -> tuple[list[Customer], bool]:
    """Seed 001 §2.2: ``keyword`` in name, code or contact person, whatever the case
    (wildcards in it are literal); customers named exactly ``keyword`` first, then the rest
    by name. Two queries, so that each can use its index (the name index for the exact
    match and for broad keywords, the trigram indexes for selective ones)."""
    with uow:
        matching = uow.customers.filtered(ctx.factory_id, ctx.scope, CustomerFilter(keyword=keyword))
        exact, more = _by_name(uow, matching.where(c.name == keyword), limit)
        if more:
            return exact, True
        rest, more = _by_name(uow, matching.where(c.name.is_distinct_from(keyword)), limit - len(exact))
    return exact + rest, more


def code_exists(uow: CustomerUnitOfWork, ctx: RequestContext, code: str) -> bool:
    """Seed 001 §7.1. Codes of deleted customers count: they stay reserved."""
    with uow:
        return bool(uow.customers.codes_taken(ctx.factory_id, [code]))


def debtors(uow: CustomerUnitOfWork, ctx: RequestContext, limit: int) -> tuple[list[Customer], bool]:
    """Seed 001 §7.2: customers who owe money, largest debt first (their overdue figures
    follow from each customer's credit position)."""
    with uow:
        stmt = uow.customers.filtered(ctx.factory_id, ctx.scope).where(c.current_balance < 0)
        rows = uow.customers.rows(stmt.order_by(c.current_balance.asc(), c.id.asc()).limit(limit + 1))
    return rows[:limit], len(rows) > limit


def customer_history(uow: CustomerUnitOfWork, ctx: RequestContext, customer_id: int, kind: str, *,
                     page: int, page_size: int) -> tuple[list[history.Change], int]:
    """One kind of the customer's audit trail (``history.KINDS``), newest first; 404 for a
    customer the caller cannot see. A deleted customer's history stays readable (seed 001
    §1.3: 保留历史)."""
    with uow:
        load(uow, ctx, customer_id, for_update=False, include_deleted=True)
        return uow.history.page(kind, customer_id, page=page, page_size=page_size)


def eligibility(uow: CustomerUnitOfWork, ctx: RequestContext, customer_id: int, today: dt.date,
                tz: dt.tzinfo) -> Eligibility:
    """May this customer get a new order (``domain.orders.order_eligibility``)?"""
    with uow:
        customer = load(uow, ctx, customer_id, for_update=False)
    return order_eligibility(customer, today, tz)


def export_rows(uow: CustomerUnitOfWork, ctx: RequestContext) -> tuple[int, Iterator[list]]:
    """Seed 001 §6.2: every live customer of the tenant (in the caller's domains) with its
    order figures, in chunks read from a server-side cursor: (count when the export began,
    the chunks). The iterator opens its own transaction when first advanced."""
    customers, summaries = orm.customers, orm.customer_orders
    with uow:
        count = uow.customers.count(uow.customers.filtered(ctx.factory_id, ctx.scope))

    def chunks() -> Iterator[list]:
        with uow:
            stmt = (uow.customers.filtered(ctx.factory_id, ctx.scope)
                    .with_only_columns(*customers.columns, summaries.c.total_orders, summaries.c.total_revenue)
                    .outerjoin(summaries, summaries.c.customer_id == c.id)
                    .order_by(c.id).execution_options(yield_per=EXPORT_CHUNK))
            for chunk in uow.session.execute(stmt).partitions():
                yield chunk
    return count, chunks()


def snapshot_page(uow: CustomerUnitOfWork, *, after_id: int, limit: int) -> tuple[list, int | None]:
    """Every tenant's customers, deleted ones too, in id order (read-model rebuilds):
    (rows, ``after_id`` of the next page or ``None``)."""
    with uow:
        rows = uow.session.execute(sa.select(orm.customers).where(c.id > after_id).order_by(c.id).limit(limit)).all()
    return rows, (rows[-1].id if len(rows) == limit else None)


# --- companies, groups, external-sync audit --------------------------------------------------------

def company(uow: CustomerUnitOfWork, ctx: RequestContext, company_id: int) -> Company:
    with uow:
        found = uow.companies.get(ctx.factory_id, company_id, ctx.scope)
    if found is None:
        raise CompanyNotFound(field=None)
    return found


def company_page(uow: CustomerUnitOfWork, ctx: RequestContext, *, keyword: str | None, source: str | None,
                 page: int, page_size: int) -> tuple[list[Company], int]:
    co = orm.companies.c
    with uow:
        stmt = uow.companies.filtered(ctx.factory_id, ctx.scope, keyword=keyword, source=source)
        return offset_page(uow.session, stmt.order_by(co.created_at.desc(), co.id.desc()), page, page_size)


def company_changes(uow: CustomerUnitOfWork, ctx: RequestContext, *, keyword: str | None, source: str | None,
                    changes: Changes) -> tuple[list[Company], str | None]:
    co = orm.companies.c
    with uow:
        stmt = uow.companies.filtered(ctx.factory_id, ctx.scope, keyword=keyword, source=source)
        return keyset_page(uow.session, stmt, updated_at=co.updated_at, id_=co.id, page_size=changes.page_size,
                           updated_since=changes.updated_since, cursor=changes.cursor)


def load_group(uow: CustomerUnitOfWork, ctx: RequestContext, group_id: int, *, for_update: bool = False
               ) -> CustomerGroup:
    group = uow.groups.get(ctx.factory_id, group_id, ctx.scope, for_update=for_update)
    if group is None:
        raise GroupNotFound()
    return group


def group_detail(uow: CustomerUnitOfWork, ctx: RequestContext, group_id: int) -> CustomerGroup:
    """The group with its (live, visible) members."""
    with uow:
        group = load_group(uow, ctx, group_id)
        group.members = uow.groups.members(group.id, ctx.scope)
        group.member_count = len(group.members)
    return group


def group_page(uow: CustomerUnitOfWork, ctx: RequestContext, *, business_domain: str | None, keyword: str | None,
               page: int | None = None, page_size: int, changes: Changes | None = None
               ) -> tuple[list[CustomerGroup], int | str | None]:
    """An offset page (items, total), or with ``changes`` a keyset page (items, next
    cursor) that includes deleted groups; each with its member count."""
    g = orm.customer_groups.c
    with uow:
        stmt = uow.groups.filtered(ctx.factory_id, ctx.scope, business_domain=business_domain, keyword=keyword,
                                   include_deleted=changes is not None)
        if changes is None:
            items, more = offset_page(uow.session, stmt.order_by(g.created_at.desc(), g.id.desc()), page, page_size)
        else:
            items, more = keyset_page(uow.session, stmt, updated_at=g.updated_at, id_=g.id,
                                      page_size=changes.page_size, updated_since=changes.updated_since,
                                      cursor=changes.cursor)
        counts = uow.groups.member_counts([group.id for group in items], ctx.scope)
        for group in items:
            group.member_count = counts.get(group.id, 0)
    return items, more


def external_sync_page(uow: CustomerUnitOfWork, ctx: RequestContext, *, entity_type: str | None,
                       entity_id: str | None, remote_id: str | None, source: str | None, page: int,
                       page_size: int) -> tuple[list[dict], int]:
    with uow:
        stmt = uow.external_sync.filtered(ctx.factory_id, ctx.scope, entity_type=entity_type, entity_id=entity_id,
                                          remote_id=remote_id, source=source)
        rows, total = offset_page(uow.session, stmt, page, page_size, scalars=False)
    return [dict(row._mapping) for row in rows], total
