"""Use cases of the tenant customer API (seed 001, ``/api/mobile/{factoryId}/customers``).

Requests arrive with the seed's camelCase names (already validated by the view); this
module translates them onto the one customer model, runs each write in a unit of work
that also writes the outbox event (through ``customers.emit_customer_event``), and
returns customers for the view to serialise. ``customer_view`` is the one place where a
customer becomes the seed's CustomerDTO, ``export_view`` the one where it becomes a row of
the Excel export (through the same field names the import reads back)."""
from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any, Callable, Iterable

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError

from crm_common import authz
from crm_common.context import RequestContext
from crm_common.db import utcnow
from crm_common.errors import AppError, Conflict, Forbidden, NotFound, ValidationError

from ..adapters import orm
from ..adapters.repository import CustomerFilter
from ..domain import listing, rules, spreadsheet
from ..domain.model import Customer
from . import customers as core
from .unit_of_work import CustomerUnitOfWork

# API field (seed 001) -> customer attribute.
API_TO_ATTRIBUTE = {
    "name": "name", "customerCode": "customer_code", "type": "type", "industry": "industry_type",
    "contactPerson": "primary_contact_name", "phoneNumber": "primary_contact_phone",
    "email": "email", "address": "address", "creditLimit": "credit_limit",
    "paymentTerms": "payment_terms", "taxNumber": "tax_number", "rating": "rating",
    "ratingNotes": "rating_notes", "notes": "notes", "currentBalance": "current_balance",
    "isActive": "status",
}
ATTRIBUTE_TO_API = {attr: api for api, attr in API_TO_ATTRIBUTE.items()}
# Who may change money figures (seed 001 §4 权限); ``admin`` always may.
LIST_LIMIT_DEFAULT, LIST_LIMIT_MAX = 1000, 10_000
SEARCH_LIMIT_DEFAULT, SEARCH_LIMIT_MAX = 50, 200

OrderSummaries = Callable[[Iterable[int]], "dict[int, dict] | None"]


# --- translation -------------------------------------------------------------------------

def to_attributes(request: dict) -> dict:
    """Seed 001 request -> customer attributes (type label -> stored code, isActive -> status)."""
    attrs: dict[str, Any] = {}
    for key, value in request.items():
        attr = API_TO_ATTRIBUTE[key]
        if key == "type" and value is not None:
            value = rules.TYPE_BY_LABEL[value]
        elif key == "isActive":
            value = "active" if value else "inactive"
        attrs[attr] = value
    return attrs


def api_errors(errors: dict | None) -> dict | None:
    """Field errors keyed by attribute -> keyed by the seed's API names."""
    if not errors:
        return errors
    return {ATTRIBUTE_TO_API.get(key, key): value for key, value in errors.items()}


def parse_customer_id(raw: str) -> int:
    """Ids are strings on this surface; anything but a known number is simply not found."""
    if not raw.isdigit() or len(raw) > 18:
        raise NotFound(core.NOT_FOUND_MESSAGE, error_code="CUSTOMER_NOT_FOUND")
    return int(raw)


def money_text(amount: Decimal) -> str:
    return f"{Decimal(amount):,.2f}"


def credit_warning(credit_limit: Decimal, current_balance: Decimal) -> str | None:
    """Seed 001 §4 风险预警: the debt exceeds the credit limit."""
    if not rules.exceeds_credit_limit(credit_limit, current_balance):
        return None
    return (f"当前欠款 {money_text(rules.debt(current_balance))} 元已超过信用额度 "
            f"{money_text(credit_limit)} 元，请关注回款风险")


