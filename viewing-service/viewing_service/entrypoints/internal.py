"""/internal/viewing-records: service-to-service endpoints, not routed by the gateway."""
from __future__ import annotations

from flask.views import MethodView

from crm_common.auth import ALL
from crm_common.authz import authorize
from crm_common.envelopes import Surface, envelope_schema
from crm_common.errors import Forbidden
from crm_common.schemas import document_errors
from crm_common.web import Blueprint, current_principal, reply

from ..domain.commands import TakeSnapshot
from ..service_layer import viewing_records as svc
from .deps import core
from .schemas import SnapshotPageSchema, SnapshotQuerySchema

blp = Blueprint("internal_viewing_records", __name__, url_prefix="/internal/viewing-records",
                description="Internal: every tenant's viewing records for read-model rebuilds "
                            "(admin token with factories `*`; not routed by the gateway).")


@blp.route("/snapshot")
class Snapshot(MethodView):
    @blp.doc(operationId="getViewingRecordSnapshot")
    @blp.arguments(SnapshotQuerySchema, location="query")
    @blp.response(200, envelope_schema(Surface.V1, SnapshotPageSchema))
    @document_errors(blp, Surface.V1, 400, 401, 403, 503)
    @authorize("internal.snapshot")
    def get(self, query):
        """Every tenant's records in id order with their `version`, `limit` at a time:
        pass the answer's `next_after_id` as `after_id` until it is null. Apply each row
        only when its version is newer than what the read model holds, then replay events."""
        principal = current_principal()
        if not principal.is_admin or ALL not in principal.factories:
            raise Forbidden("需要 admin 角色且 factories 为 *")
        return reply(svc.take_snapshot(TakeSnapshot(query["after_id"], query["limit"]), core().uow()))
