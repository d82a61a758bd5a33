"""/api/mobile/{factoryId}/customers: the tenant customer API of seed 001 (its nineteen
non-statistics endpoints; the statistics ones are analytics-service's).

Every view checks the tenant and the role first (``guard``), validates with the
schemas, calls one use case and replies in the ``{code, message, data}`` envelope.
Permissions follow the seed's 权限 lines (``admin`` passes everything)."""
from __future__ import annotations

import datetime as dt
import functools
from urllib.parse import quote
from zoneinfo import ZoneInfo

from flask import Response, request
from flask.views import MethodView

from crm_common import logs
from crm_common.authz import authorize
from crm_common.envelopes import Surface, envelope_schema
from crm_common.schemas import document_errors
from crm_common.web import Blueprint, reply, request_context, settings_of

from ...adapters.analytics_client import OrderSummaryClient
from ...service_layer import excel, imports, money
from ...service_layer import mobile_customers as svc
from ..deps import uow
from .schemas import (
    ActiveCustomerSchema,
    BalanceQuerySchema,
    BalanceResultSchema,
    CheckCodeQuerySchema,
    CreditLimitQuerySchema,
    CreditLimitResultSchema,
    CustomerDTOSchema,
    CustomerPageResponseSchema,
    CustomerRatingResultSchema,
    CustomerStatusResultSchema,
    ImportResultSchema,
    IndustryQuerySchema,
    LimitQuerySchema,
    ListQuerySchema,
    MobileBooleanEnvelopeSchema,
    MobileCustomerRequestSchema,
    MobileCustomerUpdateSchema,
    MobileImportFileSchema,
    OutstandingBalanceSchema,
    RatingQuerySchema,
    SearchQuerySchema,
    StatusQuerySchema,
    TypeQuerySchema,
    validate_import_row,
)

blp = Blueprint(
    "customers_mobile", __name__, url_prefix="/api/mobile/<factoryId>/customers",
    description="Tenant customer API (seed 001). Envelope `{code, message, data}` with `code` = HTTP "
                "status; errors add `errors` (field -> messages). Reads: any role of the factory; "
                "create/update/status/rating/import/export: factory_admin, sales_admin; delete: "
                "factory_admin; credit limit, balance, outstanding balances: factory_admin, "
                "finance_admin. A factory the token lacks is 403; another tenant's customer is 404.")

TRUNCATED_HEADER = "X-Result-Truncated"
errors = lambda *codes: document_errors(blp, Surface.MOBILE, *codes)  # noqa: E731
Envelope = functools.partial(envelope_schema, Surface.MOBILE)
XLSX_RESPONSE = {"type": "string", "format": "binary"}


def tenant_first(view):
    """The tenant of the path (403 for a factory the token lacks) before any argument is
    parsed; the role was checked before the view (crm_common.authz)."""
    @functools.wraps(view)
    def wrapper(*args, **kwargs):
        request_context(path_factory=kwargs["factoryId"])
        return view(*args, **kwargs)
    return wrapper


def _ctx(factory_id: str):
    return request_context(path_factory=factory_id)


def _order_summaries(factory_id: str, timeout_setting: str, default: float):
    settings = settings_of()
    client = OrderSummaryClient(settings.service_urls["analytics"], factory_id,
                                authorization=request.headers.get("Authorization"),
                                timeout=settings.get_float(timeout_setting, default),
                                extra_headers=logs.trace_headers())
    return client.summaries


def _listing(items, truncated: bool):
    return reply(items, headers={TRUNCATED_HEADER: "true"} if truncated else None)


def _attachment(ascii_name: str, utf8_name: str) -> str:
    """RFC 6266 / 5987: an ASCII fallback and the real (Chinese) name."""
    return f"attachment; filename=\"{ascii_name}\"; filename*=UTF-8''{quote(utf8_name, safe='')}"


def _local_now() -> dt.datetime:
    return dt.datetime.now(ZoneInfo(settings_of().app_timezone))


# --- §1 CRUD -------------------------------------------------------------------------------

