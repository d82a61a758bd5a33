"""/api/v1/customers/bulk-create/, /bulk-update/, /bulk-delete/ (seed 000), admin only.

Views validate each record, call the bulk handlers and reply: 201/200 when every record
succeeded, 207 (code 2070) on partial success, 400 when every record failed (the
per-record detail still in ``data``). ``?dry_run=true`` reports without writing;
``Idempotency-Key`` replays the first response of the same request (a dry run neither
consults nor records a key: it writes nothing)."""
from __future__ import annotations

import marshmallow as ma
from flask import jsonify, make_response, request
from flask.views import MethodView

from crm_common.authz import authorize
from crm_common.envelopes import Surface, envelope_schema, error_body, surface_for_path
from crm_common.errors import ValidationError
from crm_common.schemas import document_errors
from crm_common.web import Blueprint, flatten_messages, reply, request_context

from ...domain import bulk as rules
from ...domain import idempotency as idem_rules
from ...service_layer import bulk as svc
from ...service_layer.idempotency import REPLAY_HEADER, IdempotentRequest
from ..deps import uow
from .bulk_schemas import (
    BulkCreateRequestSchema,
    BulkCreateResultSchema,
    BulkDeleteRequestSchema,
    BulkDeleteResultSchema,
    BulkQuerySchema,
    BulkUpdateFieldsSchema,
    BulkUpdateRequestSchema,
    BulkUpdateResultSchema,
    IdempotencyHeaderSchema,
)
from .schemas import CustomerCreateSchema, CustomerSchema

blp = Blueprint("customers_bulk_v1", __name__, url_prefix="/api/v1/customers",
                description="Bulk create / update / soft-delete of customers (seed 000). Admin only; "
                            f"1-{rules.BULK_LIMIT} records per request, each succeeding or failing alone. "
                            "`Idempotency-Key` (24 h, per tenant and endpoint) replays the first response "
                            "with `Idempotent-Replayed: true`, another body with the same key is 422; "
                            "`?dry_run=true` answers exactly as a real run would and writes nothing.")

V1Created = envelope_schema(Surface.V1, BulkCreateResultSchema)
V1Updated = envelope_schema(Surface.V1, BulkUpdateResultSchema)
V1Deleted = envelope_schema(Surface.V1, BulkDeleteResultSchema)
errors = lambda *codes: document_errors(blp, Surface.V1, *codes)  # noqa: E731
_create_schema = CustomerCreateSchema()
_update_schema = BulkUpdateFieldsSchema()
_customer_schema = CustomerSchema()


def _render(customer) -> dict:
    return _customer_schema.dump(customer)


def _idempotent(key: str | None, endpoint: str, body) -> IdempotentRequest | None:
    if key is not None and not idem_rules.valid_key(key):
        raise ValidationError(idem_rules.KEY_FORMAT_MESSAGE,
                              errors={"Idempotency-Key": [idem_rules.KEY_FORMAT_MESSAGE]})
    return IdempotentRequest.of(key, endpoint, body)


def _validated(raw: dict, schema: ma.Schema, fields: dict | None = None, **extra) -> svc.BulkRecord:
    """Validate one record (``fields``: the part of it to load, default all of it)."""
    try:
        return svc.BulkRecord(raw=raw, fields=schema.load(raw if fields is None else fields), **extra)
    except ma.ValidationError as exc:
        return svc.BulkRecord(raw=raw, errors=flatten_messages(exc.messages), **extra)


def _bulk_response(report: svc.BulkReport, list_field: str):
    """The envelope of the report: success (incl. 207) through ``reply``; all failed as the
    400 error envelope that still carries the per-record ``data``."""
    headers = {REPLAY_HEADER: "true"} if report.replayed else {}
    if report.status >= 400:
        body = error_body(surface_for_path(request.path), report.status, rules.ALL_FAILED,
                          {list_field: [rules.ALL_FAILED]}, data=report.data)
        response = jsonify(body)
        response.status_code = report.status
        response.headers.update(headers)
        return response
    return make_response(reply(report.data, status=report.status, headers=headers or None))


@blp.route("/bulk-create/", strict_slashes=False)
class BulkCreate(MethodView):
    @blp.arguments(BulkCreateRequestSchema)
    @blp.arguments(BulkQuerySchema, location="query", as_kwargs=True)
    @blp.arguments(IdempotencyHeaderSchema, location="headers", as_kwargs=True)
    @blp.response(201, V1Created)
    @blp.alt_response(207, schema=V1Created, description="Partial success (code 2070): see failed_customers")
    @errors(400, 401, 403, 409, 413, 422)
    @authorize("customer.bulk")
    def post(self, body, dry_run, idempotency_key):
        """Create 1-100 customers; each record succeeds or fails alone.

        A failed record is echoed in `failed_customers` with its field `errors` (e.g. a name
        already taken, also by an earlier record of the same request: 客户名称已存在).
        201 when all were created, 207 when some, 400 when none."""
        ctx = request_context()
        records = [_validated(raw, _create_schema) for raw in body["customers"]]
        report = svc.bulk_create(uow(), ctx, records, render=_render, dry_run=dry_run,
                                 request=_idempotent(idempotency_key, "customers.bulk-create", body))
        return _bulk_response(report, "customers")


@blp.route("/bulk-update/", strict_slashes=False)
class BulkUpdate(MethodView):
    @blp.arguments(BulkUpdateRequestSchema)
    @blp.arguments(BulkQuerySchema, location="query", as_kwargs=True)
    @blp.arguments(IdempotencyHeaderSchema, location="headers", as_kwargs=True)
    @blp.response(200, V1Updated)
    @blp.alt_response(207, schema=V1Updated, description="Partial success (code 2070): see failed_customers")
    @errors(400, 401, 403, 409, 413, 422)
    @authorize("customer.bulk")
    def post(self, body, dry_run, idempotency_key):
        """Update 1-100 customers by `id`; each record succeeds or fails alone.

        Every record needs an `id` (每个客户记录必须包含ID). A customer that does not exist,
        is deleted or lies outside the caller's business domains fails with 客户不存在或已被删除;
        `status` follows the customer state machine."""
        ctx = request_context()
        records = [_validated(raw, _update_schema, {k: v for k, v in raw.items() if k != "id"}, id=raw["id"])
                   for raw in body["customers"]]
        report = svc.bulk_update(uow(), ctx, records, render=_render, dry_run=dry_run,
                                 request=_idempotent(idempotency_key, "customers.bulk-update", body))
        return _bulk_response(report, "customers")


@blp.route("/bulk-delete/", strict_slashes=False)
class BulkDelete(MethodView):
    @blp.arguments(BulkDeleteRequestSchema)
    @blp.arguments(BulkQuerySchema, location="query", as_kwargs=True)
    @blp.arguments(IdempotencyHeaderSchema, location="headers", as_kwargs=True)
    @blp.response(200, V1Deleted)
    @blp.alt_response(207, schema=V1Deleted, description="Partial success (code 2070): see failed_ids")
    @errors(400, 401, 403, 409, 413, 422)
    @authorize("customer.bulk")
    def post(self, body, dry_run, idempotency_key):
        """Soft-delete 1-100 customers by id; each id succeeds or fails alone.

        An unknown or already deleted id fails with 客户不存在或已被删除; a customer that owes
        money is refused (客户存在欠款 …，不能删除)."""
        ctx = request_context()
        report = svc.bulk_delete(uow(), ctx, body["ids"], dry_run=dry_run,
                                 request=_idempotent(idempotency_key, "customers.bulk-delete", body))
        return _bulk_response(report, "ids")
