"""/api/v1/customers/bulk-create/, /bulk-update/, /bulk-delete/ (seed 000), admin only.

Views validate each record alone, build the bulk command of the valid ones, and word the
outcome: 201/200 when every record succeeded, 207 (code 2070) on partial success, 400 when
every record failed (``crm_common.batch.batch_status``; the per-record detail still in
``data``). ``?dry_run=true`` answers 200 with what would happen (the would-be customers
without ids) and writes nothing; ``Idempotency-Key`` replays the first response of the same
user's same request (a dry run neither consults nor records a key)."""
from __future__ import annotations

from typing import Callable

import marshmallow as ma
from flask import jsonify, make_response, request
from flask.views import MethodView

from crm_common.authz import authorize
from crm_common.batch import batch_status
from crm_common.envelopes import Surface, envelope_schema, error_body, surface_for_path
from crm_common.errors import AppError, Forbidden, ValidationError
from crm_common.schemas import document_errors
from crm_common.web import Blueprint, flatten_messages, reply, request_context

from ...bootstrap import customer_service
from ...domain import bulk as rules
from ...domain import commands
from ...domain import idempotency as key_rules
from ...service_layer import bulk as handlers
from ...service_layer.bulk import Outcome, Reply
from ...service_layer.idempotency import key_for
from .bulk_schemas import (
    CREATE_EXAMPLE,
    DELETE_EXAMPLE,
    UPDATE_EXAMPLE,
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
from .wording import V1

blp = Blueprint("customers_bulk_v1", __name__, url_prefix="/api/v1/customers",
                description="Bulk create / update / soft-delete of customers (seed 000). Admin only; "
                            f"1-{rules.BULK_LIMIT} records per request, each succeeding or failing alone: "
                            "all succeeded 201/200, some 207 (code 2070), none 400 (code 4000, the detail "
                            "in `data`). `Idempotency-Key` (24 h, per tenant and endpoint) replays the first "
                            "response with `Idempotent-Replayed: true`; the same key with another body, or "
                            "from another user, is 422. `?dry_run=true` answers 200 with what would happen "
                            "and writes nothing.")
V1.install(blp)

REPLAY_HEADER = "Idempotent-Replayed"
ALL_FAILED = "所有记录均处理失败"
DRY_RUN_MESSAGE = "预演：以下为将会发生的结果，未写入任何数据"
errors = lambda *codes: document_errors(blp, Surface.V1, *codes)  # noqa: E731
_create_schema = CustomerCreateSchema()
_update_schema = BulkUpdateFieldsSchema()
_customer_schema = CustomerSchema()
_would_be_schema = CustomerSchema(exclude=("id",))


def _idempotency(key: str | None, endpoint: str, body) -> commands.IdempotencyKey | None:
    if key is not None and not key_rules.valid_key(key):
        message = "Idempotency-Key 应为 1-128 个字母、数字或 ._:- 字符"
        raise ValidationError(message, errors={"Idempotency-Key": [message]})
    return key_for(key, endpoint, body)


def _validate(records: list[dict], load: Callable[[dict], object]) -> tuple[dict, dict]:
    """(valid: index -> loaded, invalid: index -> field errors), each record on its own."""
    valid, invalid = {}, {}
    for index, raw in enumerate(records):
        try:
            valid[index] = load(raw)
        except ma.ValidationError as exc:
            invalid[index] = flatten_messages(exc.messages)
    return valid, invalid


def _record_errors(exc: AppError, field: str) -> dict[str, list[str]]:
    """A failed record's refusal as field errors (a refusal naming no field: ``field``; a
    business domain the caller may not use: ``business_domain``)."""
    errors = V1.errors(exc)
    if errors:
        return errors
    if isinstance(exc, Forbidden):
        return {"business_domain": [exc.message]}
    return {field: [V1.message(exc)]}


def _answer(outcome: Outcome, invalid: dict, dry_run: bool, *, success_status: int, field: str,
            done: Callable[[int, object], object], failed: Callable[[int, dict], object]) -> tuple[int, list, list]:
    """(status, successes, failures) of a batch in request order."""
    failures = {index: failed(index, errors) for index, errors in invalid.items()}
    failures.update((index, failed(index, _record_errors(exc, field))) for index, exc in outcome.failed.items())
    successes = [done(index, outcome.done[index]) for index in sorted(outcome.done)]
    status = 200 if dry_run else batch_status(len(successes), len(failures), success_status=success_status)
    return status, successes, [failures[index] for index in sorted(failures)]


def _respond(reply_: Reply, list_field: str, dry_run: bool):
    headers = {REPLAY_HEADER: "true"} if reply_.replayed else {}
    if reply_.status >= 400:
        body = error_body(surface_for_path(request.path), reply_.status, ALL_FAILED,
                          {list_field: [ALL_FAILED]}, data=reply_.data)
        response = jsonify(body)
        response.status_code = reply_.status
        response.headers.update(headers)
        return response
    return make_response(reply(reply_.data, status=reply_.status, headers=headers or None,
                               message=DRY_RUN_MESSAGE if dry_run else None))


def _marked(data: dict, dry_run: bool) -> dict:
    return {**data, "dry_run": True} if dry_run else data


@blp.route("/bulk-create/", strict_slashes=False)
class BulkCreate(MethodView):
    @blp.doc(operationId="bulkCreateCustomers")
    @blp.arguments(BulkCreateRequestSchema, example=CREATE_EXAMPLE)
    @blp.arguments(BulkQuerySchema, location="query", as_kwargs=True)
    @blp.arguments(IdempotencyHeaderSchema, location="headers", as_kwargs=True)
    @blp.response(201, envelope_schema(Surface.V1, BulkCreateResultSchema))
    @blp.alt_response(207, schema=envelope_schema(Surface.V1, BulkCreateResultSchema),
                      description="Partial success (code 2070): see failed_customers")
    @blp.alt_response(200, schema=envelope_schema(Surface.V1, BulkCreateResultSchema),
                      description="A dry run (`?dry_run=true`): what would happen; nothing written")
    @errors(400, 401, 403, 409, 413, 422)
    @authorize("customer.bulk")
    def post(self, body, dry_run, idempotency_key):
        """Create 1-100 customers; each record succeeds or fails alone, with the same rules
        and side effects as one `POST /api/v1/customers` (a credit limit is audited).

        A failed record is echoed in `failed_customers` with its field `errors` (e.g. a name
        already taken, also by an earlier record of the same request: 客户名称已存在).
        201 when all were created, 207 when some, 400 when none."""
        raw = body["customers"]
        valid, invalid = _validate(raw, _create_schema.load)

        def respond(outcome: Outcome):
            render = _would_be_schema.dump if dry_run else _customer_schema.dump
            status, created, failed = _answer(
                outcome, invalid, dry_run, success_status=201, field="name",
                done=lambda i, customer: _would_be(render(customer), raw[i]) if dry_run else render(customer),
                failed=lambda i, errors: {"data": raw[i], "errors": errors})
            return status, _marked({"created_count": len(created), "failed_count": len(failed),
                                    "created_customers": created, "failed_customers": failed}, dry_run)

        answer = handlers.bulk_create(commands.BulkCreateCustomers(
            request_context(), valid, dry_run, _idempotency(idempotency_key, "customers.bulk-create", body)),
            customer_service().uow(), respond)
        return _respond(answer, "customers", dry_run)


def _would_be(rendered: dict, raw: dict) -> dict:
    """A would-be customer of a dry run: no id, and no customer code unless the caller gave
    one (a generated code would be another one on the real run)."""
    if not raw.get("customer_code"):
        rendered["customer_code"] = None
    return rendered


@blp.route("/bulk-update/", strict_slashes=False)
class BulkUpdate(MethodView):
    @blp.doc(operationId="bulkUpdateCustomers")
    @blp.arguments(BulkUpdateRequestSchema, example=UPDATE_EXAMPLE)
    @blp.arguments(BulkQuerySchema, location="query", as_kwargs=True)
    @blp.arguments(IdempotencyHeaderSchema, location="headers", as_kwargs=True)
    @blp.response(200, envelope_schema(Surface.V1, BulkUpdateResultSchema))
    @blp.alt_response(207, schema=envelope_schema(Surface.V1, BulkUpdateResultSchema),
                      description="Partial success (code 2070): see failed_customers")
    @errors(400, 401, 403, 409, 413, 422)
    @authorize("customer.bulk")
    def post(self, body, dry_run, idempotency_key):
        """Update 1-100 customers by `id`; each record succeeds or fails alone, with the same
        rules and side effects as one `PUT /api/v1/customers/{id}`.

        Every record needs an `id` (每个客户记录必须包含ID). A customer that does not exist,
        is deleted or lies outside the caller's business domains fails with 客户不存在或已被删除;
        `status` follows the customer state machine."""
        raw = body["customers"]
        valid, invalid = _validate(raw, lambda r: (r["id"], _update_schema.load(
            {k: v for k, v in r.items() if k != "id"})))

        def respond(outcome: Outcome):
            status, updated, failed = _answer(
                outcome, invalid, dry_run, success_status=200, field="id",
                done=lambda i, customer: _customer_schema.dump(customer),
                failed=lambda i, errors: {"data": raw[i], "errors": errors})
            return status, _marked({"updated_count": len(updated), "failed_count": len(failed),
                                    "updated_customers": updated, "failed_customers": failed}, dry_run)

        answer = handlers.bulk_update(commands.BulkUpdateCustomers(
            request_context(), valid, dry_run, _idempotency(idempotency_key, "customers.bulk-update", body)),
            customer_service().uow(), respond)
        return _respond(answer, "customers", dry_run)


@blp.route("/bulk-delete/", strict_slashes=False)
class BulkDelete(MethodView):
    @blp.doc(operationId="bulkDeleteCustomers")
    @blp.arguments(BulkDeleteRequestSchema, example=DELETE_EXAMPLE)
    @blp.arguments(BulkQuerySchema, location="query", as_kwargs=True)
    @blp.arguments(IdempotencyHeaderSchema, location="headers", as_kwargs=True)
    @blp.response(200, envelope_schema(Surface.V1, BulkDeleteResultSchema))
    @blp.alt_response(207, schema=envelope_schema(Surface.V1, BulkDeleteResultSchema),
                      description="Partial success (code 2070): see failed_ids")
    @errors(400, 401, 403, 409, 413, 422)
    @authorize("customer.bulk")
    def post(self, body, dry_run, idempotency_key):
        """Soft-delete 1-100 customers by id; each id succeeds or fails alone, with the same
        rules as one `DELETE /api/v1/customers/{id}`.

        An unknown or already deleted id fails with 客户不存在或已被删除; a customer that owes
        money (客户存在欠款 …，不能删除) or has an order not yet completed or cancelled
        (客户有未完成订单，无法删除) fails alone."""
        ids = body["ids"]

        def respond(outcome: Outcome):
            status, deleted, failed = _answer(
                outcome, {}, dry_run, success_status=200, field="id", done=lambda i, customer_id: customer_id,
                failed=lambda i, errors: {"id": ids[i], "error": next(iter(errors.values()))[0]})
            return status, _marked({"deleted_count": len(deleted), "failed_count": len(failed),
                                    "deleted_ids": deleted, "failed_ids": failed}, dry_run)

        answer = handlers.bulk_delete(commands.BulkDeleteCustomers(
            request_context(), dict(enumerate(ids)), dry_run, _idempotency(idempotency_key, "customers.bulk-delete",
                                                                           body)),
            customer_service().uow(), respond)
        return _respond(answer, "ids", dry_run)