@blp.route("")
class Customers(MethodView):
    @authorize("customer.read")
    @tenant_first
    @blp.arguments(ListQuerySchema, location="query")
    @blp.response(200, Envelope(CustomerPageResponseSchema))
    @errors(400, 401, 403)
    def get(self, query, factoryId):
        """分页获取客户列表 (seed 001 §1.5).

        `page` from 1 (default 1), `size` default 10 (at most 100), `sortBy` one of
        createdAt, updatedAt, name, customerCode, type, industry, contactPerson, rating,
        creditLimit, currentBalance, availableCredit, paymentTerms (default createdAt;
        anything else is 400), `sortOrder` asc/desc (default desc). Only live customers
        of the factory in the caller's business domains."""
        ctx = _ctx(factoryId)
        return reply(svc.list_customers(uow(), ctx, page=query["page"], size=query["size"],
                                        sort_by=query["sortBy"], sort_order=query["sortOrder"]))

    @authorize("customer.write")
    @tenant_first
    @blp.arguments(MobileCustomerRequestSchema)
    @blp.response(200, Envelope(CustomerDTOSchema))
    @errors(400, 401, 403)
    def post(self, body, factoryId):
        """创建客户 (seed 001 §1.1).

        Defaults: currentBalance 0, isActive true, rating 3, paymentTerms 30, creditLimit 0.
        A customerCode or name already used in the factory is 400 naming the field
        (`客户代码已存在: <code>`). Emits `customer.created`."""
        ctx = _ctx(factoryId)
        return reply(svc.create_customer(uow(), ctx, body), message="客户创建成功")


@blp.route("/<customerId>")
class CustomerById(MethodView):
    @authorize("customer.read")
    @tenant_first
    @blp.response(200, Envelope(CustomerDTOSchema))
    @errors(401, 403, 404)
    def get(self, factoryId, customerId):
        """获取客户详情 (seed 001 §1.4).

        Computed: availableCredit, creditUtilization, isOverdue, overdueDays, riskLevel
        (+ label and colour). totalOrders, totalRevenue, lastOrderDate and
        customerLifetimeValue come from analytics-service; null when it cannot answer."""
        ctx = _ctx(factoryId)
        customer_id = svc.parse_customer_id(customerId)
        summaries = _order_summaries(factoryId, "ORDER_SUMMARY_TIMEOUT", 0.5)
        return reply(svc.get_customer(uow(), ctx, customer_id, summaries))

    @authorize("customer.write")
    @tenant_first
    @blp.arguments(MobileCustomerUpdateSchema)
    @blp.response(200, Envelope(CustomerDTOSchema))
    @errors(400, 401, 403, 404)
    def put(self, body, factoryId, customerId):
        """更新客户 (seed 001 §1.2).

        Only the fields sent change. System fields (currentBalance, isActive, createdAt,
        createdBy, updatedAt…) are refused with a pointer to their own endpoint; the
        customerCode cannot change; changing creditLimit here also needs factory_admin or
        finance_admin and is audited like PUT /credit-limit. Emits `customer.updated`."""
        ctx = _ctx(factoryId)
        customer_id = svc.parse_customer_id(customerId)
        customer = svc.update_customer(uow(), ctx, customer_id, body)
        return reply(customer, message="客户更新成功")

    @authorize("customer.delete")
    @tenant_first
    @blp.response(200, Envelope())
    @errors(401, 403, 404, 409)
    def delete(self, factoryId, customerId):
        """删除客户 (seed 001 §1.3): soft delete.

        Refused (409) while the customer owes money; the message gives the amount.
        History (balances, ratings, orders elsewhere) is kept. Emits `customer.deleted`."""
        ctx = _ctx(factoryId)
        customer_id = svc.parse_customer_id(customerId)
        svc.delete_customer(uow(), ctx, customer_id)
        return reply(None, message="客户删除成功")


# --- §2 queries ----------------------------------------------------------------------------