def customer_view(c, now: dt.datetime | None = None, summary: dict | None = None) -> dict:
    """A customer (ORM object or a row with the same column names) as seed 001's
    CustomerDTO, computed fields included. Order figures come from ``summary`` (or an
    ``order_summary`` attached to the customer); unknown stays ``None``."""
    now = now or utcnow()
    if summary is None:
        summary = getattr(c, "order_summary", None)
    overdue_days = rules.overdue_days(c.current_balance, c.debt_since, c.payment_terms, now)
    risk = rules.risk_level(c.rating, c.credit_limit, c.current_balance, overdue_days)
    return {
        "id": str(c.id),
        "customerCode": c.customer_code,
        "name": c.name,
        "type": rules.CUSTOMER_TYPES.get(c.type, c.type) if c.type else None,
        "industry": c.industry_type,
        "contactPerson": c.primary_contact_name,
        "phoneNumber": c.primary_contact_phone,
        "email": c.email,
        "address": c.address,
        "creditLimit": c.credit_limit,
        "currentBalance": c.current_balance,
        "availableCredit": rules.available_credit(c.credit_limit, c.current_balance),
        "creditUtilization": rules.credit_utilization(c.credit_limit, c.current_balance),
        "creditWarning": rules.exceeds_credit_limit(c.credit_limit, c.current_balance),
        "warningMessage": credit_warning(c.credit_limit, c.current_balance),
        "paymentTerms": c.payment_terms,
        "taxNumber": c.tax_number,
        "rating": c.rating,
        "ratingNotes": c.rating_notes,
        "isActive": c.status == "active",
        "status": c.status,
        "notes": c.notes,
        "businessDomain": c.business_domain,
        "riskLevel": risk,
        "riskLevelLabel": rules.RISK_LEVELS[risk]["label"],
        "riskLevelColor": rules.RISK_LEVELS[risk]["color"],
        "isOverdue": rules.is_overdue(c.current_balance, c.debt_since, c.payment_terms, now),
        "overdueDays": overdue_days,
        "lastPaymentDate": c.last_payment_date,
        "totalOrders": summary["totalOrders"] if summary else None,
        "totalRevenue": summary["totalRevenue"] if summary else None,
        "lastOrderDate": summary["lastOrderDate"] if summary else None,
        "customerLifetimeValue": summary["customerLifetimeValue"] if summary else None,
        "createdAt": c.created_at,
        "createdBy": c.created_by,
        "updatedAt": c.updated_at,
        "version": c.version,
    }


# Importable spreadsheet columns written straight from an attribute, under the API name
# the import maps back to that same attribute: the export/import round trip by construction.
EXPORTED_ATTRIBUTES = tuple((c.field, API_TO_ATTRIBUTE[c.field]) for c in spreadsheet.COLUMNS
                            if c.importable and c.field not in ("type", "isActive"))


def export_view(c, summary: dict | None = None) -> dict:
    """A customer (or a row with its column names) as the columns of the Excel export
    (``spreadsheet.COLUMNS``), computed ones included; cheaper than ``customer_view``."""
    view = {field: getattr(c, attr) for field, attr in EXPORTED_ATTRIBUTES}
    view["type"] = rules.CUSTOMER_TYPES.get(c.type, c.type) if c.type else None
    view["isActive"] = c.status == "active"
    view["availableCredit"] = rules.available_credit(c.credit_limit, c.current_balance)
    view["totalOrders"] = summary["totalOrders"] if summary else None
    view["totalRevenue"] = summary["totalRevenue"] if summary else None
    return view


# --- identity ----------------------------------------------------------------------------

def duplicate_code(code: str) -> ValidationError:
    message = f"{core.DUPLICATE_CODE_MESSAGE}: {code}"
    return ValidationError(message, errors={"customerCode": [message]}, error_code="CUSTOMER_CODE_EXISTS")


def duplicate_name(name: str) -> ValidationError:
    message = f"{core.DUPLICATE_NAME_MESSAGE}: {name}"
    return ValidationError(message, errors={"name": [message]}, error_code="CUSTOMER_NAME_EXISTS")


