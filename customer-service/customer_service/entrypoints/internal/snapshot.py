"""GET /internal/customers/snapshot: every tenant's customers, deleted ones included, in id
order and in the shape their events carry (``data`` of CONTRACT §5, with ``version``), for
read-model rebuilds (analytics-service ``rebuild``). Admin token with factories ``*`` only;
not routed by the gateway."""
from __future__ import annotations

import datetime as dt
import json
from decimal import Decimal

import marshmallow as ma
import sqlalchemy as sa
from flask.views import MethodView
from marshmallow import fields as f

from crm_common.auth import ALL
from crm_common.authz import authorize
from crm_common.envelopes import Surface, envelope_schema
from crm_common.errors import Forbidden
from crm_common.events import json_dumps
from crm_common.schemas import BaseSchema, Money, document_errors, in_range
from crm_common.web import Blueprint, current_principal, reply

from ...adapters import orm
from ..deps import uow

blp = Blueprint("internal_customers", __name__, url_prefix="/internal/customers",
                description="Internal: every tenant's customers for read-model rebuilds "
                            "(admin token with factories `*`; not routed by the gateway).")

MAX_LIMIT = 5000


class SnapshotQuerySchema(BaseSchema):
    after_id = f.Integer(load_default=0, validate=in_range(0, 2**63 - 1),
                         metadata={"description": "Continue after this customer id (0: from the start)"})
    limit = f.Integer(load_default=500, validate=in_range(1, MAX_LIMIT))


def _field(column: sa.Column) -> f.Field:
    try:
        kind = column.type.python_type
    except NotImplementedError:  # pragma: no cover - every column here has one
        kind = str
    if kind is bool:
        return f.Boolean(allow_none=True)
    if kind is int:
        return f.Integer(allow_none=True)
    if kind is Decimal:
        return Money(allow_none=True)
    if kind in (dt.datetime, dt.date):
        return f.String(allow_none=True, metadata={"format": "date-time" if kind is dt.datetime else "date"})
    return f.String(allow_none=True)


# The customer as its events carry it: one field per column of the customers table.
SnapshotCustomerSchema = ma.Schema.from_dict({c.name: _field(c) for c in orm.customers.columns},
                                             name="SnapshotCustomerSchema")


class SnapshotPageSchema(ma.Schema):
    items = f.List(f.Nested(SnapshotCustomerSchema))
    next_after_id = f.Integer(allow_none=True, metadata={"description": "`after_id` of the next page; null at the end"})


def snapshot_page(unit_of_work, *, after_id: int, limit: int) -> dict:
    """A page of every tenant's customers in id order; ``next_after_id`` continues it
    (``None``: this was the last page)."""
    c = orm.customers.c
    with unit_of_work:
        rows = unit_of_work.session.execute(
            sa.select(orm.customers).where(c.id > after_id).order_by(c.id).limit(limit)).all()
    # The same JSON rendering as the event's data (numbers, ISO 8601 times with Z).
    items = [json.loads(json_dumps(dict(row._mapping))) for row in rows]
    return {"items": items, "next_after_id": rows[-1].id if len(rows) == limit else None}


@blp.route("/snapshot")
class Snapshot(MethodView):
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
        return reply(snapshot_page(uow(), after_id=query["after_id"], limit=query["limit"]))
