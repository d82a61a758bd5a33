"""Companies (seed 003): upsert keyed by ``company_code`` or ``source`` + ``source_ref_id``,
list and detail, within the tenant and the caller's business domains."""
from __future__ import annotations

import math

from crm_common.context import RequestContext
from crm_common.errors import NotFound
from crm_common.logs import bind

from ..domain.model import Company
from .customers import upsert_company_outcome
from .unit_of_work import CustomerUnitOfWork


def upsert(uow: CustomerUnitOfWork, ctx: RequestContext, data: dict) -> tuple[Company, bool]:
    with uow:
        company, created = upsert_company_outcome(uow, ctx, data)
        uow.commit()
    bind(companyId=company.id)
    return company, created


def get(uow: CustomerUnitOfWork, ctx: RequestContext, company_id: int) -> Company:
    with uow:
        company = uow.companies.get(ctx.factory_id, company_id, ctx.scope)
    if company is None:
        raise NotFound("公司不存在", error_code="COMPANY_NOT_FOUND")
    return company


def list_companies(uow: CustomerUnitOfWork, ctx: RequestContext, *, keyword: str | None,
                   source: str | None, page: int, page_size: int) -> dict:
    with uow:
        items, total = uow.companies.page(ctx.factory_id, ctx.scope, keyword=keyword, source=source,
                                          page=page, page_size=page_size)
    return {"items": items, "total": total, "page": page, "page_size": page_size,
            "total_pages": math.ceil(total / page_size) if total else 0}
