"""Order facts on /api/v1/analytics: recording them (finance side), moving them along their
lifecycle, reading one, and the per-customer order summaries customer-service shows with
its customers. Views translate: request -> command, result or problem -> the /api/v1
envelope (README "Order lifecycle" and "Refusals")."""
from __future__ import annotations

import re

from flask import jsonify, request

from crm_common.authz import authorize
from crm_common.envelopes import Surface, error_body, surface_for_path
from crm_common.errors import ValidationError
from crm_common.schemas import document_errors
from crm_common.web import Blueprint, reply, request_context

from ..domain import orders as order_rules
from ..domain.commands import ChangeOrder, OrderInput, OrderLineInput, RecordOrders
from ..domain.eligibility import OverrideRequest
from ..service_layer import orders as svc
from ..service_layer import statistics as stats_svc
from .deps import owner, timezone, uow
from .order_schemas import (
    BATCH_EXAMPLE,
    CHANGE_EXAMPLE,
    SINGLE_EXAMPLE,
    SUMMARIES_EXAMPLE,
    OrderBatchResultSchema,
    OrderBatchSchema,
    OrderChangeSchema,
    OrderFieldsSchema,
    OrderSummariesRequestSchema,
    V1Order,
    V1OrderBatch,
    V1OrderBatchErrorSchema,
    V1OrderSummaries,
)

blp = Blueprint("analytics_orders", __name__, url_prefix="/api/v1/analytics",
                description="Order facts owned by analytics-service: recording, lifecycle, summaries.")

errors = lambda *codes: document_errors(blp, Surface.V1, *codes)  # noqa: E731
ALL_FAILED = "本批订单全部未能记录"
_ORDER_ID = re.compile(r"[^\x00-\x1f\x7f]{1,64}")


def _order_id(value: str) -> str:
    """A path's order id: what a body's ``order_id`` may be (1-64 printable characters)."""
    if not _ORDER_ID.fullmatch(value):
        raise ValidationError("订单编号无效", errors={"order_id": ["订单编号应为 1-64 个可见字符"]})
    return value


def _command_input(order_id: str, body: dict) -> OrderInput:
    override = body.get("override")
    return OrderInput(
        order_id=order_id, customer_id=body["customer_id"], order_date=body["order_date"], status=body["status"],
        payment_status=body.get("payment_status"), total_amount=body.get("total_amount"),
        due_date=body.get("due_date"), paid_date=body.get("paid_date"),
        items=tuple(OrderLineInput(i["product_name"], i["quantity"], i["unit_price"], i.get("subtotal"))
                    for i in body.get("items") or []),
        override=OverrideRequest(frozenset(override["rules"]), override["reason"]) if override else None)


def order_view(recorded: order_rules.RecordedOrder) -> dict:
    order, override = recorded.order, recorded.order.override
    return {
        "order_id": order.order_id, "customer_id": order.customer_id, "order_date": order.order_date,
        "status": order.status, "open": order.open, "allowed_statuses": list(order_rules.TRANSITIONS[order.status]),
        "payment_status": order.payment_status, "total_amount": order.total_amount, "due_date": order.due_date,
        "paid_date": order.paid_date, "items": list(order.items),
        "override": None if override is None else {
            "rules": list(override.rules), "reason": override.reason, "operator_id": override.operator_id,
            "operator_name": override.operator_name, "at": override.at},
        "version": recorded.version, "source": recorded.source, "created_at": recorded.created_at,
        "updated_at": recorded.updated_at,
    }


def _outcome_view(outcome: svc.OrderOutcome) -> dict:
    problem, recorded = outcome.problem, outcome.recorded
    return {"order_id": outcome.order_id, "outcome": outcome.outcome,
            "version": recorded.version if recorded else None,
            "status": recorded.order.status if recorded else None,
            "http_status": problem.status if problem else None,
            "error_code": problem.code if problem else None,
            "message": problem.message if problem else None,
            "refusals": [vars(r) for r in problem.refusals] if problem else []}


@blp.route("/orders", methods=["POST"])
@blp.doc(operationId="recordOrders")
@blp.arguments(OrderBatchSchema, example=BATCH_EXAMPLE)
@blp.response(200, V1OrderBatch)
@blp.alt_response(207, schema=V1OrderBatch, description="Some orders failed: each one's outcome says why")
@blp.alt_response(400, schema=V1OrderBatchErrorSchema,
                  description="A malformed batch (`errors`), or every order failed (`data`: each one's outcome)")
