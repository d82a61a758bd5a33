"""Analyses of seed 001's 核心业务逻辑 on /api/v1/analytics: rating score, RFM segments,
credit risk levels, and the read model's freshness.

Roles: factory_admin, sales_admin, finance_admin, analyst (admin always); freshness:
analyst (and admin)."""
from __future__ import annotations

from crm_common.authz import authorize
from crm_common.envelopes import Surface
from crm_common.schemas import document_errors
from crm_common.web import Blueprint, reply, request_context

from ..service_layer import analyses as svc
from .deps import backlog, owner, timezone, uow
from .schemas import PageQuerySchema, RfmQuerySchema, V1CreditRisk, V1Freshness, V1RatingScore, V1RatingScores, V1Rfm

blp = Blueprint("analytics_analyses", __name__, url_prefix="/api/v1/analytics",
                description="Rating score, RFM segmentation, credit risk and freshness of the read model.")

errors = lambda *codes: document_errors(blp, Surface.V1, *codes)  # noqa: E731


@blp.route("/customers/<int:customer_id>/rating-score", methods=["GET"])
@blp.doc(operationId="getCustomerRatingScore")
@blp.response(200, V1RatingScore)
@errors(401, 403, 404, 503)
@authorize("analytics.read")
def rating_score(customer_id):
    """客户评级算法 for one customer: the four weighted parts (order amount 30, payment
    timeliness 40, order frequency 20, cooperation years 10), their total and the stars
    the total earns (≥90: 5, 70–89: 4, 50–69: 3, 30–49: 2, <30: 1)."""
    ctx = request_context()
    return reply(svc.rating_score(uow(), owner(ctx), ctx, customer_id, timezone=timezone()))


@blp.route("/rating-scores", methods=["GET"])
@blp.doc(operationId="listCustomerRatingScores")
@blp.arguments(PageQuerySchema, location="query", as_kwargs=True)
@blp.response(200, V1RatingScores)
@errors(400, 401, 403)
@authorize("analytics.read")
def rating_scores(page, page_size):
    """The rating score of every live customer of the tenant, highest first (paged)."""
    ctx = request_context()
    return reply(svc.rating_scores(uow(), ctx, page=page, page_size=page_size, timezone=timezone()))


@blp.route("/rfm", methods=["GET"])
@blp.doc(operationId="getRfmSegments")
@blp.arguments(RfmQuerySchema, location="query", as_kwargs=True)
@blp.response(200, V1Rfm)
@errors(400, 401, 403)
@authorize("analytics.read")
def rfm(page, page_size, segment=None):
    """客户细分策略 (RFM): each buyer's recency (days since last order), frequency (orders)
    and monetary value (revenue), their 高/中/低 levels cut by mid-rank thirds within the
    tenant, the segment, and the count per segment. Filter with `segment`."""
    ctx = request_context()
    return reply(svc.rfm_segments(uow(), ctx, segment=segment, page=page, page_size=page_size,
                                  timezone=timezone()))


@blp.route("/credit-risk", methods=["GET"])
@blp.doc(operationId="getCreditRiskLevels")
@blp.response(200, V1CreditRisk)
@errors(401, 403)
@authorize("analytics.read")
def credit_risk():
    """信用风险等级: live customers per level — EXCELLENT 优质客户, NORMAL 正常客户, RISK 风险客户,
    HIGH_RISK 高风险客户 — by the same rule as customer-service, and `overdue`: how many owe
    money past its terms (seed 001 §7.2: overdueDays = today − (lastOrderDate + paymentTerms),
    lastOrderDate the newest order that was not cancelled; a debt without any order counts
    from the day it began; days in APP_TIMEZONE) — the customers whose `isOverdue` is true
    in customer-service."""
    ctx = request_context()
    return reply(svc.credit_risk(uow(), ctx, timezone=timezone()))


@blp.route("/freshness", methods=["GET"])
@blp.doc(operationId="getAnalyticsFreshness")
@blp.response(200, V1Freshness)
@errors(401, 403)
@authorize("analytics.freshness.read")
def freshness():
    """Per source (customer-service, viewing-service, orders): the newest fact applied
    (occurred_at, applied_at), how long applying it took and how old it is now, plus the
    consumer queue's backlog and dead letters as RabbitMQ reports them (null if unknown)."""
    return reply(svc.freshness(uow(), backlog()))
