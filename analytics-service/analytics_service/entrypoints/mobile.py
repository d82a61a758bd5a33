"""The seven statistics endpoints of seed 001 under /api/mobile/{factoryId}/customers
(the gateway routes them here; the rest of that path belongs to customer-service).

Per-customer figures: any role of the factory. Distributions, overall statistics and VIP
customers: factory_admin, sales_admin (and admin, analyst). Another tenant's or another
business domain's customer is 404."""
from __future__ import annotations

from crm_common.authz import authorize
from crm_common.envelopes import Surface
from crm_common.schemas import document_errors
from crm_common.web import Blueprint, reply, request_context

from ..service_layer import statistics as svc
from .deps import owner, timezone, uow
from .schemas import MobileDistribution, MobileOverall, MobilePurchases, MobileStatistics, MobileVip, VipQuerySchema

blp = Blueprint("mobile_statistics", __name__, url_prefix="/api/mobile/<factoryId>/customers",
                description="Customer statistics of the tenant API (seed 001 §5, §7.3–7.5), from analytics' read model.")

errors = lambda *codes: document_errors(blp, Surface.MOBILE, *codes)  # noqa: E731


def customer_id_parameter() -> list[dict]:
    """``{customerId}`` as customer-service's tenant paths document it: ids are strings on
    this surface (``CustomerDTO.id``), digits only (anything else names no customer: 404)."""
    return [{"in": "path", "name": "customerId", "required": True,
             "schema": {"type": "string", "pattern": "^[0-9]{1,19}$"}, "example": "42"}]


@blp.route("/<int:customerId>/statistics", methods=["GET"], parameters=customer_id_parameter())
@blp.doc(operationId="getTenantCustomerStatistics")
@blp.response(200, MobileStatistics)
@errors(401, 403, 404, 503)
@authorize("statistics.customer.read")
def customer_statistics(factoryId, customerId):
    """获取客户统计信息 (§5.1): orders, revenue, dates, frequency (orders per month),
    products (top five by revenue), payment behaviour, credit utilisation, the estimated
    lifetime value, and isOverdue/overdueDays (§7.2: today − (lastOrderDate + paymentTerms),
    the same answer as customer-service's). Cancelled orders do not count, not even as the
    last order date."""
    ctx = request_context(factoryId)
    return reply(svc.customer_statistics(uow(), owner(ctx), ctx, customerId, timezone=timezone()))


@blp.route("/<int:customerId>/purchase-history", methods=["GET"], parameters=customer_id_parameter())
@blp.doc(operationId="getTenantCustomerPurchaseHistory")
@blp.response(200, MobilePurchases)
@errors(401, 403, 404, 503)
@authorize("statistics.customer.read")
def purchase_history(factoryId, customerId):
    """获取客户购买历史 (§5.2): every order of the customer, newest first, with its products."""
    ctx = request_context(factoryId)
    return reply(svc.purchase_history(uow(), owner(ctx), ctx, customerId))


@blp.route("/rating-distribution", methods=["GET"])
@blp.doc(operationId="getTenantCustomerRatingDistribution")
@blp.response(200, MobileDistribution)
@errors(401, 403)
@authorize("statistics.tenant.read")
def rating_distribution(factoryId):
    """获取客户评级分布 (§5.3): live customers per star, keys "1".."5" always present."""
    return reply(svc.rating_distribution(uow(), request_context(factoryId)))


@blp.route("/overall-statistics", methods=["GET"])
@blp.doc(operationId="getTenantCustomerOverallStatistics")
@blp.response(200, MobileOverall)
@errors(401, 403)
@authorize("statistics.tenant.read")
def overall_statistics(factoryId):
    """获取客户总体统计 (§5.4): counts, distributions, financial summary, VIP (5 stars) and
    at-risk customers (1–2 stars or overdue: §7.2, today − (lastOrderDate + paymentTerms) > 0,
    lastOrderDate the newest order not cancelled, else the day the debt began). inactiveCustomers counts
    every live customer whose status is not active; newCustomersThisMonth uses the calendar
    month in APP_TIMEZONE."""
    ctx = request_context(factoryId)
    return reply(svc.overall_statistics(uow(), ctx, timezone=timezone()))


@blp.route("/type-distribution", methods=["GET"])
@blp.doc(operationId="getTenantCustomerTypeDistribution")
@blp.response(200, MobileDistribution)
@errors(401, 403)
@authorize("statistics.tenant.read")
def type_distribution(factoryId):
    """获取客户类型分布 (§7.4): 企业/个人/经销商/零售 always present; customers without a type: 其他."""
    return reply(svc.type_distribution(uow(), request_context(factoryId)))


@blp.route("/industry-distribution", methods=["GET"])
@blp.doc(operationId="getTenantCustomerIndustryDistribution")
@blp.response(200, MobileDistribution)
@errors(401, 403)
@authorize("statistics.tenant.read")
def industry_distribution(factoryId):
    """获取客户行业分布 (§7.5): live customers per industry, most first; none given: 其他."""
    return reply(svc.industry_distribution(uow(), request_context(factoryId)))


@blp.route("/vip", methods=["GET"])
@blp.doc(operationId="listTenantVipCustomers")
@blp.arguments(VipQuerySchema, location="query", as_kwargs=True)
@blp.response(200, MobileVip)
@errors(400, 401, 403)
@authorize("statistics.tenant.read")
def vip_customers(factoryId, limit):
    """获取VIP客户 (§7.3): 5-star customers or the top buyers by revenue, ordered by
    totalRevenue (desc), then rating, then id; `limit` default 10, at most 100."""
    ctx = request_context(factoryId)
    return reply(svc.vip_customers(uow(), ctx, limit))
