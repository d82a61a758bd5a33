"""Request and response schemas of /api/v1/analytics/orders and /order-summaries (snake_case,
the /api/v1 envelope). Amounts are read exactly as sent: the domain refuses more decimals
than a cent and values out of bounds, naming the field (never rounded, never a 500)."""
from __future__ import annotations

import marshmallow as ma
from marshmallow import fields as f

from crm_common.envelopes import Surface, V1ErrorSchema, envelope_schema
from crm_common.schemas import BaseSchema, CalendarDate, IsoDateTime, Money, length, one_of

from ..domain import eligibility as eligibility_rules
from ..domain import orders as order_rules
from .schemas import CustomerId, batch_size, dict_envelope

MAX_IDS = 1000


class Amount(f.Decimal):
    """A number as sent (``1``, ``1.5``, ``"1.50"``), checked by the domain rules."""

    def __init__(self, **kwargs):
        kwargs.setdefault("allow_nan", False)
        super().__init__(**kwargs)


# --- requests -----------------------------------------------------------------------------------

class OrderItemInSchema(BaseSchema):
    product_name = f.String(required=True, validate=length(1, 200))
    quantity = Amount(required=True, metadata={"description": f"> 0，最多 3 位小数，不超过 {order_rules.MAX_QUANTITY}"})
    unit_price = Amount(required=True, metadata={"description": f"≥ 0，最多 2 位小数，不超过 {order_rules.MAX_MONEY}"})
    subtotal = Amount(metadata={"description": "默认 数量 × 单价（给出时须与之相差不超过 0.01）"})


class OverrideInSchema(BaseSchema):
    rules = f.List(f.String(validate=one_of(eligibility_rules.OVERRIDABLE, "可强制跳过的规则")), required=True,
                   validate=length(1, len(eligibility_rules.OVERRIDABLE)),
                   metadata={"description": "要强制跳过的拒绝规则（CUSTOMER_INACTIVE 不能跳过）"})
    reason = f.String(required=True, validate=length(1, 500), metadata={"description": "强制下单的原因（记录在订单上）"})


class OrderFieldsSchema(BaseSchema):
    customer_id = CustomerId(required=True, metadata={"description": "customer-service 的客户 ID"})
    order_date = CalendarDate(required=True, metadata={
        "description": f"YYYY-MM-DD，{order_rules.EARLIEST_DATE} 到 {order_rules.LATEST_DATE}"})
    total_amount = Amount(metadata={"description": "默认 明细小计之和（给出时可不同：折扣、运费）"})
    status = f.String(load_default=order_rules.DEFAULT_STATUS, validate=one_of(order_rules.ORDER_STATUSES, "订单状态"),
                      metadata={"description": "默认 COMPLETED（事后补录的订单）；新订单可从 PENDING 开始"})
    payment_status = f.String(validate=one_of(order_rules.PAYMENT_STATUSES, "付款状态"),
                              metadata={"description": "默认: 有 paid_date 为 PAID，否则 UNPAID"})
    due_date = CalendarDate(metadata={"description": "默认 下单日期 + 30 天"})
    paid_date = CalendarDate(allow_none=True)
    items = f.List(f.Nested(OrderItemInSchema), load_default=list,
                   validate=length(max_=order_rules.MAX_LINES))
    override = f.Nested(OverrideInSchema, metadata={
        "description": "新订单被逾期（CUSTOMER_OVERDUE）或高风险（CUSTOMER_HIGH_RISK）拒绝时，明确要求强制下单；"
                       "记录操作人与原因，可在订单记录中查看"})


class OrderInSchema(OrderFieldsSchema):
    order_id = f.String(required=True, validate=length(1, 64), metadata={"description": "订单编号，租户内唯一"})


class OrderBatchSchema(BaseSchema):
    orders = f.List(f.Nested(OrderInSchema), required=True, validate=batch_size(order_rules.MAX_BATCH, "订单"))


class OrderChangeSchema(BaseSchema):
    status = f.String(validate=one_of(order_rules.ORDER_STATUSES, "订单状态"),
                      metadata={"description": "新状态（见订单生命周期）"})
    payment_status = f.String(validate=one_of(order_rules.PAYMENT_STATUSES, "付款状态"))
    paid_date = CalendarDate(metadata={"description": "付款日期；只给它即为 PAID"})

    @ma.validates_schema
    def asks_for_a_change(self, data, **_):
        if not data:
            raise ma.ValidationError("至少需要 status、payment_status、paid_date 之一", field_name="_schema")


class OrderSummariesRequestSchema(BaseSchema):
    customer_ids = f.List(CustomerId(), required=True, validate=batch_size(MAX_IDS, "客户ID"))


