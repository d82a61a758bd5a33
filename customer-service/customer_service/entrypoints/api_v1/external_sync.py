"""/api/v1/external-sync (seed 003): the audit of imports from outside systems."""
from __future__ import annotations

from flask.views import MethodView

from crm_common.authz import authorize
from crm_common.envelopes import Surface, envelope_schema
from crm_common.paging import page_body
from crm_common.schemas import document_errors
from crm_common.web import Blueprint, reply, request_context

from ...bootstrap import customer_service
from ...service_layer import queries
from .external_sync_schemas import ExternalSyncPageSchema, ExternalSyncQuerySchema
from .wording import V1

blp = Blueprint("external_sync_v1", __name__, url_prefix="/api/v1/external-sync",
                description="External-sync audit (seed 003): one row per import, SUCCESS or FAILED.")
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
