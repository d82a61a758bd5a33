"""GET /api/external/statistics of seed 002 §4 (roles: integrator, admin, analyst)."""
from __future__ import annotations

from crm_common.authz import authorize
from crm_common.envelopes import Surface
from crm_common.schemas import document_errors
from crm_common.web import Blueprint, reply, request_context

from ..service_layer import statistics as svc
from .deps import timezone, uow
from .schemas import ExternalStatistics, StatisticsQuerySchema

blp = Blueprint("external_statistics", __name__, url_prefix="/api/external",
                description="External integrator statistics (seed 002 §4).")

SUCCESS_MESSAGE = "统计数据获取成功"


@blp.route("/statistics", methods=["GET"])
@blp.doc(operationId="getExternalViewingStatistics")
@blp.arguments(StatisticsQuerySchema, location="query")
@blp.response(200, ExternalStatistics)
@document_errors(blp, Surface.EXTERNAL, 400, 401, 403)
@authorize("external.statistics.read")
def statistics(query):
    """统计数据查询: viewing records (count, commission) whose viewing_time falls in the
    inclusive calendar dates `date_from`..`date_to` of APP_TIMEZONE, and the customers in
    status 4 已成交未结佣 / 5 已成交已结佣 — all of the tenant's without dates, those with a
    viewing in the period with dates. Tenant: X-Factory-Id, else the token's only factory."""
    ctx = request_context()
    data = svc.external_statistics(uow(), ctx, query.get("date_from"), query.get("date_to"), timezone=timezone())
    return reply(data, message=SUCCESS_MESSAGE)
