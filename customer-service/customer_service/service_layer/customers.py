"""Use cases of the customer aggregate shared by every surface: create, update, status,
delete, read, list. Each runs in one unit of work that also writes the outbox event."""
from __future__ import annotations

import datetime as dt
import math
from typing import Iterable

from sqlalchemy.exc import IntegrityError

from crm_common.context import RequestContext
from crm_common.db import unique_violation, utcnow
from crm_common.errors import Conflict, NotFound, PreconditionFailed, ValidationError
from crm_common.events import make_event

from ..adapters import orm
from ..adapters.repository import CustomerFilter
from ..domain import rules
from ..domain.companies import company_key
from ..domain.model import Company, Customer
from . import external_sync as sync
from .unit_of_work import CustomerUnitOfWork

PRODUCER = "customer-service"
NOT_FOUND_MESSAGE = "客户不存在或已被删除"
DUPLICATE_NAME_MESSAGE = "客户名称已存在"
DUPLICATE_CODE_MESSAGE = "客户代码已存在"


# --- events ----------------------------------------------------------------------------------

def customer_state(customer: Customer) -> dict:
    """The whole customer as the event carries it (CONTRACT §5 ``data``)."""
    return {col.name: getattr(customer, col.name, None) for col in orm.customers.columns}


def emit_customer_event(uow: CustomerUnitOfWork, customer: Customer, event_type: str,
                        ctx: RequestContext, changed: Iterable[str] = (), options: dict | None = None) -> None:
    uow.flush()  # assigns the id and bumps ``version`` before the event records it
    uow.add_event(make_event(
        event_type=event_type, producer=PRODUCER, aggregate_type="customer",
        aggregate_id=customer.id, aggregate_version=customer.version,
        factory_id=customer.factory_id, trace_id=ctx.trace_id, actor=ctx.actor,
        changed_fields=changed, options=options, data=customer_state(customer)))


# --- integrity -------------------------------------------------------------------------------

def conflict_from_integrity(exc: IntegrityError) -> Conflict:
    """Turn a unique-index violation into the 409 that names the field."""
    which = unique_violation(exc) or ""
    if "user_id" in which:
        return Conflict("该 userId 的客户已存在", error_code="CUSTOMER_DUPLICATED",
                        errors={"userId": ["该 userId 的客户已存在"]})
    if "code" in which:
        return Conflict(DUPLICATE_CODE_MESSAGE, error_code="CUSTOMER_DUPLICATED",
                        errors={"customer_code": [DUPLICATE_CODE_MESSAGE]})
    if "name" in which:
        return Conflict(DUPLICATE_NAME_MESSAGE, error_code="CUSTOMER_DUPLICATED",
                        errors={"name": [DUPLICATE_NAME_MESSAGE]})
    if "compan" in which or "source" in which:
        return Conflict("公司已存在", error_code="COMPANY_DUPLICATED")
    return Conflict("数据冲突", error_code="CONFLICT")


def flush_or_conflict(uow: CustomerUnitOfWork) -> None:
    try:
        uow.flush()
    except IntegrityError as exc:
        raise conflict_from_integrity(exc) from exc


# --- companies (seed 003: upsert keyed by companyCode or source + sourceRefId) ---------------

COMPANY_FIELDS = ("name", "business_license_number", "industry_type", "address", "contact_name",
                  "contact_phone", "business_domain")


def upsert_company(uow: CustomerUnitOfWork, ctx: RequestContext, data: dict, *,
                   default_domain_code: str | None = None) -> Company:
    return upsert_company_outcome(uow, ctx, data, default_domain_code=default_domain_code)[0]


def upsert_company_outcome(uow: CustomerUnitOfWork, ctx: RequestContext, data: dict, *,
                           default_domain_code: str | None = None) -> tuple[Company, bool]:
    """Find the company by ``id``, ``company_code`` or ``source`` + ``source_ref_id`` among
    those the caller's business domains allow, update it or create it; returns
    ``(company, created)``. A new company lands in ``business_domain``, else
    ``default_domain_code``, else the caller's default domain."""
    factory = ctx.factory_id
    kind, key = company_key(data)
    company: Company | None = None
    if kind == "id":
        company = uow.companies.get(factory, key, ctx.scope, for_update=True)
        if company is None:
            raise NotFound("公司不存在", error_code="COMPANY_NOT_FOUND", errors={"company.id": ["公司不存在"]})
    elif kind == "code":
        company = uow.companies.by_code(factory, key, for_update=True, scope=ctx.scope)
    else:
        company = uow.companies.by_source_ref(factory, *key, for_update=True, scope=ctx.scope)
    now = utcnow()
    created = company is None
    if created:
        if not data.get("name"):
            raise ValidationError("新公司需要名称", error_code="COMPANY_NOT_FOUND",
                                  errors={"company.name": ["新公司需要名称"]})
        fields = {k: data.get(k) for k in COMPANY_FIELDS}
        fields["business_domain"] = data.get("business_domain") or default_domain_code or default_domain(ctx)
        ctx.scope.require(fields["business_domain"])
        company = Company(factory_id=factory, company_code=data.get("company_code"),
                          source=data.get("source"), source_ref_id=data.get("source_ref_id"),
                          created_by=ctx.operator_id, created_at=now, updated_at=now, version=1, **fields)
        uow.companies.add(company)
    else:
        if data.get("business_domain") and data["business_domain"] != company.business_domain:
            ctx.scope.require(data["business_domain"])
        changed = False
        for key_name in COMPANY_FIELDS:
            if data.get(key_name) is not None and getattr(company, key_name) != data[key_name]:
                setattr(company, key_name, data[key_name])
                changed = True
        if changed:
            company.updated_at = now
            company.version = (company.version or 1) + 1
    try:
        uow.flush()
    except IntegrityError as exc:
        raise Conflict("公司已存在（并发写入），请重试", error_code="COMPANY_DUPLICATED") from exc
    return company, created


