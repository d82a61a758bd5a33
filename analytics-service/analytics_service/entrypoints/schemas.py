"""Request and response schemas of analytics' three surfaces: camelCase on /api/mobile
(seed 001), snake_case on /api/external (seed 002) and /api/v1."""
from __future__ import annotations

import marshmallow as ma
from marshmallow import fields as f

from crm_common import paging
from crm_common.envelopes import Surface, envelope_schema
from crm_common.schemas import BaseSchema, CalendarDate, IsoDateTime, Money, in_range, one_of

from ..domain import rfm as rfm_rules
from ..domain import viewings as viewing_rules


class CustomerId(f.Field):
    """A customer id given as a number or a numeric string (customer-service's ids)."""

    default_error_messages = {"invalid": "客户ID应为正整数"}

    def _deserialize(self, value, attr, data, **kwargs):
        if isinstance(value, bool):
            raise self.make_error("invalid")
        try:
            number = int(str(value).strip())
        except (TypeError, ValueError) as exc:
            raise self.make_error("invalid") from exc
        if number <= 0 or number > 2**63 - 1:
            raise self.make_error("invalid")
        return number

    def _serialize(self, value, attr, obj, **kwargs):
        return None if value is None else str(value)


def batch_size(limit: int, what: str):
    def check(values):
        if len(values) > limit:
            raise ma.ValidationError(f"每批最多 {limit} 个{what}，本次提交了 {len(values)} 个")
        if not values:
            raise ma.ValidationError(f"至少需要 1 个{what}")
    return check


def dict_envelope(surface: Surface, name: str, values: f.Field) -> type[ma.Schema]:
    """An envelope whose ``data`` is an object with free keys (distributions)."""
    data = f.Dict(keys=f.String(), values=values)
    attrs = {"code": f.Integer(), "message": f.String(allow_none=True), "data": data}
    if surface is not Surface.MOBILE:
        attrs = {"success": f.Boolean(), **attrs}
    return type(name, (ma.Schema,), attrs)


# --- /api/mobile/{factoryId}/customers (seed 001) ------------------------------------------

class TopProductSchema(ma.Schema):
    product_name = f.String(data_key="productName")
    quantity = Money(places=3)
    revenue = Money()


class PaymentStatsSchema(ma.Schema):
    on_time_payment_rate = Money(allow_none=True, data_key="onTimePaymentRate",
                                 metadata={"description": "按时付款率 (%)"})
    avg_payment_days = Money(allow_none=True, data_key="avgPaymentDays")
    max_overdue_days = f.Integer(data_key="maxOverdueDays")


class CustomerStatisticsSchema(ma.Schema):
    customer_id = f.String(data_key="customerId")
    total_orders = f.Integer(data_key="totalOrders")
    total_revenue = Money(data_key="totalRevenue")
    avg_order_amount = Money(allow_none=True, data_key="avgOrderAmount")
    last_order_date = f.Date(allow_none=True, data_key="lastOrderDate")
    first_order_date = f.Date(allow_none=True, data_key="firstOrderDate")
    days_since_first_order = f.Integer(allow_none=True, data_key="daysSinceFirstOrder")
    order_frequency = Money(allow_none=True, data_key="orderFrequency", metadata={"description": "订单频率（次/月）"})
    total_products = f.Integer(data_key="totalProducts", metadata={"description": "购买产品种类数"})
    top_products = f.List(f.Nested(TopProductSchema), data_key="topProducts")
    payment_stats = f.Nested(PaymentStatsSchema, data_key="paymentStats")
    credit_utilization = Money(allow_none=True, data_key="creditUtilization")
    is_overdue = f.Boolean(data_key="isOverdue", metadata={
        "description": "是否逾期 (seed 001 §4.2, §7.2): the customer owes money (currentBalance < 0) past "
                       "lastOrderDate + paymentTerms — lastOrderDate the newest order not cancelled, else "
                       "the day the debt began; the same answer as customer-service's isOverdue",
        "example": True})
    overdue_days = f.Integer(data_key="overdueDays", metadata={
        "description": "逾期天数: today − (lastOrderDate + paymentTerms), calendar days in APP_TIMEZONE "
                       "(0 when not overdue); unlike paymentStats.maxOverdueDays (per order's due date)",
        "example": 15})
    customer_lifetime_value = Money(allow_none=True, data_key="customerLifetimeValue")