def identity_errors(uow: CustomerUnitOfWork, ctx: RequestContext, attrs: dict,
                    exclude_id: int | None = None) -> ValidationError | None:
    """Seed 001 answers a taken customerCode (and, by CONTRACT §4, a taken name) with 400
    naming the field; both are reported when both are taken."""
    errors: dict[str, list[str]] = {}
    first: ValidationError | None = None
    code = attrs.get("customer_code")
    if code and exclude_id is None and uow.customers.code_taken(ctx.factory_id, code):
        first = duplicate_code(code)
        errors.update(first.errors)
    name = attrs.get("name")
    if name and uow.customers.name_taken(ctx.factory_id, name, exclude_id):
        error = duplicate_name(name)
        first = first or error
        errors.update(error.errors)
    if first is None:
        return None
    return ValidationError(first.message, errors=errors, error_code=first.error_code)


def as_mobile_error(exc: AppError, attrs: dict) -> AppError:
    """A Conflict of the shared use cases (named by attribute) in this surface's terms."""
    if isinstance(exc, Conflict) and exc.errors:
        if "customer_code" in exc.errors:
            return duplicate_code(attrs.get("customer_code", ""))
        if "name" in exc.errors:
            return duplicate_name(attrs.get("name", ""))
    if exc.errors:
        exc.errors = api_errors(exc.errors)
    return exc


def credit_limit_change_row(ctx: RequestContext, customer: Customer, old_limit: Decimal) -> dict:
    return dict(customer_id=customer.id, factory_id=customer.factory_id, old_limit=old_limit,
                new_limit=customer.credit_limit, balance_at_change=customer.current_balance,
                exceeds_limit=rules.exceeds_credit_limit(customer.credit_limit, customer.current_balance),
                operator_id=ctx.operator_id, operator_name=ctx.operator_name, trace_id=ctx.trace_id,
                changed_at=utcnow())


def balance_change_row(ctx: RequestContext, customer: Customer, old_balance: Decimal, kind: str,
                       note: str | None = None) -> dict:
    return dict(customer_id=customer.id, factory_id=customer.factory_id, old_balance=old_balance,
                new_balance=customer.current_balance,
                amount=Decimal(customer.current_balance) - Decimal(old_balance), kind=kind, note=note,
                operator_id=ctx.operator_id, operator_name=ctx.operator_name, trace_id=ctx.trace_id,
                created_at=utcnow())


def record_credit_limit_change(uow: CustomerUnitOfWork, ctx: RequestContext, customer: Customer,
                               old_limit: Decimal) -> None:
    uow.session.execute(orm.credit_limit_changes.insert(), [credit_limit_change_row(ctx, customer, old_limit)])


def record_rating_change(uow: CustomerUnitOfWork, ctx: RequestContext, customer: Customer,
                         old_rating: int | None) -> None:
    uow.session.execute(orm.rating_history.insert().values(
        customer_id=customer.id, factory_id=customer.factory_id, old_rating=old_rating,
        new_rating=customer.rating, notes=customer.rating_notes, operator_id=ctx.operator_id,
        operator_name=ctx.operator_name, trace_id=ctx.trace_id, changed_at=utcnow()))


def record_balance_change(uow: CustomerUnitOfWork, ctx: RequestContext, customer: Customer,
                          old_balance: Decimal, kind: str, note: str | None = None) -> None:
    uow.session.execute(orm.balance_transactions.insert(), [balance_change_row(ctx, customer, old_balance, kind, note)])


def may_change_money(ctx: RequestContext) -> bool:
    return authz.allows("customer.finance", ctx.principal.roles)


# --- create ------------------------------------------------------------------------------

# Optional columns set explicitly (to NULL) on every new customer, so that a batch of new
# customers shares one column list and the ORM sends it as one multi-row INSERT.
NULLABLE_ON_CREATE = ("industry_type", "email", "address", "tax_number", "notes", "rating_notes", "debt_since")


def creation_attributes(ctx: RequestContext, request: dict, now: dt.datetime) -> dict:
    """A create request (camelCase) -> attributes of the new customer. An opening balance
    (Excel import's 当前余额) is money: it needs a finance role."""
    attrs = to_attributes(request)
    opening_balance = Decimal(attrs.pop("current_balance", None) or 0)
    if opening_balance != 0:
        if not may_change_money(ctx):
            message = "设置期初余额需要工厂管理员或财务管理员权限"
            raise Forbidden(message, errors={"currentBalance": [message]})
        attrs["current_balance"] = opening_balance
        if opening_balance < 0:
            attrs["debt_since"] = now
    return attrs


