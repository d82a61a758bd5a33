"""Companies (seed 003): upsert keyed by ``id``, ``company_code`` or ``source`` +
``source_ref_id``, within the tenant and the caller's business domains."""
from __future__ import annotations

from typing import Mapping

from crm_common.context import RequestContext
from crm_common.logs import bind

from ..domain import commands, rules
from ..domain.companies import company_key
from ..domain.errors import CompanyNameRequired, CompanyNotFound, CompanyTaken
from ..domain.model import Company
from .unit_of_work import CustomerUnitOfWork, UniqueViolation

COMPANY_FIELDS = ("name", "business_license_number", "industry_type", "address", "contact_name",
                  "contact_phone", "business_domain")


def upsert_company(cmd: commands.UpsertCompany, uow: CustomerUnitOfWork) -> tuple[Company, bool]:
    """``(company, created)``."""
    with uow:
        company, created = upsert_outcome(uow, cmd.ctx, cmd.fields)
        uow.commit()
    bind(companyId=company.id)
    return company, created


def upsert_in(uow: CustomerUnitOfWork, ctx: RequestContext, data: Mapping, *,
              default_domain_code: str | None = None) -> Company:
    """Inside an open unit of work (a customer's creation): the company, found or created."""
    return upsert_outcome(uow, ctx, data, default_domain_code=default_domain_code)[0]


def upsert_outcome(uow: CustomerUnitOfWork, ctx: RequestContext, data: Mapping, *,
                   default_domain_code: str | None = None) -> tuple[Company, bool]:
    """Find the company among those the caller's business domains allow, update it or
    create it. A new company lands in ``business_domain``, else ``default_domain_code``,
    else the caller's default domain."""
    company, created, _changed = upsert_changes(uow, ctx, data, default_domain_code=default_domain_code)
    return company, created


def upsert_changes(uow: CustomerUnitOfWork, ctx: RequestContext, data: Mapping, *,
                   default_domain_code: str | None = None) -> tuple[Company, bool, list[str]]:
    """``upsert_outcome`` that also says which fields of a found company changed."""
    factory = ctx.factory_id
    kind, key = company_key(dict(data))
    if kind == "id":
        company = uow.companies.get(factory, key, ctx.scope, for_update=True)
        if company is None:
            raise CompanyNotFound()
    elif kind == "code":
        company = uow.companies.by_code(factory, key, for_update=True, scope=ctx.scope)
    else:
        company = uow.companies.by_source_ref(factory, *key, for_update=True, scope=ctx.scope)
    created = company is None
    changes: dict = {}
    if created:
        if not data.get("name"):
            raise CompanyNameRequired()
        fields = {k: data.get(k) for k in COMPANY_FIELDS}
        fields["business_domain"] = data.get("business_domain") or default_domain_code or rules.default_domain(ctx.scope)
        ctx.scope.require(fields["business_domain"])
        company = Company(factory_id=factory, company_code=data.get("company_code"), source=data.get("source"),
                          source_ref_id=data.get("source_ref_id"), created_by=ctx.operator_id, version=1, **fields)
        uow.companies.add(company)
    else:
        if data.get("business_domain") and data["business_domain"] != company.business_domain:
            ctx.scope.require(data["business_domain"])
        changes = {k: data[k] for k in COMPANY_FIELDS if data.get(k) is not None and getattr(company, k) != data[k]}
        for name, value in changes.items():
            setattr(company, name, value)
        if changes:
            company.version = (company.version or 1) + 1
    try:
        uow.flush()
    except UniqueViolation as exc:
        raise CompanyTaken() from exc
    return company, created, sorted(changes)