class PurchasedProductSchema(ma.Schema):
    product_name = f.String(data_key="productName")
    quantity = Money(places=3)
    unit_price = Money(data_key="unitPrice")
    subtotal = Money()


class PurchaseSchema(ma.Schema):
    order_id = f.String(data_key="orderId")
    order_date = f.Date(data_key="orderDate")
    total_amount = Money(data_key="totalAmount")
    status = f.String()
    payment_status = f.String(data_key="paymentStatus")
    due_date = f.Date(data_key="dueDate")
    paid_date = f.Date(allow_none=True, data_key="paidDate")
    products = f.List(f.Nested(PurchasedProductSchema))


class FinancialSummarySchema(ma.Schema):
    total_credit_limit = Money(data_key="totalCreditLimit")
    total_current_balance = Money(data_key="totalCurrentBalance")
    total_available_credit = Money(data_key="totalAvailableCredit")
    customers_with_outstanding = f.Integer(data_key="customersWithOutstanding")
    avg_credit_utilization = Money(data_key="avgCreditUtilization")


class OverallStatisticsSchema(ma.Schema):
    total_customers = f.Integer(data_key="totalCustomers")
    active_customers = f.Integer(data_key="activeCustomers")
    inactive_customers = f.Integer(data_key="inactiveCustomers")
    new_customers_this_month = f.Integer(data_key="newCustomersThisMonth")
    type_distribution = f.Dict(keys=f.String(), values=f.Integer(), data_key="typeDistribution")
    industry_distribution = f.Dict(keys=f.String(), values=f.Integer(), data_key="industryDistribution")
    rating_distribution = f.Dict(keys=f.String(), values=f.Integer(), data_key="ratingDistribution")
    financial_summary = f.Nested(FinancialSummarySchema, data_key="financialSummary")
    vip_customers = f.Integer(data_key="vipCustomers")
    at_risk_customers = f.Integer(data_key="atRiskCustomers")


class VipCustomerSchema(ma.Schema):
    id = f.String()
    name = f.String(allow_none=True)
    rating = f.Integer()
    total_revenue = Money(data_key="totalRevenue")
    total_orders = f.Integer(data_key="totalOrders")
    avg_order_amount = Money(allow_none=True, data_key="avgOrderAmount")
    last_order_date = f.Date(allow_none=True, data_key="lastOrderDate")


class VipQuerySchema(BaseSchema):
    limit = f.Integer(load_default=10, validate=in_range(1, 100), metadata={"description": "默认 10，最多 100"})


MobileStatistics = envelope_schema(Surface.MOBILE, CustomerStatisticsSchema)
MobilePurchases = envelope_schema(Surface.MOBILE, PurchaseSchema, many=True)
MobileOverall = envelope_schema(Surface.MOBILE, OverallStatisticsSchema)
MobileVip = envelope_schema(Surface.MOBILE, VipCustomerSchema, many=True)
MobileDistribution = dict_envelope(Surface.MOBILE, "MobileDistributionEnvelope", f.Integer())


# --- /api/external/statistics (seed 002 §4) -------------------------------------------------

_PERIOD = ma.validate.Range(viewing_rules.EARLIEST_DATE, viewing_rules.LATEST_DATE,
                            error=f"日期应在 {viewing_rules.EARLIEST_DATE} 到 {viewing_rules.LATEST_DATE} 之间")


class StatisticsQuerySchema(BaseSchema):
    date_from = CalendarDate(validate=_PERIOD, metadata={
        "description": f"开始日期 YYYY-MM-DD（含），{viewing_rules.EARLIEST_DATE} 到 {viewing_rules.LATEST_DATE}"})
    date_to = CalendarDate(validate=_PERIOD, metadata={"description": "结束日期 YYYY-MM-DD（含）"})

    @ma.validates_schema
    def ordered(self, data, **_):
        if data.get("date_from") and data.get("date_to") and data["date_from"] > data["date_to"]:
            raise ma.ValidationError("开始日期不能晚于结束日期", field_name="date_from")


class PeriodSchema(ma.Schema):
    date_from = f.Date(allow_none=True)
    date_to = f.Date(allow_none=True)


class ExternalStatisticsSchema(ma.Schema):
    viewing_count = f.Integer(metadata={"description": "约看数量"})
    completed_unpaid_count = f.Integer(metadata={"description": "已成交未结佣客户数"})
    completed_paid_count = f.Integer(metadata={"description": "已成交已结佣客户数"})
    total_commission = Money(metadata={"description": "佣金总金额"})
    period = f.Nested(PeriodSchema)