# --- responses ------------------------------------------------------------------------------------

class OrderLineSchema(ma.Schema):
    product_name = f.String()
    quantity = Money(places=3)
    unit_price = Money()
    subtotal = Money()


class OverrideSchema(ma.Schema):
    rules = f.List(f.String())
    reason = f.String()
    operator_id = f.String()
    operator_name = f.String(allow_none=True)
    at = IsoDateTime()


class OrderSchema(ma.Schema):
    order_id = f.String()
    customer_id = f.String()
    order_date = f.Date()
    status = f.String()
    open = f.Boolean(metadata={"description": "true until COMPLETED or CANCELLED"})
    allowed_statuses = f.List(f.String(), metadata={"description": "the statuses it may move to next"})
    payment_status = f.String()
    total_amount = Money()
    due_date = f.Date()
    paid_date = f.Date(allow_none=True)
    items = f.List(f.Nested(OrderLineSchema))
    override = f.Nested(OverrideSchema, allow_none=True,
                        metadata={"description": "the refusals it was recorded past, why, by whom, when"})
    version = f.Integer()
    source = f.String()
    created_at = IsoDateTime(allow_none=True)
    updated_at = IsoDateTime(allow_none=True)


class RefusalSchema(ma.Schema):
    rule = f.String()
    message = f.String()
    overridable = f.Boolean()


class OrderOutcomeSchema(ma.Schema):
    order_id = f.String()
    outcome = f.String(metadata={"description": "created | updated | unchanged | failed"})
    version = f.Integer(allow_none=True)
    status = f.String(allow_none=True, metadata={"description": "the order's status after the request"})
    http_status = f.Integer(allow_none=True, metadata={"description": "failed: 404 (customer or order not "
                                                                      "visible) or 409 (refused)"})
    error_code = f.String(allow_none=True)
    message = f.String(allow_none=True)
    refusals = f.List(f.Nested(RefusalSchema))


class OrderBatchResultSchema(ma.Schema):
    received = f.Integer()
    created = f.Integer()
    updated = f.Integer()
    unchanged = f.Integer()
    failed = f.Integer()
    orders = f.List(f.Nested(OrderOutcomeSchema))


class OrderSummarySchema(ma.Schema):
    total_orders = f.Integer(data_key="totalOrders")
    total_revenue = Money(data_key="totalRevenue")
    last_order_date = f.Date(allow_none=True, data_key="lastOrderDate")
    customer_lifetime_value = Money(allow_none=True, data_key="customerLifetimeValue")


class V1OrderBatchErrorSchema(V1ErrorSchema):
    """A 400: a malformed batch (``errors`` names the fields), or every order failed (then
    ``data`` holds each order's outcome)."""
    data = f.Nested(OrderBatchResultSchema, allow_none=True)


V1Order = envelope_schema(Surface.V1, OrderSchema)
V1OrderBatch = envelope_schema(Surface.V1, OrderBatchResultSchema)
V1OrderSummaries = dict_envelope(Surface.V1, "V1OrderSummariesEnvelope", f.Nested(OrderSummarySchema))


# --- OpenAPI examples (seed 001's purchase history) -----------------------------------------------------

ORDER_EXAMPLE = {
    "order_id": "ORDER-001", "customer_id": "123", "order_date": "2025-11-18", "status": "PENDING",
    "items": [{"product_name": "冻品猪肉", "quantity": 200, "unit_price": 100},
              {"product_name": "冻品牛肉", "quantity": 50, "unit_price": 100}],
}
BATCH_EXAMPLE = {"orders": [
    ORDER_EXAMPLE,
    {"order_id": "ORDER-002", "customer_id": "124", "order_date": "2025-11-18", "status": "COMPLETED",
     "payment_status": "PAID", "paid_date": "2025-11-30", "total_amount": 25000,
     "items": [{"product_name": "冻品猪肉", "quantity": 200, "unit_price": 100, "subtotal": 20000}]},
    {"order_id": "ORDER-003", "customer_id": "125", "order_date": "2025-11-19", "status": "PENDING",
     "items": [{"product_name": "冻品鸡肉", "quantity": 10, "unit_price": 50}],
     "override": {"rules": ["CUSTOMER_OVERDUE"], "reason": "客户已承诺本周结清欠款，经理批准"}},
]}
SINGLE_EXAMPLE = {k: v for k, v in ORDER_EXAMPLE.items() if k != "order_id"}
CHANGE_EXAMPLE = {"status": "SHIPPED"}
SUMMARIES_EXAMPLE = {"customer_ids": ["123", "124"]}
