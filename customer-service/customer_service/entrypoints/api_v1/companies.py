"""/api/v1/companies (seed 003): company upsert, list and detail within the tenant and
the caller's business domains."""
from __future__ import annotations

from flask.views import MethodView

from crm_common.authz import authorize
from crm_common.envelopes import Surface, envelope_schema
from crm_common.paging import keyset_body, page_body
from crm_common.schemas import document_errors
from crm_common.web import Blueprint, reply, request_context

from ...bootstrap import customer_service
from ...domain import commands
from ...service_layer import companies as handlers
from ...service_layer import queries
from .company_schemas import CompanyListQuerySchema, CompanyPageSchema, CompanySchema
from .schemas import CompanyInSchema
from .wording import V1

blp = Blueprint("companies_v1", __name__, url_prefix="/api/v1/companies",
                description="Companies (seed 003). Reads: any role of the tenant; writes: admin, "
                            "factory_admin, sales_admin.")
V1.install(blp)

V1Company = envelope_schema(Surface.V1, CompanySchema)
errors = lambda *codes: document_errors(blp, Surface.V1, *codes)  # noqa: E731
COMPANY_EXAMPLE = {"company_code": "RB-CO-1", "name": "上海客户A有限公司", "source": "RB", "source_ref_id": "RB-CO-1",
                   "industry_type": "信息技术", "contact_name": "张三", "contact_phone": "13800138000"}


@blp.route("")
class Companies(MethodView):
    @blp.doc(operationId="listCompanies")
    @blp.arguments(CompanyListQuerySchema, location="query")
    @blp.response(200, envelope_schema(Surface.V1, CompanyPageSchema))
    @errors(400, 401, 403)
    @authorize("company.read")
    def get(self, query):
        """List the tenant's companies in the caller's business domains.

        Filters: `keyword` (part of the name or code, any case), `source`; pages with `page`
        and `page_size` (≤ 100), newest first. Incremental sync: `updated_since` and/or
        `cursor` answer the companies changed since, oldest change first, with
        `next_cursor` (null on the last page)."""
        ctx, uow = request_context(), customer_service().uow()
        if query["incremental"]:
            items, cursor = queries.company_changes(uow, ctx, keyword=query.get("keyword"), source=query.get("source"),
                                                    changes=queries.Changes(query["page_size"], query["updated_since"],
                                                                            query["cursor"]))
            return reply(keyset_body(items, query["page_size"], cursor))
        items, total = queries.company_page(uow, ctx, keyword=query.get("keyword"), source=query.get("source"),
                                            page=query["page"], page_size=query["page_size"])
        return reply(page_body(items, total, query["page"], query["page_size"]))

    @blp.doc(operationId="upsertCompany")
    @blp.arguments(CompanyInSchema, example=COMPANY_EXAMPLE)
    @blp.response(201, V1Company)
    @blp.alt_response(200, schema=V1Company, description="An existing company was found and updated")
    @errors(400, 401, 403, 404, 409)
    @authorize("company.write")
    def post(self, body):
        """Upsert a company keyed by `company_code`, or by `source` + `source_ref_id` (or by `id`).

        201 when created, 200 when the key matched an existing company (its given fields
        are updated). Both keys are unique per tenant in the database. A new company needs a
        `name` (400 `COMPANY_NOT_FOUND`); an unknown `id` is 404."""
        company, created = handlers.upsert_company(commands.UpsertCompany(request_context(), body),
                                                   customer_service().uow())
        return reply(company, status=201 if created else 200)


@blp.route("/<int:company_id>")
class CompanyById(MethodView):
    @blp.doc(operationId="getCompany")
    @blp.response(200, V1Company)
    @errors(400, 401, 403, 404)
    @authorize("company.read")
    def get(self, company_id):
        """Company detail (404 for another tenant's or another business domain's company)."""
        return reply(queries.company(customer_service().uow(), request_context(), company_id))