@blp.route("/active")
class ActiveCustomers(MethodView):
    @authorize("customer.read")
    @tenant_first
    @blp.arguments(LimitQuerySchema, location="query")
    @blp.response(200, Envelope(ActiveCustomerSchema, many=True))
    @errors(400, 401, 403)
    def get(self, query, factoryId):
        """获取活跃客户列表 (seed 001 §2.1): isActive customers by name, short shape.

        Not paged; at most `limit` (default 1000, up to 10000) customers, and the header
        `X-Result-Truncated: true` says when there are more."""
        ctx = _ctx(factoryId)
        return _listing(*svc.active_customers(uow(), ctx, query["limit"]))


@blp.route("/search")
class SearchCustomers(MethodView):
    @authorize("customer.read")
    @tenant_first
    @blp.arguments(SearchQuerySchema, location="query")
    @blp.response(200, Envelope(CustomerDTOSchema, many=True))
    @errors(400, 401, 403)
    def get(self, query, factoryId):
        """搜索客户 (seed 001 §2.2): `keyword` in name, customerCode or contactPerson.

        `%` and `_` in the keyword are literal. Customers named exactly `keyword` come
        first, then the rest by name. At most `limit` results (default 50, up to 200);
        `X-Result-Truncated: true` when more matched."""
        ctx = _ctx(factoryId)
        return _listing(*svc.search_customers(uow(), ctx, query["keyword"], query["limit"]))


@blp.route("/by-type")
class CustomersByType(MethodView):
    @authorize("customer.read")
    @tenant_first
    @blp.arguments(TypeQuerySchema, location="query")
    @blp.response(200, Envelope(CustomerDTOSchema, many=True))
    @errors(400, 401, 403)
    def get(self, query, factoryId):
        """按客户类型获取客户 (seed 001 §2.3): `type` is 企业/个人/经销商/零售 (else 400).

        By name; at most `limit` (default 1000, up to 10000), `X-Result-Truncated` when cut."""
        ctx = _ctx(factoryId)
        return _listing(*svc.customers_by_type(uow(), ctx, query["type"], query["limit"]))


@blp.route("/by-industry")
class CustomersByIndustry(MethodView):
    @authorize("customer.read")
    @tenant_first
    @blp.arguments(IndustryQuerySchema, location="query")
    @blp.response(200, Envelope(CustomerDTOSchema, many=True))
    @errors(400, 401, 403)
    def get(self, query, factoryId):
        """按行业获取客户 (seed 001 §2.4): exact `industry` (e.g. 餐饮).

        By name; at most `limit` (default 1000, up to 10000), `X-Result-Truncated` when cut."""
        ctx = _ctx(factoryId)
        return _listing(*svc.customers_by_industry(uow(), ctx, query["industry"], query["limit"]))


# --- §3 status and rating ------------------------------------------------------------------

@blp.route("/<customerId>/status")
class CustomerStatus(MethodView):
    @authorize("customer.write")
    @tenant_first
    @blp.arguments(StatusQuerySchema, location="query")
    @blp.response(200, Envelope(CustomerStatusResultSchema))
    @errors(400, 401, 403, 404, 409)
    def put(self, query, factoryId, customerId):
        """切换客户状态 (seed 001 §3.1): `isActive=true|false`.

        On the status state machine: enabling moves to active (a blacklisted customer
        cannot be enabled: 409); disabling an active customer moves it to inactive and
        leaves a frozen or blacklisted one as it is. Recorded in the status history."""
        ctx = _ctx(factoryId)
        customer_id = svc.parse_customer_id(customerId)
        customer = svc.set_active(uow(), ctx, customer_id, query["isActive"])
        return reply(customer, message="客户状态更新成功")