def insert_customers(uow: CustomerUnitOfWork, ctx: RequestContext, attributes: list[dict]) -> list[Customer]:
    """New customers (from ``creation_attributes``) inside an open unit of work, their
    names and codes already checked by the caller: one multi-row INSERT, each customer's
    ``customer.created`` event, and the audit rows of opening credit limits and balances.
    The unique indexes still guard against a concurrent writer: a taken name or code
    raises (naming it when there is a single customer)."""
    now = utcnow()
    customers = []
    for attrs in attributes:
        customer = core.new_customer(ctx, attrs, now)
        for attr in NULLABLE_ON_CREATE:
            if getattr(customer, attr, None) is None:
                setattr(customer, attr, None)
        uow.customers.add(customer)
        customers.append(customer)
    try:
        uow.flush()
    except IntegrityError as exc:
        conflict = core.conflict_from_integrity(exc)
        raise (as_mobile_error(conflict, attributes[0]) if len(attributes) == 1 else conflict) from exc
    for customer in customers:
        core.emit_customer_event(uow, customer, "customer.created", ctx)
    credit = [credit_limit_change_row(ctx, c, Decimal(0)) for c in customers if Decimal(c.credit_limit or 0) > 0]
    if credit:
        uow.session.execute(orm.credit_limit_changes.insert(), credit)
    opening = [balance_change_row(ctx, c, Decimal(0), "opening", "导入期初余额") for c in customers
               if Decimal(c.current_balance or 0) != 0]
    if opening:
        uow.session.execute(orm.balance_transactions.insert(), opening)
    return customers


def insert_customer(uow: CustomerUnitOfWork, ctx: RequestContext, request: dict) -> Customer:
    """One new customer: its name and code checked (400 naming each one taken), then
    inserted with its event and audit rows."""
    attrs = creation_attributes(ctx, request, utcnow())
    error = identity_errors(uow, ctx, attrs)
    if error is not None:
        raise error
    return insert_customers(uow, ctx, [attrs])[0]


def create_customer(uow: CustomerUnitOfWork, ctx: RequestContext, request: dict) -> Customer:
    """Seed 001 §1.1: defaults (balance 0, active, rating 3, terms 30) come from the model."""
    with uow:
        customer = insert_customer(uow, ctx, request)
        uow.commit()
    return customer


# --- update, delete ----------------------------------------------------------------------

def update_customer(uow: CustomerUnitOfWork, ctx: RequestContext, customer_id: int, request: dict) -> Customer:
    """Seed 001 §1.2: only the fields sent change; system fields never do. The customer
    code is the customer's identity and cannot change; a credit limit change needs a
    finance role and, like a rating change, is audited as by its own endpoint."""
    attrs = to_attributes(request)
    with uow:
        customer = core.load_customer(uow, ctx, customer_id, for_update=True)
        code = attrs.pop("customer_code", None)
        if code is not None and code != customer.customer_code:
            raise ValidationError("客户代码创建后不可修改", errors={"customerCode": ["客户代码创建后不可修改"]})
        old_limit, old_rating = customer.credit_limit, customer.rating
        if "credit_limit" in attrs and Decimal(attrs["credit_limit"]) != Decimal(old_limit) \
                and not may_change_money(ctx):
            raise Forbidden("修改信用额度需要工厂管理员或财务管理员权限",
                            errors={"creditLimit": ["修改信用额度需要工厂管理员或财务管理员权限"]})
        if attrs.get("name") and attrs["name"] != customer.name:
            error = identity_errors(uow, ctx, {"name": attrs["name"]}, exclude_id=customer.id)
            if error is not None:
                raise error
        try:
            changed = core.apply_update(uow, ctx, customer, attrs, {"auto_sync": True})
        except AppError as exc:
            raise as_mobile_error(exc, attrs) from exc
        if "credit_limit" in changed:
            record_credit_limit_change(uow, ctx, customer, old_limit)
        if "rating" in changed or "rating_notes" in changed:
            record_rating_change(uow, ctx, customer, old_rating)
        uow.commit()
    return customer