# --- customers -------------------------------------------------------------------------------

def default_domain(ctx: RequestContext) -> str:
    if not ctx.scope.everything and len(ctx.scope.codes) == 1:
        return next(iter(ctx.scope.codes))
    return "DEFAULT"


def new_customer(ctx: RequestContext, fields: dict, now: dt.datetime) -> Customer:
    fields = dict(fields)
    fields.setdefault("business_domain", None)
    fields["business_domain"] = fields["business_domain"] or default_domain(ctx)
    ctx.scope.require(fields["business_domain"])
    if not fields.get("customer_code"):
        fields["customer_code"] = rules.generate_customer_code(fields.get("source"), now.date())
    return Customer(factory_id=ctx.factory_id, created_at=now, updated_at=now,
                    created_by=ctx.operator_id, created_by_name=ctx.operator_name,
                    updated_by=ctx.operator_id, updated_by_name=ctx.operator_name,
                    **{k: v for k, v in fields.items() if v is not None})


def check_identity(uow: CustomerUnitOfWork, ctx: RequestContext, customer: Customer,
                   exclude_id: int | None = None) -> None:
    """Friendly 409s before the unique indexes (which stay the real guarantee)."""
    if customer.name and getattr(customer, "external_user_id", None) is None \
            and uow.customers.name_taken(ctx.factory_id, customer.name, exclude_id):
        raise Conflict(DUPLICATE_NAME_MESSAGE, error_code="CUSTOMER_DUPLICATED",
                       errors={"name": [DUPLICATE_NAME_MESSAGE]})
    if exclude_id is None and uow.customers.code_taken(ctx.factory_id, customer.customer_code):
        raise Conflict(DUPLICATE_CODE_MESSAGE, error_code="CUSTOMER_DUPLICATED",
                       errors={"customer_code": [DUPLICATE_CODE_MESSAGE]})


def add_customer(uow: CustomerUnitOfWork, ctx: RequestContext, fields: dict,
                 company: Company | None = None) -> Customer:
    """Insert one customer and its ``customer.created`` event inside an open unit of work."""
    customer = new_customer(ctx, fields, utcnow())
    customer.company = company
    check_identity(uow, ctx, customer)
    uow.customers.add(customer)
    flush_or_conflict(uow)
    emit_customer_event(uow, customer, "customer.created", ctx, changed=())
    return customer


def create_customer(uow: CustomerUnitOfWork, ctx: RequestContext, fields: dict,
                    company: dict | None = None, external_sync: dict | None = None) -> Customer:
    """Seed 003 CreateCustomerUseCase: company upsert + customer insert + (for a customer
    from an outside system) a SUCCESS external-sync row, one transaction. Any failure rolls
    all of it back; an external one then leaves a FAILED row, written on its own. A remote
    record already imported (SUCCESS, customer still live) is refused with 409
    ``CUSTOMER_DUPLICATED`` naming the existing customer, never created twice."""
    origin = sync.external_origin(fields, external_sync)
    fields = sync.adopt_origin(fields, origin)
    payload = {"customer": fields, "company": company}
    try:
        with uow:
            if origin is not None:
                sync.refuse_repeated_import(uow, ctx, origin)
            domain = fields.get("business_domain") or default_domain(ctx)
            company_row = upsert_company(uow, ctx, company, default_domain_code=domain) if company else None
            customer = add_customer(uow, ctx, fields, company_row)
            if origin is not None:
                sync.record_success(uow, ctx, origin, customer.id, payload)
            uow.commit()
    except Exception as exc:
        if origin is not None:
            sync.record_failure(uow, ctx, origin, exc, payload)
        raise
    return customer


def load_customer(uow: CustomerUnitOfWork, ctx: RequestContext, customer_id: int, *,
                  for_update: bool = False, expected_version: int | None = None) -> Customer:
    customer = uow.customers.get(ctx.factory_id, customer_id, ctx.scope, for_update=for_update)
    if customer is None:
        raise NotFound(NOT_FOUND_MESSAGE, error_code="CUSTOMER_NOT_FOUND")
    if expected_version is not None and customer.version != expected_version:
        raise PreconditionFailed(f"客户已被修改（当前版本 {customer.version}），请刷新后重试",
                                 error_code="VERSION_MISMATCH")
    return customer