@blp.route("/<customerId>/rating")
class CustomerRating(MethodView):
    @authorize("customer.write")
    @tenant_first
    @blp.arguments(RatingQuerySchema, location="query")
    @blp.response(200, Envelope(CustomerRatingResultSchema))
    @errors(400, 401, 403, 404)
    def put(self, query, factoryId, customerId):
        """更新客户评级 (seed 001 §3.2): `rating` 1-5, optional `notes` (评级说明).

        ratingNotes becomes `notes` (empty when not sent); each change is written to the
        rating history."""
        ctx = _ctx(factoryId)
        customer_id = svc.parse_customer_id(customerId)
        customer = svc.rate_customer(uow(), ctx, customer_id, query["rating"], query.get("notes"))
        return reply(customer, message="客户评级更新成功")


# --- §4 money ------------------------------------------------------------------------------

@blp.route("/<customerId>/credit-limit")
class CustomerCreditLimit(MethodView):
    @authorize("customer.finance")
    @tenant_first
    @blp.arguments(CreditLimitQuerySchema, location="query")
    @blp.response(200, Envelope(CreditLimitResultSchema))
    @errors(400, 401, 403, 404)
    def put(self, query, factoryId, customerId):
        """更新客户信用额度 (seed 001 §4.1): `creditLimit` ≥ 0.

        Audited (old/new limit, balance, operator). When the current debt exceeds the new
        limit the change is kept and `creditWarning` is true with a `warningMessage`."""
        ctx = _ctx(factoryId)
        customer_id = svc.parse_customer_id(customerId)
        customer = money.set_credit_limit(uow(), ctx, customer_id, query["creditLimit"])
        return reply(customer, message="信用额度更新成功")


@blp.route("/<customerId>/balance")
class CustomerBalance(MethodView):
    @authorize("customer.finance")
    @tenant_first
    @blp.arguments(BalanceQuerySchema, location="query")
    @blp.response(200, Envelope(BalanceResultSchema))
    @errors(400, 401, 403, 404)
    def put(self, query, factoryId, customerId):
        """更新客户当前余额 (seed 001 §4.2): `balance`, negative = the customer owes.

        Each change is a balance transaction (old, new, amount, operator). `isOverdue`
        once a debt is older than paymentTerms days; `creditWarning` when the debt exceeds
        the credit limit."""
        ctx = _ctx(factoryId)
        customer_id = svc.parse_customer_id(customerId)
        customer = money.set_balance(uow(), ctx, customer_id, query["balance"])
        return reply(customer, message="客户余额更新成功")


# --- §6 batch ------------------------------------------------------------------------------

@blp.route("/import")
class ImportExcel(MethodView):
    @authorize("customer.write")
    @tenant_first
    @blp.arguments(MobileImportFileSchema, location="files")
    @blp.response(200, Envelope(ImportResultSchema))
    @errors(400, 401, 403, 413)
    def post(self, files, factoryId):
        """从Excel文件批量导入客户 (seed 001 §6.1): multipart `file`, .xlsx up to 10 MB.

        The first sheet's first row is the header (the template's, or an export's); at
        most 10000 data rows. Each row is imported on its own: good rows land (each with
        its `customer.created` event) even when others fail, and each failure gives its
        Excel row number, the original data and the reason. Not an .xlsx: 400; over
        10 MB: 413."""
        ctx = _ctx(factoryId)
        upload = files["file"]
        result = imports.import_workbook(uow(), ctx, upload.stream, upload.filename, validate_import_row)
        if result["isFullSuccess"]:
            message = "导入成功"
        elif result["successCount"]:
            message = f"部分导入成功：成功 {result['successCount']} 行，失败 {result['failureCount']} 行"
        else:
            message = f"导入失败：{result['failureCount']} 行均有错误"
        return reply(result, message=message)


@blp.route("/import/json")
class ImportJson(MethodView):
    @authorize("customer.write")
    @tenant_first
    @blp.arguments(MobileCustomerRequestSchema(many=True))
    @blp.response(200, Envelope(CustomerDTOSchema, many=True))
    @errors(400, 401, 403)
    def post(self, body, factoryId):
        """批量导入客户（JSON格式）(seed 001 §6.4): an array of create requests, at most 1000.

        All or nothing: any invalid item (format, a code or name taken or repeated) is
        400 with `errors` keyed `<index>.<field>`, and nothing is written."""
        ctx = _ctx(factoryId)
        created = imports.import_json(uow(), ctx, body)
        return reply(created, message=f"成功导入{len(created)}个客户")