def delete_customer(uow: CustomerUnitOfWork, ctx: RequestContext, customer_id: int) -> None:
    """Seed 001 §1.3: soft delete, refused while the customer owes money."""
    with uow:
        customer = core.load_customer(uow, ctx, customer_id, for_update=True)
        if customer.owes_money:
            message = f"客户存在欠款 {money_text(rules.debt(customer.current_balance))} 元，不能删除，请先结清欠款"
            raise Conflict(message, error_code="CUSTOMER_HAS_DEBT", errors={"currentBalance": [message]})
        core.remove_customer(uow, ctx, customer)
        uow.commit()


# --- status and rating -------------------------------------------------------------------

def set_active(uow: CustomerUnitOfWork, ctx: RequestContext, customer_id: int, is_active: bool) -> Customer:
    """Seed 001 §3.1 on the status state machine (``rules.status_for_activation``)."""
    with uow:
        customer = core.load_customer(uow, ctx, customer_id, for_update=True)
        target = rules.status_for_activation(customer.status, is_active)
        if target is not None:
            try:
                rules.check_status_transition(customer.status, target)
            except rules.TransitionNotAllowed:
                label = rules.STATUS_LABELS.get(customer.status, customer.status)
                message = f"客户当前为{label}状态，不能直接启用"
                raise Conflict(message, error_code="STATUS_TRANSITION_NOT_ALLOWED",
                               errors={"isActive": [message]}) from None
            previous = customer.change_status(target, operator_id=ctx.operator_id,
                                              operator_name=ctx.operator_name, now=utcnow())
            core.record_status_change(uow, ctx, customer, previous, "启用" if is_active else "停用")
            core.emit_customer_event(uow, customer, "customer.updated", ctx, ["status"])
        uow.commit()
    return customer


def rate_customer(uow: CustomerUnitOfWork, ctx: RequestContext, customer_id: int, rating: int,
                  notes: str | None) -> Customer:
    """Seed 001 §3.2: rating and its notes, with a rating_history row per change."""
    with uow:
        customer = core.load_customer(uow, ctx, customer_id, for_update=True)
        old_rating = customer.rating
        changed = core.apply_update(uow, ctx, customer, {"rating": rating, "rating_notes": notes})
        if changed:
            record_rating_change(uow, ctx, customer, old_rating)
        uow.commit()
    return customer


# --- reads -------------------------------------------------------------------------------

def get_customer(uow: CustomerUnitOfWork, ctx: RequestContext, customer_id: int,
                 order_summaries: OrderSummaries | None = None) -> Customer:
    """Seed 001 §1.4. Order figures are asked after the database work is done, so a slow
    analytics-service never holds a connection."""
    with uow:
        customer = core.load_customer(uow, ctx, customer_id)
    customer.order_summary = None
    if order_summaries is not None:
        found = order_summaries([customer.id])
        customer.order_summary = (found or {}).get(customer.id)
    return customer


def sort_columns(sort: listing.Sort) -> list:
    c = orm.customers.c
    if sort.attribute == "available_credit":
        key = c.credit_limit - sa.func.abs(c.current_balance)
    else:
        key = getattr(c, sort.attribute)
    if sort.descending:
        return [key.desc(), c.id.desc()]
    return [key.asc(), c.id.asc()]


def list_customers(uow: CustomerUnitOfWork, ctx: RequestContext, *, page: int, size: int,
                   sort_by: str | None, sort_order: str | None) -> dict:
    """Seed 001 §1.5: one page and seed's PageResponse."""
    try:
        sort = listing.parse_sort(sort_by, sort_order)
    except listing.SortNotAllowed as exc:
        raise ValidationError(exc.message, errors={exc.field: [exc.message]}) from None
    with uow:
        stmt = uow.customers.filtered(ctx.factory_id, ctx.scope, CustomerFilter())
        items, total = uow.customers.page(stmt, page=page, page_size=size, order_by=sort_columns(sort))
    return {"content": items, **listing.page_info(total, page, size)}