def apply_update(uow: CustomerUnitOfWork, ctx: RequestContext, customer: Customer, changes: dict,
                 options: dict | None = None) -> list[str]:
    """Apply editable changes to a loaded customer and emit ``customer.updated`` if any."""
    if "business_domain" in changes and changes["business_domain"] != customer.business_domain:
        ctx.scope.require(changes["business_domain"])
    if changes.get("name") and changes["name"] != customer.name and customer.external_user_id is None \
            and uow.customers.name_taken(ctx.factory_id, changes["name"], customer.id):
        raise Conflict(DUPLICATE_NAME_MESSAGE, error_code="CUSTOMER_DUPLICATED",
                       errors={"name": [DUPLICATE_NAME_MESSAGE]})
    changed = customer.apply_changes(changes, operator_id=ctx.operator_id,
                                     operator_name=ctx.operator_name, now=utcnow())
    if changed:
        flush_or_conflict(uow)
        emit_customer_event(uow, customer, "customer.updated", ctx, changed, options)
    return changed


def update_customer(uow: CustomerUnitOfWork, ctx: RequestContext, customer_id: int, changes: dict, *,
                    expected_version: int | None = None, auto_sync: bool = True) -> tuple[Customer, list[str]]:
    with uow:
        customer = load_customer(uow, ctx, customer_id, for_update=True, expected_version=expected_version)
        changed = apply_update(uow, ctx, customer, changes, {"auto_sync": bool(auto_sync)})
        uow.commit()
    return customer, changed


def record_status_change(uow: CustomerUnitOfWork, ctx: RequestContext, customer: Customer,
                         previous: str | None, reason: str | None) -> None:
    uow.session.execute(orm.customer_status_history.insert().values(
        customer_id=customer.id, factory_id=customer.factory_id, from_status=previous,
        to_status=customer.status, reason=reason, operator_id=ctx.operator_id,
        operator_name=ctx.operator_name, trace_id=ctx.trace_id, changed_at=utcnow()))


def change_status(uow: CustomerUnitOfWork, ctx: RequestContext, customer_id: int, status: str, *,
                  reason: str | None = None, expected_version: int | None = None) -> Customer:
    """Seed 003 UpdateCustomerStatusUseCase: state machine + operator audit + event."""
    with uow:
        customer = load_customer(uow, ctx, customer_id, for_update=True, expected_version=expected_version)
        previous = customer.change_status(status, operator_id=ctx.operator_id,
                                          operator_name=ctx.operator_name, now=utcnow())
        if previous is not None:
            record_status_change(uow, ctx, customer, previous, reason)
            emit_customer_event(uow, customer, "customer.updated", ctx, ["status"])
        uow.commit()
    return customer


def delete_customer(uow: CustomerUnitOfWork, ctx: RequestContext, customer_id: int, *,
                    expected_version: int | None = None) -> Customer:
    with uow:
        customer = load_customer(uow, ctx, customer_id, for_update=True, expected_version=expected_version)
        remove_customer(uow, ctx, customer)
        uow.commit()
    return customer


def remove_customer(uow: CustomerUnitOfWork, ctx: RequestContext, customer: Customer) -> None:
    """Soft delete (refused while the customer owes money) and its event."""
    customer.soft_delete(operator_id=ctx.operator_id, operator_name=ctx.operator_name, now=utcnow())
    emit_customer_event(uow, customer, "customer.deleted", ctx, ["deleted_at"])


def visible_groups(ctx: RequestContext, groups: list[dict]) -> list[dict]:
    """Only the groups of business domains the caller may see."""
    return [g for g in groups if ctx.scope.allows(g["business_domain"])]


def load_detail(uow: CustomerUnitOfWork, ctx: RequestContext, customer_id: int) -> Customer:
    """The customer with every group it belongs to (what the read cache stores)."""
    with uow:
        customer = load_customer(uow, ctx, customer_id)
        customer.groups = uow.customers.groups_of([customer.id]).get(customer.id, [])
    return customer


def get_customer(uow: CustomerUnitOfWork, ctx: RequestContext, customer_id: int) -> Customer:
    customer = load_detail(uow, ctx, customer_id)
    customer.groups = visible_groups(ctx, customer.groups)
    return customer


def list_customers(uow: CustomerUnitOfWork, ctx: RequestContext, flt: CustomerFilter, *,
                   page: int, page_size: int) -> dict:
    with uow:
        stmt = uow.customers.filtered(ctx.factory_id, ctx.scope, flt)
        items, total = uow.customers.page(stmt, page=page, page_size=page_size)
        groups = uow.customers.groups_of([c.id for c in items])
        for customer in items:
            customer.groups = visible_groups(ctx, groups.get(customer.id, []))
    return {"items": items, "total": total, "page": page, "page_size": page_size,
            "total_pages": math.ceil(total / page_size) if total else 0}