@blp.route("/export")
class ExportExcel(MethodView):
    @authorize("customer.export")
    @tenant_first
    @blp.response(200, XLSX_RESPONSE, content_type=excel.XLSX_MIME,
                  description="客户列表_YYYYMMDD_HHMMSS.xlsx")
    @errors(401, 403)
    def get(self, factoryId):
        """导出客户列表 (seed 001 §6.2): every live customer of the factory as .xlsx.

        Columns: 客户名称, 客户代码, 客户类型, 行业, 联系人, 联系电话, 邮箱, 地址, 信用额度,
        当前余额, 可用额度, 付款期限, 税号, 评级, 是否启用, 备注, 累计订单数, 累计营收 (order
        figures from analytics-service, blank when unknown). The file can be imported again
        as it is. It is made row by row while it is sent (chunked), so memory stays flat
        and the first bytes leave at once for any number of customers; `X-Total-Count`
        gives the number of customers when the export began."""
        ctx = _ctx(factoryId)
        summaries = _order_summaries(factoryId, "ORDER_SUMMARY_EXPORT_TIMEOUT", 3.0)
        count, pieces = imports.export_workbook(uow(), ctx, summaries)
        stamp = _local_now().strftime("%Y%m%d_%H%M%S")
        return Response(pieces, mimetype=excel.XLSX_MIME, headers={
            "Content-Disposition": _attachment(f"customers_{stamp}.xlsx", f"客户列表_{stamp}.xlsx"),
            "X-Total-Count": str(count),
            "Cache-Control": "no-store",
        })


@blp.route("/export/template")
class ImportTemplate(MethodView):
    @authorize("customer.export")
    @tenant_first
    @blp.response(200, XLSX_RESPONSE, content_type=excel.XLSX_MIME, description="客户导入模板.xlsx")
    @errors(401, 403)
    def get(self, factoryId):
        """下载客户导入模板 (seed 001 §6.3).

        Header row, two sample rows, drop-down lists for 客户类型 and 行业 (and 是否启用,
        评级), and a 填写说明 sheet explaining each field."""
        _ctx(factoryId)
        return Response(excel.template_bytes(), mimetype=excel.XLSX_MIME, headers={
            "Content-Disposition": _attachment("customer_import_template.xlsx", "客户导入模板.xlsx"),
            "Cache-Control": "no-store",
        })


# --- §7 checks -----------------------------------------------------------------------------

@blp.route("/check-code")
class CheckCode(MethodView):
    @authorize("customer.read")
    @tenant_first
    @blp.arguments(CheckCodeQuerySchema, location="query")
    @blp.response(200, MobileBooleanEnvelopeSchema)
    @errors(400, 401, 403)
    def get(self, query, factoryId):
        """检查客户代码是否存在 (seed 001 §7.1): data true = taken, false = available.

        Codes of deleted customers stay taken."""
        ctx = _ctx(factoryId)
        return reply(svc.code_exists(uow(), ctx, query["customerCode"]))


@blp.route("/outstanding-balance")
class OutstandingBalance(MethodView):
    @authorize("customer.finance")
    @tenant_first
    @blp.arguments(LimitQuerySchema, location="query")
    @blp.response(200, Envelope(OutstandingBalanceSchema, many=True))
    @errors(400, 401, 403)
    def get(self, query, factoryId):
        """获取有欠款的客户 (seed 001 §7.2): currentBalance < 0, largest debt first.

        overdueAmount is the part of the debt charged more than paymentTerms days ago
        (payments settle the oldest charges first); overdueDays counts from when the
        oldest open charge fell due. At most `limit` (default 1000, up to 10000),
        `X-Result-Truncated` when cut."""
        ctx = _ctx(factoryId)
        return _listing(*money.outstanding_balances(uow(), ctx, query["limit"]))
