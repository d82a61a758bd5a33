"""/api/v1/external-sync (seed 003): the audit of imports from outside systems."""
from __future__ import annotations

from flask.views import MethodView

from crm_common.authz import authorize
from crm_common.envelopes import Surface, envelope_schema
from crm_common.paging import page_body
from crm_common.schemas import document_errors
from crm_common.web import Blueprint, reply, request_context

from ... import sync_jobs
from ...bootstrap import customer_service
from ...service_layer import external_import, queries
from .external_sync_schemas import (
    RUN_EXAMPLE,
    RUN_REQUEST_EXAMPLE,
    ExternalSyncPageSchema,
    ExternalSyncQuerySchema,
    StartedRunSchema,
    StartRunSchema,
    SyncRunSchema,
)
from .wording import V1

blp = Blueprint("external_sync_v1", __name__, url_prefix="/api/v1/external-sync",
                description="External-sync audit (seed 003): one row per import, SUCCESS or FAILED; "
                            "runs of the import from the third party's MySQL (issue 21).")
V1.install(blp)


@blp.route("")
class ExternalSync(MethodView):
    @blp.doc(operationId="listExternalSyncRecords")
    @blp.arguments(ExternalSyncQuerySchema, location="query")
    @blp.response(200, envelope_schema(Surface.V1, ExternalSyncPageSchema))
    @document_errors(blp, Surface.V1, 400, 401, 403)
    @authorize("external_sync.read")
    def get(self, query):
        """Sync records by `entityType` + `entityId`, or by `remoteId` (optionally with
        `source`); the snake_case twins `entity_type`, `entity_id`, `remote_id` work too.

        Newest first, paginated (`page`, `page_size` ≤ 100). Callers limited to some
        business domains see the records of customers in those domains only."""
        items, total = queries.external_sync_page(
            customer_service().uow(), request_context(), entity_type=query.get("entity_type"),
            entity_id=query.get("entity_id"), remote_id=query.get("remote_id"), source=query.get("source"),
            page=query["page"], page_size=query["page_size"])
        return reply(page_body(items, total, query["page"], query["page_size"]))


@blp.route("/runs")
class ExternalSyncRuns(MethodView):
    @blp.doc(operationId="startExternalSyncRun")
    @blp.arguments(StartRunSchema, example=RUN_REQUEST_EXAMPLE)
    @blp.response(202, envelope_schema(Surface.V1, StartedRunSchema),
                  example={"success": True, "code": 2000, "message": "同步已开始", "data": {"id": 12, "state": "RUNNING"}})
    @document_errors(blp, Surface.V1, 400, 401, 403, 409, 503)
    @authorize("external_sync.run")
    def post(self, body):
        """Start an import from the third party's MySQL (admins; issue 21).

        Reads the customers changed since the source's last watermark and imports each
        through the customer core (company upsert, customer create/update, a SUCCESS or
        FAILED sync record). Answers 202 with the run's id at once; the run goes on in the
        background. 409 `EXTERNAL_SYNC_RUNNING` while a run of the source is going; 409
        `EXTERNAL_IMPORT_DISABLED` when `EXTERNAL_MYSQL_URL` is not set."""
        run_id, _ = sync_jobs.start(customer_service(), request_context(), body["source"], "api", background=True)
        return reply({"id": run_id, "state": "RUNNING"}, message="同步已开始", status=202,
                     headers={"Location": f"/api/v1/external-sync/runs/{run_id}"})


@blp.route("/runs/<int:run_id>")
class ExternalSyncRun(MethodView):
    @blp.doc(operationId="getExternalSyncRun")
    @blp.response(200, envelope_schema(Surface.V1, SyncRunSchema), example={"success": True, "code": 2000, "message": "操作成功",
                                                                            "data": RUN_EXAMPLE})
    @document_errors(blp, Surface.V1, 401, 403, 404)
    @authorize("external_sync.run")
    def get(self, run_id):
        """One run of the import from the third party's MySQL: state, counts, watermark.

        Counts: read, created, updated, unchanged (the same content again), failed. The
        records themselves: `GET /api/v1/external-sync?remoteId=<their id>&source=RB`."""
        service = customer_service()
        return reply(external_import.get_run(service.uow(), request_context(), run_id, service.engine))
