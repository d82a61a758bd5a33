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
from ..domain.model import Company, Customer
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


def upsert_company(uow: CustomerUnitOfWork, ctx: RequestContext, data: dict) -> Company:
    factory = ctx.factory_id
    company: Company | None = None
    if data.get("id") is not None:
        company = uow.companies.get(factory, data["id"])
        if company is None:
            raise NotFound("公司不存在", error_code="COMPANY_NOT_FOUND", errors={"company.id": ["公司不存在"]})
    elif data.get("company_code"):
        company = uow.companies.by_code(factory, data["company_code"], for_update=True)
    elif data.get("source") and data.get("source_ref_id"):
        company = uow.companies.by_source_ref(factory, data["source"], data["source_ref_id"], for_update=True)
    else:
        raise ValidationError("公司需要 id、company_code 或 source + source_ref_id 之一",
                              errors={"company": ["需要 id、company_code 或 source + source_ref_id"]})
    now = utcnow()
    if company is None:
        if not data.get("name"):
            raise ValidationError("新公司需要名称", error_code="COMPANY_NOT_FOUND",
                                  errors={"company.name": ["新公司需要名称"]})
        company = Company(factory_id=factory, company_code=data.get("company_code"),
                          source=data.get("source"), source_ref_id=data.get("source_ref_id"),
                          created_by=ctx.operator_id, created_at=now, updated_at=now, version=1,
                          **{k: data.get(k) for k in COMPANY_FIELDS})
        uow.companies.add(company)
    else:
        for key in COMPANY_FIELDS:
            if data.get(key) is not None and getattr(company, key) != data[key]:
                setattr(company, key, data[key])
                company.updated_at = now
    try:
        uow.flush()
    except IntegrityError as exc:
        raise Conflict("公司已存在（并发写入），请重试", error_code="COMPANY_DUPLICATED") from exc
    return company


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
                    company: dict | None = None) -> Customer:
    """Seed 003 CreateCustomerUseCase: company upsert + customer insert, one transaction."""
    with uow:
        company_row = upsert_company(uow, ctx, company) if company else None
        customer = add_customer(uow, ctx, fields, company_row)
        uow.commit()
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


def get_customer(uow: CustomerUnitOfWork, ctx: RequestContext, customer_id: int) -> Customer:
    with uow:
        customer = load_customer(uow, ctx, customer_id)
        customer.groups = uow.customers.groups_of([customer.id]).get(customer.id, [])
    return customer


def list_customers(uow: CustomerUnitOfWork, ctx: RequestContext, flt: CustomerFilter, *,
                   page: int, page_size: int) -> dict:
    with uow:
        stmt = uow.customers.filtered(ctx.factory_id, ctx.scope, flt)
        items, total = uow.customers.page(stmt, page=page, page_size=page_size)
        groups = uow.customers.groups_of([c.id for c in items])
        for customer in items:
            customer.groups = groups.get(customer.id, [])
    return {"items": items, "total": total, "page": page, "page_size": page_size,
            "total_pages": math.ceil(total / page_size) if total else 0}