@errors(401, 403, 503)
@authorize("order.write")
def record_orders(body):
    """Record a batch of up to 1,000 orders of the tenant with their items, amounts, due and
    payment dates, by `order_id` (unique per tenant): a new id is a new order, a known id a
    change of that order, the same order again changes nothing. A new order is checked with
    customer-service (`order-eligibility`, with your token): an inactive customer is refused
    (`CUSTOMER_INACTIVE`); an overdue or high-risk one (`CUSTOMER_OVERDUE`,
    `CUSTOMER_HIGH_RISK`) unless the order carries `override: {"rules": [...], "reason"}`,
    recorded with you as operator; a customer you cannot see is 404. A recorded order changes
    only as its lifecycle allows (README "Order lifecycle"). Each order has its outcome
    (`created`, `updated`, `unchanged`, `failed` with `http_status`, `error_code`, the rules
    that refused it): 200 when none failed, 207 when some did, 400 when all did (one rule for
    every batch endpoint). A malformed order is a 400 for the whole batch; customer-service
    unreachable is a 503 with `Retry-After`: nothing is written then. Every written order
    is published: `order.recorded` when new, `order.updated` when changed. Roles: admin,
    factory_admin, finance_admin."""
    ctx = request_context()
    cmd = RecordOrders(ctx, tuple(_command_input(o["order_id"], o) for o in body["orders"]))
    result = svc.record_orders(cmd, uow(), owner(ctx))
    data = {"received": len(result.outcomes), "created": result.count(svc.CREATED),
            "updated": result.count(svc.UPDATED), "unchanged": result.count(svc.UNCHANGED),
            "failed": result.count(svc.FAILED), "orders": [_outcome_view(o) for o in result.outcomes]}
    if result.status >= 400:
        dumped = OrderBatchResultSchema().dump(data)
        response = jsonify(error_body(surface_for_path(request.path), result.status, ALL_FAILED,
                                      {"orders": [ALL_FAILED]}, data=dumped))
        response.status_code = result.status
        return response
    return reply(data, status=result.status)


@blp.route("/orders/<path:order_id>", methods=["PUT"])
@blp.doc(operationId="recordOrder")
@blp.arguments(OrderFieldsSchema, example=SINGLE_EXAMPLE)
@blp.response(200, V1Order, description="A change of a recorded order, or the same order again (unchanged)")
@blp.alt_response(201, schema=V1Order, description="A new order")
@errors(400, 401, 403, 404, 409, 503)
@authorize("order.write")
def put_order(body, order_id):
    """Record one order under `order_id` (the batch's rules for one order): 201 with the
    order when it is new, 200 when it changed or was already so. 404 `CUSTOMER_NOT_FOUND` for
    a customer you cannot see (unknown, another tenant's or outside your business domains);
    409 naming the rule that refused it — `CUSTOMER_INACTIVE`, `CUSTOMER_OVERDUE`,
    `CUSTOMER_HIGH_RISK` (the last two can be overridden with `override`), or a lifecycle
    rule (`ORDER_STATUS_TRANSITION`, `ORDER_CLOSED`, `ORDER_CUSTOMER_CHANGED`); 503 with
    `Retry-After` when customer-service cannot answer (nothing written). Roles: admin,
    factory_admin, finance_admin."""
    ctx = request_context()
    cmd = RecordOrders(ctx, (_command_input(_order_id(order_id), body),))
    outcome = svc.record_orders(cmd, uow(), owner(ctx)).outcomes[0]
    if outcome.problem is not None:
        raise outcome.problem.error()
    return reply(order_view(outcome.recorded), status=201 if outcome.outcome == svc.CREATED else 200)


@blp.route("/orders/<path:order_id>", methods=["GET"])
@blp.doc(operationId="getOrder")
@blp.response(200, V1Order)
@errors(400, 401, 403, 404)
@authorize("order.read")
def get_order(order_id):
    """One order of the tenant: its facts, status and the statuses it may move to, payment,
    version, and the override it was recorded under (rules, reason, operator, time). An
    order whose customer is outside your business domains is 404. Any role of the tenant."""
    ctx = request_context()
    return reply(order_view(svc.get_order(uow(), owner(ctx), ctx, _order_id(order_id))))


@blp.route("/orders/<path:order_id>", methods=["PATCH"])
@blp.doc(operationId="changeOrderStatus")
@blp.arguments(OrderChangeSchema, example=CHANGE_EXAMPLE)
@blp.response(200, V1Order)
@errors(400, 401, 403, 404, 409)
@authorize("order.write")
def change_order(body, order_id):
    """Move an order along its lifecycle — PENDING → CONFIRMED → SHIPPED → COMPLETED (steps may
    be skipped), CANCELLED from any open status, nothing out of COMPLETED or CANCELLED — and/or
    record its payment (`payment_status`, `paid_date`; a closed order may still be paid). 409
    `ORDER_STATUS_TRANSITION` naming the allowed next statuses; the same status again changes
    nothing. Each change is published as `order.updated`. Roles: admin, factory_admin,
    finance_admin."""
    ctx = request_context()
    cmd = ChangeOrder(ctx, _order_id(order_id), status=body.get("status"),
                      payment_status=body.get("payment_status"), paid_date=body.get("paid_date"))
    _outcome, recorded = svc.change_order(cmd, uow(), owner(ctx))
    return reply(order_view(recorded))


@blp.route("/order-summaries", methods=["POST"])
@blp.doc(operationId="summarizeCustomerOrders")
@blp.arguments(OrderSummariesRequestSchema, example=SUMMARIES_EXAMPLE)
@blp.response(200, V1OrderSummaries)
@errors(400, 401, 403)
@authorize("order.read")
def order_summaries(body):
    """Order figures of up to 1,000 customers of the tenant in one grouped query: per id
    `totalOrders`, `totalRevenue`, `lastOrderDate`, `customerLifetimeValue` (cancelled orders
    count in none). Ids analytics does not know, and customers outside your business domains,
    are absent. Any role of the tenant."""
    ctx = request_context()
    return reply(stats_svc.order_summaries(uow(), ctx, body["customer_ids"], timezone=timezone()))
