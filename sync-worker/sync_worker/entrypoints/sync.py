"""/api/v1/sync: manual synchronisation of customers into their projects and contracts,
and the sync history (seed 004 §3.2, §7.2, §7.3).

Views validate, call the service layer, and reply."""
from __future__ import annotations

from flask import jsonify
from flask.views import MethodView

from crm_common.authz import authorize
from crm_common.envelopes import Surface, envelope_schema, error_body
from crm_common.schemas import document_errors
from crm_common.web import Blueprint, reply, request_context

from ..domain import commands as cmd
from ..service_layer import sync as svc
from .deps import core, customers_for
from .schemas import (
    BATCH_SYNC_EXAMPLE,
    SYNC_RESULT_EXAMPLE,
    BatchSyncRefusedSchema,
    BatchSyncRequestSchema,
    BatchSyncResultSchema,
    HistoryPageSchema,
    HistoryQuerySchema,
    SyncResultSchema,
    paging_of,
)

ALL_FAILED = "所有客户均同步失败"

blp = Blueprint("sync_v1", __name__, url_prefix="/api/v1/sync",
                description="Customer → project/contract synchronisation (seed 004). Reads: any role of "
                            "the tenant; manual sync: admin, factory_admin, sales_admin.")

errors = lambda *codes: document_errors(blp, Surface.V1, *codes)  # noqa: E731


@blp.route("/customers/<int:customer_id>")
class SyncOneCustomer(MethodView):
    @blp.doc(operationId="syncCustomer")
    @blp.response(200, envelope_schema(Surface.V1, SyncResultSchema), example=SYNC_RESULT_EXAMPLE)
    @errors(400, 401, 403, 404, 503)
    @authorize("sync.run")
    def post(self, customer_id):
        """Copy one customer's current name, contact and phone into all its projects and
        contracts now (only differing fields are written).

        The current state comes from customer-service; when it cannot answer, from the
        last customer event seen (`source: snapshot`). Answers seed 004's result:
        `已同步 X 个项目的客户信息`, `updated_count`, `updated_projects`, `updated_fields`."""
        ctx = request_context()
        result = svc.sync_customer(cmd.SyncCustomer(ctx, customer_id), core().uow(), customers_for(ctx))
        return reply(result, message=result["message"])


@blp.route("/customers")
class SyncManyCustomers(MethodView):
    @blp.doc(operationId="syncCustomers")
    @blp.arguments(BatchSyncRequestSchema, example=BATCH_SYNC_EXAMPLE)
    @blp.response(200, envelope_schema(Surface.V1, BatchSyncResultSchema))
    @blp.alt_response(207, schema=envelope_schema(Surface.V1, BatchSyncResultSchema),
                      description="Some customers could not be synchronised (code 2070; see `results`)")
    @blp.alt_response(400, schema=BatchSyncRefusedSchema,
                      description="Invalid input (`errors` names the field), or every customer failed "
                                  "(code 4000, the report in `data`)")
    @errors(401, 403, 413, 503)
    @authorize("sync.run")
    def post(self, body):
        """Synchronise up to 100 customers (seed 004 §7.3), each on its own: one that fails
        (unknown customer, no state available) is reported in `results` and the rest go on.
        200 when all succeeded, 207 (code 2070) when some failed, 400 (code 4000, the
        per-customer `results` still in `data`) when every one failed: the one batch rule
        of every batch endpoint (`crm_common.batch`)."""
        ctx = request_context()
        report = svc.sync_customers(cmd.SyncCustomers(ctx, tuple(body["customer_ids"])), core().uow(),
                                    customers_for(ctx))
        if report.status >= 400:
            response = jsonify(error_body(Surface.V1, report.status, ALL_FAILED,
                                          {"customer_ids": [ALL_FAILED]}, data=report.data))
            response.status_code = report.status
            return response
        return reply(report.data, message=report.data["message"], status=report.status)


@blp.route("/history")
class SyncHistory(MethodView):
    @blp.doc(operationId="listSyncHistory")
    @blp.arguments(HistoryQuerySchema, location="query")
    @blp.response(200, envelope_schema(Surface.V1, HistoryPageSchema))
    @errors(400, 401, 403, 404, 503)
    @authorize("sync.read")
    def get(self, query):
        """Sync history of the tenant in the caller's business domains, newest first (seed
        004 §7.2): when, which customer, how (`event`, `manual`, `contract`), which fields
        changed and were written, which projects and contracts, how many, and the outcome.

        Filters: `customer_id` (404 when that customer is outside the caller's business
        domains), `trigger`, `outcome`; `page`, `page_size` (≤ 100).

        Incremental sync (CONTRACT §4): with `updated_since` (ISO 8601, inclusive) and/or
        `cursor`, pages hold every change in (`synced_at`, `id`) order, oldest first, as
        `{items, page_size, next_cursor}`: pass `next_cursor` as `cursor` until it is null,
        then come back later with `updated_since` = the last item's `synced_at`. Exact while
        others write. Entries are never deleted (no tombstones)."""
        return reply(svc.list_history(cmd.ListHistory(request_context(), paging_of(query),
                                                      customer_id=query.get("customer_id"),
                                                      trigger=query.get("trigger"), outcome=query.get("outcome")),
                                      core().uow()))
