"""/api/v1/sync: manual synchronisation of customers into their projects and contracts,
and the sync history (seed 004 §3.2, §7.2, §7.3).

Views validate, call the service layer, and reply."""
from __future__ import annotations

from flask.views import MethodView

from crm_common.authz import authorize
from crm_common.envelopes import Surface, envelope_schema
from crm_common.schemas import document_errors
from crm_common.web import Blueprint, reply, request_context

from ..service_layer import sync as svc
from .deps import customer_fetcher, uow
from .schemas import (
    BatchSyncRequestSchema,
    BatchSyncResultSchema,
    HistoryPageSchema,
    HistoryQuerySchema,
    SyncResultSchema,
)

blp = Blueprint("sync_v1", __name__, url_prefix="/api/v1/sync",
                description="Customer → project/contract synchronisation (seed 004). Reads: any role of "
                            "the tenant; manual sync: admin, factory_admin, sales_admin.")

errors = lambda *codes: document_errors(blp, Surface.V1, *codes)  # noqa: E731


@blp.route("/customers/<int:customer_id>")
class SyncOneCustomer(MethodView):
    @blp.response(200, envelope_schema(Surface.V1, SyncResultSchema))
    @errors(401, 403, 404, 503)
    @authorize("sync.run")
    def post(self, customer_id):
        """Copy one customer's current name, contact and phone into all its projects and
        contracts now (only differing fields are written).

        The current state comes from customer-service; when it cannot answer, from the
        last customer event seen (`source: snapshot`). Answers seed 004's result:
        `已同步 X 个项目的客户信息`, `updated_count`, `updated_projects`, `updated_fields`."""
        ctx = request_context()
        result = svc.sync_customer_now(uow(), ctx, customer_id, customer_fetcher(ctx))
        return reply(result, message=result["message"])


@blp.route("/customers")
class SyncManyCustomers(MethodView):
    @blp.arguments(BatchSyncRequestSchema)
    @blp.response(200, envelope_schema(Surface.V1, BatchSyncResultSchema))
    @blp.alt_response(207, schema=envelope_schema(Surface.V1, BatchSyncResultSchema),
                      description="Some customers could not be synchronised (see `results`)")
    @errors(400, 401, 403)
    @authorize("sync.run")
    def post(self, body):
        """Synchronise up to 100 customers (seed 004 §7.3), each on its own: one that fails
        (unknown customer, no state available) is reported in `results` and the rest go on.
        200 when all succeeded, else 207 (code 2070)."""
        ctx = request_context()
        result = svc.sync_customers_now(uow(), ctx, body["customer_ids"], customer_fetcher(ctx))
        return reply(result, message=result["message"], status=200 if result["success"] else 207)


@blp.route("/history")
class SyncHistory(MethodView):
    @blp.arguments(HistoryQuerySchema, location="query")
    @blp.response(200, envelope_schema(Surface.V1, HistoryPageSchema))
    @errors(400, 401, 403)
    @authorize("sync.read")
    def get(self, query):
        """Sync history of the tenant, newest first (seed 004 §7.2): when, which customer,
        how (`event`, `manual`, `contract`), which fields changed and were written, which
        projects and contracts, how many, and the outcome.

        Filters: `customer_id`, `trigger`, `outcome`; `page`, `page_size` (≤ 100)."""
        ctx = request_context()
        return reply(svc.list_history(uow(), ctx, customer_id=query.get("customer_id"),
                                      trigger=query.get("trigger"), outcome=query.get("outcome"),
                                      page=query["page"], page_size=query["page_size"]))
