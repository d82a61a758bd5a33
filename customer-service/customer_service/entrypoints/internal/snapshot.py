"""GET /internal/customers/snapshot: every tenant's customers, deleted ones included, in id
order and in the shape their events carry (``events.CustomerEventData``, with ``version``),
for read-model rebuilds (analytics-service ``rebuild``). Admin token with factories ``*``
only; not routed by the gateway."""
from __future__ import annotations

import json

import marshmallow as ma
from flask.views import MethodView
from marshmallow import fields as f

from crm_common.auth import ALL
from crm_common.authz import authorize
from crm_common.envelopes import Surface, envelope_schema
from crm_common.errors import Forbidden
from crm_common.events import json_dumps
from crm_common.schemas import BaseSchema, Money, document_errors, in_range
from crm_common.web import Blueprint, current_principal, reply

from ...bootstrap import customer_service
from ...events import EVENT_FIELDS, CustomerEventData
from ...service_layer import queries
from ..common import MAX_ID

blp = Blueprint("internal_customers", __name__, url_prefix="/internal/customers",
                description="Internal: every tenant's customers for read-model rebuilds "
                            "(admin token with factories `*`; not routed by the gateway).")

MAX_LIMIT = 5000


class SnapshotQuerySchema(BaseSchema):
    after_id = f.Integer(load_default=0, validate=in_range(0, MAX_ID),
                         metadata={"description": "Continue after this customer id (0: from the start)"})
    limit = f.Integer(load_default=500, validate=in_range(1, MAX_LIMIT))


def _as_rendered(field: f.Field) -> f.Field:
    """A field of the event data as its JSON rendering shows it (times and dates as ISO
    8601 text, amounts as numbers): the rows are rendered like the events' data."""
    if isinstance(field, (f.DateTime, f.Date)):
        kind = "date-time" if isinstance(field, f.DateTime) else "date"
        return f.String(allow_none=field.allow_none, metadata={**field.metadata, "format": kind})
    if isinstance(field, f.Decimal):
        return Money(allow_none=field.allow_none, metadata=field.metadata)
    return type(field)(allow_none=field.allow_none, metadata=field.metadata)


# The customer as its events carry it (``events.CustomerEventData``), rendered.
SnapshotCustomerSchema = ma.Schema.from_dict(
    {name: _as_rendered(field) for name, field in CustomerEventData._declared_fields.items()},
    name="SnapshotCustomerSchema")


class SnapshotPageSchema(ma.Schema):
    items = f.List(f.Nested(SnapshotCustomerSchema))
    next_after_id = f.Integer(allow_none=True, metadata={"description": "`after_id` of the next page; null at the end"})


@blp.route("/snapshot")
class Snapshot(MethodView):
    @blp.doc(operationId="getCustomerSnapshot")
    @blp.arguments(SnapshotQuerySchema, location="query")
    @blp.response(200, envelope_schema(Surface.V1, SnapshotPageSchema))
    @document_errors(blp, Surface.V1, 400, 401, 403)
    @authorize("internal.snapshot")
    def get(self, query):
        """Every tenant's customers (deleted ones too) in id order with their `version`,
        `limit` (≤ 5000) at a time: pass the answer's `next_after_id` as `after_id` until it
        is null. A reader applies a row only when its version is newer than what it holds."""
        principal = current_principal()
        if not principal.is_admin or ALL not in principal.factories:
            raise Forbidden("需要 admin 角色且 factories 为 *")
        rows, next_after_id = queries.snapshot_page(customer_service().uow(), after_id=query["after_id"],
                                                    limit=query["limit"])
        # The same JSON rendering as the events' data (numbers, ISO 8601 times with Z).
        items = [json.loads(json_dumps({name: row._mapping[name] for name in EVENT_FIELDS})) for row in rows]
        return reply({"items": items, "next_after_id": next_after_id})
