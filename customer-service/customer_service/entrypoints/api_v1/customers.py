"""/api/v1/customers: the internal admin surface's customer resource (seeds 003, 004).

Views validate, call the service layer, and reply; rules live in the service layer."""
from __future__ import annotations

from flask.views import MethodView

from crm_common.authz import authorize
from crm_common.envelopes import Surface, envelope_schema
from crm_common.schemas import document_errors
from crm_common.web import Blueprint, etag_for, if_match_version, reply, request_context

from ...adapters.repository import CustomerFilter
from ...service_layer import customers as svc
from ...service_layer.cache import customer_detail
from ..deps import cache, uow
from .external_sync_schemas import CreateCustomerWithSyncRequestSchema
from .schemas import (
    CustomerListQuerySchema,
    CustomerPageSchema,
    CustomerSchema,
    CustomerUpdateSchema,
    StatusChangeSchema,
    UpdateQuerySchema,
)

blp = Blueprint("customers_v1", __name__, url_prefix="/api/v1/customers",
                description="Customers (internal admin API, seeds 003/004). Reads: any role of the "
                            "tenant; writes: admin, factory_admin, sales_admin; delete: admin, factory_admin.")

V1Customer = envelope_schema(Surface.V1, CustomerSchema)
V1CustomerPage = envelope_schema(Surface.V1, CustomerPageSchema)
errors = lambda *codes: document_errors(blp, Surface.V1, *codes)  # noqa: E731
# Argument schemas are given as instances, built once: given a class, webargs builds a new
# schema on every request, 10-15 % of a write's CPU (make bench, bench/README.md).


@blp.route("")
class Customers(MethodView):
    @blp.arguments(CustomerListQuerySchema(), location="query")
    @blp.response(200, V1CustomerPage)
    @errors(400, 401, 403)
    @authorize("customer.read")
    def get(self, query):
        """List customers of the tenant, filtered to the caller's business domains.

        Filters: `keyword` (name, code, contact), `businessDomain`, `status`, `source`;
        pages with `page` and `page_size` (≤ 100)."""
        ctx = request_context()
        flt = CustomerFilter(keyword=query.get("keyword"),
                             business_domain=query.get("businessDomain") or query.get("business_domain"),
                             status=query.get("status"), source=query.get("source"))
        return reply(svc.list_customers(uow(), ctx, flt, page=query["page"], page_size=query["page_size"]))

    @blp.arguments(CreateCustomerWithSyncRequestSchema())
    @blp.response(201, V1Customer)
    @errors(400, 401, 403, 404, 409)
    @authorize("customer.write")
    def post(self, body):
        """Create a customer (seed 003): optional `company` upsert, customer insert and
        its event in one transaction; any failure rolls all of it back and answers a
        business `error_code` (`COMPANY_NOT_FOUND`, `CUSTOMER_DUPLICATED`, `FORBIDDEN`, …).

        A customer from an outside system (`external_sync: {source, remote_id}`, or a
        `source` other than manual with a `source_ref_id`) is audited in external-sync:
        SUCCESS in the same transaction, FAILED after a rollback. Importing a remote record
        that already created a live customer is 409 `CUSTOMER_DUPLICATED` naming that id."""
        ctx = request_context()
        customer = svc.create_customer(uow(), ctx, body["customer"], body.get("company"),
                                       body.get("external_sync"))
        return reply(customer, status=201, headers={"ETag": etag_for(customer.version),
                                                     "Location": f"/api/v1/customers/{customer.id}"})


@blp.route("/<int:customer_id>")
class CustomerById(MethodView):
    @blp.response(200, V1Customer)
    @errors(401, 403, 404)
    @authorize("customer.read")
    def get(self, customer_id):
        """Customer detail with its company and groups. Sends `ETag` (the version).
        Served from the Redis read cache when `REDIS_URL` is set (every write invalidates)."""
        ctx = request_context()
        customer = customer_detail(uow(), ctx, customer_id, cache())
        return reply(customer, headers={"ETag": etag_for(customer.version)})

    @blp.arguments(CustomerUpdateSchema())
    @blp.arguments(UpdateQuerySchema(), location="query", as_kwargs=True)
    @blp.response(200, V1Customer)
    @errors(400, 401, 403, 404, 409, 412)
    @authorize("customer.write")
    def put(self, changes, customer_id, auto_sync):
        """Partial update. `If-Match: "<version>"` makes it conditional (412 when stale).
        `auto_sync=false` keeps linked projects and contracts unchanged (seed 004)."""
        ctx = request_context()
        customer, _changed = svc.update_customer(uow(), ctx, customer_id, changes,
                                                 expected_version=if_match_version(), auto_sync=auto_sync)
        return reply(customer, headers={"ETag": etag_for(customer.version)})

    @blp.response(200, envelope_schema(Surface.V1))
    @errors(401, 403, 404, 409, 412)
    @authorize("customer.delete")
    def delete(self, customer_id):
        """Soft delete; refused (409) while the customer owes money."""
        ctx = request_context()
        svc.delete_customer(uow(), ctx, customer_id, expected_version=if_match_version())
        return reply({"id": customer_id, "deleted": True}, message="删除成功")


@blp.route("/<int:customer_id>/status")
class CustomerStatus(MethodView):
    @blp.arguments(StatusChangeSchema())
    @blp.response(200, V1Customer)
    @errors(400, 401, 403, 404, 409, 412)
    @authorize("customer.write")
    def patch(self, body, customer_id):
        """Change status along the state machine; the operator (token `sub`, `name`) and
        time are recorded on the customer and in its status history."""
        ctx = request_context()
        customer = svc.change_status(uow(), ctx, customer_id, body["status"], reason=body.get("reason"),
                                     expected_version=if_match_version())
        return reply(customer, headers={"ETag": etag_for(customer.version)})
