"""/api/v1/companies (seed 003): company upsert, list and detail within the tenant and
the caller's business domains."""
from __future__ import annotations

from flask.views import MethodView

from crm_common.authz import authorize
from crm_common.envelopes import Surface, envelope_schema
from crm_common.schemas import document_errors
from crm_common.web import Blueprint, reply, request_context

from ...service_layer import companies as svc
from ..deps import uow
from .company_schemas import CompanyListQuerySchema, CompanyPageSchema, CompanySchema
from .schemas import CompanyInSchema

blp = Blueprint("companies_v1", __name__, url_prefix="/api/v1/companies",
                description="Companies (seed 003). Reads: any role of the tenant; writes: admin, "
                            "factory_admin, sales_admin.")

V1Company = envelope_schema(Surface.V1, CompanySchema)
errors = lambda *codes: document_errors(blp, Surface.V1, *codes)  # noqa: E731


@blp.route("")
class Companies(MethodView):
    @blp.arguments(CompanyListQuerySchema, location="query")
    @blp.response(200, envelope_schema(Surface.V1, CompanyPageSchema))
    @errors(400, 401, 403)
    @authorize("company.read")
    def get(self, query):
        """List the tenant's companies in the caller's business domains.

        Filters: `keyword` (name or code), `source`; pages with `page` and `page_size` (≤ 100)."""
        ctx = request_context()
        return reply(svc.list_companies(uow(), ctx, keyword=query.get("keyword"), source=query.get("source"),
                                        page=query["page"], page_size=query["page_size"]))

    @blp.arguments(CompanyInSchema)
    @blp.response(201, V1Company)
    @blp.alt_response(200, schema=V1Company, description="An existing company was found and updated")
    @errors(400, 401, 403, 404, 409)
    @authorize("company.write")
    def post(self, body):
        """Upsert a company keyed by `company_code`, or by `source` + `source_ref_id` (or by `id`).

        201 when created, 200 when the key matched an existing company (its given fields
        are updated). Both keys are unique per tenant in the database."""
        ctx = request_context()
        company, created = svc.upsert(uow(), ctx, body)
        return reply(company, status=201 if created else 200)


@blp.route("/<int:company_id>")
class CompanyById(MethodView):
    @blp.response(200, V1Company)
    @errors(401, 403, 404)
    @authorize("company.read")
    def get(self, company_id):
        """Company detail (404 for another tenant's or another business domain's company)."""
        ctx = request_context()
        return reply(svc.get(uow(), ctx, company_id))
