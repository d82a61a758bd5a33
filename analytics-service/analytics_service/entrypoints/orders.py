"""Order facts on /api/v1/analytics: recording them (finance side) and the per-customer
order summaries customer-service shows with its customers."""
from __future__ import annotations

from crm_common.authz import authorize
from crm_common.envelopes import Surface
from crm_common.schemas import document_errors
from crm_common.web import Blueprint, reply, request_context

from ..service_layer import orders as order_svc
from ..service_layer import statistics as stats_svc
from .deps import timezone, uow
from .schemas import OrderBatchSchema, OrderSummariesRequestSchema, V1OrderBatch, V1OrderSummaries

blp = Blueprint("analytics_orders", __name__, url_prefix="/api/v1/analytics",
                description="Order facts owned by analytics-service.")

errors = lambda *codes: document_errors(blp, Surface.V1, *codes)  # noqa: E731


@blp.route("/orders", methods=["POST"])
@blp.arguments(OrderBatchSchema)
@blp.response(200, V1OrderBatch)
@errors(400, 401, 403)
@authorize("order.write")
def record_orders(body):
    """Record a batch of up to 1,000 orders of the tenant with their items, amounts, due and
    payment dates. Idempotent by `order_id` within the tenant: the same id again replaces
    that order and its items (its version goes up), never a duplicate. Each written order
    is published as `order.recorded`. Roles: admin, factory_admin, finance_admin."""
    ctx = request_context()
    return reply(order_svc.record_orders(uow(), ctx, body["orders"]))


@blp.route("/order-summaries", methods=["POST"])
@blp.arguments(OrderSummariesRequestSchema)
@blp.response(200, V1OrderSummaries)
@errors(400, 401, 403)
@authorize("order.read")
def order_summaries(body):
    """Order figures of up to 1,000 customers of the tenant in one grouped query: per id
    `totalOrders`, `totalRevenue`, `lastOrderDate`, `customerLifetimeValue`. Ids analytics
    does not know (no orders, not in its read model) are absent. Any role of the tenant."""
    ctx = request_context()
    return reply(stats_svc.order_summaries(uow(), ctx, body["customer_ids"], timezone=timezone()))