ExternalStatistics = envelope_schema(Surface.EXTERNAL, ExternalStatisticsSchema)


# --- /api/v1/analytics analyses --------------------------------------------------------------

class PageQuerySchema(BaseSchema):
    """Offset pages of CONTRACT §4 (these lists are computed, not incrementally synced)."""
    page = f.Integer(load_default=1, validate=in_range(1, 100000), metadata={"description": "从 1 开始"})
    page_size = f.Integer(load_default=paging.DEFAULT_PAGE_SIZE, validate=in_range(1, paging.MAX_PAGE_SIZE),
                          metadata={"description": f"每页条数，最多 {paging.MAX_PAGE_SIZE}"})


class RfmQuerySchema(PageQuerySchema):
    segment = f.String(validate=one_of(rfm_rules.SEGMENTS, "客户分类"))


class RatingPartsSchema(ma.Schema):
    order_amount = Money(metadata={"description": "订单金额得分 (30%)"})
    payment_timeliness = Money(metadata={"description": "付款及时性得分 (40%)"})
    order_frequency = Money(metadata={"description": "订单频率得分 (20%)"})
    cooperation_years = Money(metadata={"description": "合作年限得分 (10%)"})


class RatingInputsSchema(ma.Schema):
    total_revenue = Money()
    on_time_payment_rate = Money(allow_none=True)
    order_frequency = Money(allow_none=True)
    days_since_first_order = f.Integer(allow_none=True)
    factory_avg_revenue = Money(allow_none=True)
    factory_avg_frequency = Money(allow_none=True)


class RatingScoreSchema(ma.Schema):
    customer_id = f.String()
    name = f.String(allow_none=True)
    current_rating = f.Integer()
    parts = f.Nested(RatingPartsSchema)
    total = Money()
    stars = f.Integer(metadata={"description": "评级标准给出的星级"})
    inputs = f.Nested(RatingInputsSchema)


RatingScorePageSchema = paging.page_schema(RatingScoreSchema)


class RfmCustomerSchema(ma.Schema):
    customer_id = f.String()
    name = f.String(allow_none=True)
    recency_days = f.Integer()
    frequency = f.Integer()
    monetary = Money()
    r_score = f.Integer()
    f_score = f.Integer()
    m_score = f.Integer()
    r_level = f.String()
    f_level = f.String()
    m_level = f.String()
    segment = f.String()


class RfmSchema(paging.page_schema(RfmCustomerSchema)):
    segments = f.Dict(keys=f.String(), values=f.Integer())
    customers_without_orders = f.Integer()


class RiskLevelSchema(ma.Schema):
    level = f.String()
    label = f.String()
    color = f.String()
    count = f.Integer()


class CreditRiskSchema(ma.Schema):
    total = f.Integer()
    counts = f.Dict(keys=f.String(), values=f.Integer())
    overdue = f.Integer(metadata={
        "description": "live customers whose debt is overdue (seed 001 §7.2: today − (lastOrderDate + "
                       "paymentTerms) > 0, lastOrderDate the newest order not cancelled, else the day the "
                       "debt began); the same customers customer-service shows with isOverdue true",
        "example": 2})
    levels = f.List(f.Nested(RiskLevelSchema))


class SourceFreshnessSchema(ma.Schema):
    producer = f.String()
    last_event_id = f.String(allow_none=True)
    last_event_type = f.String(allow_none=True)
    last_occurred_at = IsoDateTime(allow_none=True)
    last_applied_at = IsoDateTime(allow_none=True)
    apply_lag_seconds = f.Float(allow_none=True)
    age_seconds = f.Float(allow_none=True)
    events_applied = f.Integer()


class BacklogSchema(ma.Schema):
    queue = f.String()
    messages = f.Integer()
    dead_letters = f.Integer()


class FreshnessSchema(ma.Schema):
    sources = f.List(f.Nested(SourceFreshnessSchema))
    consumer = f.Nested(BacklogSchema, allow_none=True)


V1RatingScore = envelope_schema(Surface.V1, RatingScoreSchema)
V1RatingScores = envelope_schema(Surface.V1, RatingScorePageSchema)
V1Rfm = envelope_schema(Surface.V1, RfmSchema)
V1CreditRisk = envelope_schema(Surface.V1, CreditRiskSchema)
V1Freshness = envelope_schema(Surface.V1, FreshnessSchema)