def _by_name(uow: CustomerUnitOfWork, stmt, limit: int) -> tuple[list[Customer], bool]:
    c = orm.customers.c
    rows = uow.session.scalars(stmt.order_by(c.name.asc(), c.id.asc()).limit(limit + 1)).unique().all()
    return list(rows[:limit]), len(rows) > limit


def active_customers(uow: CustomerUnitOfWork, ctx: RequestContext, limit: int) -> tuple[list[Customer], bool]:
    """Seed 001 §2.1: active customers by name; ``True`` when more than ``limit`` exist."""
    with uow:
        stmt = uow.customers.filtered(ctx.factory_id, ctx.scope, CustomerFilter(status="active"))
        return _by_name(uow, stmt, limit)


def search_customers(uow: CustomerUnitOfWork, ctx: RequestContext, keyword: str,
                     limit: int) -> tuple[list[Customer], bool]:
    """Seed 001 §2.2: ``keyword`` in name, code or contact person (wildcards in it are
    literal); customers named exactly ``keyword`` first, then the rest by name. Two
    queries, so that each can use its index (the name index for the exact match and for
    broad keywords, the trigram indexes for selective ones)."""
    c = orm.customers.c
    with uow:
        matching = uow.customers.filtered(ctx.factory_id, ctx.scope, CustomerFilter(keyword=keyword))
        exact, more = _by_name(uow, matching.where(c.name == keyword), limit)
        if more:
            return exact, True
        rest, more = _by_name(uow, matching.where(c.name.is_distinct_from(keyword)), limit - len(exact))
    return exact + rest, more


def customers_by_type(uow: CustomerUnitOfWork, ctx: RequestContext, type_label: str,
                      limit: int) -> tuple[list[Customer], bool]:
    """Seed 001 §2.3 (the type arrives as its Chinese label)."""
    code = rules.TYPE_BY_LABEL.get(type_label)
    if code is None:
        message = "客户类型必须是 " + "/".join(rules.TYPE_BY_LABEL) + " 之一"
        raise ValidationError(message, errors={"type": [message]})
    with uow:
        stmt = uow.customers.filtered(ctx.factory_id, ctx.scope, CustomerFilter(type=code))
        return _by_name(uow, stmt, limit)


def customers_by_industry(uow: CustomerUnitOfWork, ctx: RequestContext, industry: str,
                          limit: int) -> tuple[list[Customer], bool]:
    """Seed 001 §2.4."""
    with uow:
        stmt = uow.customers.filtered(ctx.factory_id, ctx.scope, CustomerFilter(industry_type=industry))
        return _by_name(uow, stmt, limit)


def code_exists(uow: CustomerUnitOfWork, ctx: RequestContext, code: str) -> bool:
    """Seed 001 §7.1. Counts every customer of the factory, deleted ones too: their codes
    stay reserved, so a create with such a code would be refused."""
    with uow:
        return uow.customers.code_taken(ctx.factory_id, code)


def codes_taken(uow: CustomerUnitOfWork, factory_id: str, codes: Iterable[str]) -> set[str]:
    c = orm.customers.c
    codes = sorted(set(codes))
    taken: set[str] = set()
    for start in range(0, len(codes), 1000):
        chunk = codes[start:start + 1000]
        taken.update(uow.session.scalars(sa.select(c.customer_code).where(
            c.factory_id == factory_id, c.customer_code.in_(chunk))))
    return taken


def names_taken(uow: CustomerUnitOfWork, factory_id: str, names: Iterable[str]) -> set[str]:
    c = orm.customers.c
    names = sorted(set(names))
    taken: set[str] = set()
    for start in range(0, len(names), 1000):
        chunk = names[start:start + 1000]
        taken.update(uow.session.scalars(sa.select(c.name).where(
            c.factory_id == factory_id, c.name.in_(chunk), c.deleted_at.is_(None),
            c.external_user_id.is_(None))))
    return taken
