"""/api/mobile/{factoryId}/customers: the tenant customer API of seed 001 (its non-statistics
endpoints; the statistics ones are analytics-service's), plus the customer's audit trail.

Every view checks the tenant first (``tenant_first``; the role was checked before it),
validates with the schemas (camelCase onto the model's names), builds a command, calls its
handler and replies in the ``{code, message, data}`` envelope; refusals are worded by
``wording.MOBILE``. Permissions follow the seed's 权限 lines (``admin`` passes everything)."""
from __future__ import annotations

import datetime as dt
import functools
import re
from urllib.parse import quote

from flask import Response, request
from flask.views import MethodView

from crm_common.authz import authorize
from crm_common.envelopes import Surface, envelope_schema
from crm_common.errors import ValidationError
from crm_common.schemas import document_errors
from crm_common.web import Blueprint, etag_for, if_match_version, reply, request_context

from ...adapters import excel
from ...adapters.repository import CustomerFilter
from ...bootstrap import customer_service
from ...domain import commands
from ...domain.errors import CustomerNotFound
from ...service_layer import bulk, imports, queries
from ...service_layer import customers as handlers
from ..common import MAX_ID, total_headers
from . import sheets
from .schemas import (
    CREATE_EXAMPLE,
    UPDATE_EXAMPLE,
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
    MobileBalanceChangeSchema,
    MobileBooleanEnvelopeSchema,
    MobileCreditLimitChangeSchema,
    MobileCustomerRequestSchema,
    MobileCustomerUpdateSchema,
    MobileImportFileSchema,
    MobileRatingChangeSchema,
    MobileStatusChangeSchema,
    OutstandingBalanceSchema,
    PageQuerySchema,
    RatingQuerySchema,
    SearchQuerySchema,
    StatusQuerySchema,
    TypeQuerySchema,
    page_response,
    page_response_schema,
)
from .wording import MOBILE, MOBILE_ROWS

blp = Blueprint(
    "customers_mobile", __name__, url_prefix="/api/mobile/<factoryId>/customers",
    description="Tenant customer API (seed 001). Envelope `{code, message, data}` with `code` = HTTP "
                "status; errors add `errors` (field -> messages) and `errorCode`. Reads: any role of the "
                "factory; create/update/status/rating/import/export: factory_admin, sales_admin; delete: "
                "factory_admin; credit limit, balance, outstanding balances: factory_admin, "
                "finance_admin; history: any role of the factory. A factory the token lacks is 403; "
                "another tenant's customer is 404.")
MOBILE.install(blp)

TRUNCATED_HEADER = "X-Result-Truncated"
errors = lambda *codes: document_errors(blp, Surface.MOBILE, *codes)  # noqa: E731
Envelope = functools.partial(envelope_schema, Surface.MOBILE)
XLSX_RESPONSE = {"type": "string", "format": "binary"}
MAX_JSON_IMPORT = 1000
ID_TEXT = re.compile(r"[0-9]{1,19}")  # ASCII digits only: "³".isdigit() is true, int("³") fails


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


def customer_id_of(raw: str) -> int:
    """Ids are strings on this surface: anything but a number within the id column's range
    names no customer (404, as crm_common's ``int`` path converter answers elsewhere)."""
    if not ID_TEXT.fullmatch(raw) or int(raw) > MAX_ID:
        raise CustomerNotFound()
    return int(raw)


def _listing(items, truncated: bool):
    return reply(items, headers={TRUNCATED_HEADER: "true"} if truncated else None)


def _with_etag(customer, message: str | None = None):
    return reply(customer, message=message, headers={"ETag": etag_for(customer.version)})


def _attachment(ascii_name: str, utf8_name: str) -> str:
    """RFC 6266 / 5987: an ASCII fallback and the real (Chinese) name."""
    return f"attachment; filename=\"{ascii_name}\"; filename*=UTF-8''{quote(utf8_name, safe='')}"


def _stamp() -> str:
    return dt.datetime.now(customer_service().timezone).strftime("%Y%m%d_%H%M%S")


# --- §1 CRUD -------------------------------------------------------------------------------

@blp.route("")
class Customers(MethodView):
    @blp.doc(operationId="listTenantCustomers")
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
        of the factory in the caller's business domains; each with its computed fields
        and order figures.

        `totalElements` is exact up to 10,000 customers; beyond that it is PostgreSQL's
        estimate (from the table's statistics: close for a whole tenant or a status, rougher
        for a keyword; never below 10,001), and the reply carries `X-Total-Estimated: true`. `totalPages` and `hasNext`
        follow from it; a page past the last one is empty."""
        items, total = queries.customer_page(customer_service().uow(), _ctx(factoryId), CustomerFilter(),
                                             page=query["page"], page_size=query["size"], sort=query["sort"])
        return reply(page_response(items, total, query["page"], query["size"]), headers=total_headers(total))

    @blp.doc(operationId="createTenantCustomer")
    @authorize("customer.write")
    @tenant_first
    @blp.arguments(MobileCustomerRequestSchema, example=CREATE_EXAMPLE)
    @blp.response(200, Envelope(CustomerDTOSchema))
    @errors(400, 401, 403)
    def post(self, body, factoryId):
        """创建客户 (seed 001 §1.1).

        Defaults (also for `null`): currentBalance 0, isActive true, rating 3, paymentTerms
        30, creditLimit 0. A customerCode or name already used in the factory is 400 naming
        the field (`客户代码已存在: <code>`); money with more than 2 decimals is 400. The
        credit limit is audited. Emits `customer.created`."""
        customer = handlers.create_customer(commands.CreateCustomer(_ctx(factoryId), body), customer_service().uow())
        return _with_etag(customer, "客户创建成功")


@blp.route("/<customerId>")
class CustomerById(MethodView):
    @blp.doc(operationId="getTenantCustomer")
    @authorize("customer.read")
    @tenant_first
    @blp.response(200, Envelope(CustomerDTOSchema))
    @errors(400, 401, 403, 404)
    def get(self, factoryId, customerId):
        """获取客户详情 (seed 001 §1.4). Sends `ETag` (the version).

        Computed: availableCredit, creditUtilization, isOverdue, overdueDays, riskLevel
        (+ label and colour), and the order figures totalOrders, totalRevenue, lastOrderDate
        (from order events, cancelled orders excluded). customerLifetimeValue is
        analytics-service's estimate, null when it cannot answer in time."""
        service = customer_service()
        customer = queries.customer_detail(service.uow(), _ctx(factoryId), customer_id_of(customerId), service.cache,
                                           groups=False)  # the seed's CustomerDTO shows no groups
        values = service.order_figures(factoryId, request.headers.get("Authorization")).lifetime_values([customer.id])
        customer.lifetime_value = (values or {}).get(customer.id)
        return _with_etag(customer)

    @blp.doc(operationId="updateTenantCustomer")
    @authorize("customer.write")
    @tenant_first
    @blp.arguments(MobileCustomerUpdateSchema, example=UPDATE_EXAMPLE)
    @blp.response(200, Envelope(CustomerDTOSchema))
    @errors(400, 401, 403, 404, 412)
    def put(self, body, factoryId, customerId):
        """更新客户 (seed 001 §1.2).

        Only the fields sent change (`null` for creditLimit, paymentTerms or rating leaves
        it unchanged). System fields (currentBalance, isActive, createdAt, createdBy,
        updatedAt…) are refused with a pointer to their own endpoint; the customerCode
        cannot change; changing creditLimit here also needs factory_admin or finance_admin
        and is audited like PUT /credit-limit. `If-Match: "<version>"` (the `ETag` of the
        detail) makes it conditional: 412 when the customer changed meanwhile. Emits
        `customer.updated`."""
        customer = handlers.update_customer(commands.UpdateCustomer(
            _ctx(factoryId), customer_id_of(customerId), body, if_match_version()), customer_service().uow())
        return _with_etag(customer, "客户更新成功")

    @blp.doc(operationId="deleteTenantCustomer")
    @authorize("customer.delete")
    @tenant_first
    @blp.response(200, Envelope())
    @errors(400, 401, 403, 404, 409, 412)
    def delete(self, factoryId, customerId):
        """删除客户 (seed 001 §1.3): soft delete.

        Refused (409) while the customer owes money (the message gives the amount,
        `CUSTOMER_HAS_DEBT`) or has an order not yet completed or cancelled (客户有未完成订单，
        无法删除, `CUSTOMER_HAS_OPEN_ORDERS`). History (balances, ratings, orders elsewhere) is
        kept. Emits `customer.deleted`."""
        handlers.delete_customer(commands.DeleteCustomer(_ctx(factoryId), customer_id_of(customerId),
                                                         if_match_version()), customer_service().uow())
        return reply(None, message="客户删除成功")


# --- §2 queries ----------------------------------------------------------------------------

@blp.route("/active")
class ActiveCustomers(MethodView):
    @blp.doc(operationId="listActiveTenantCustomers")
    @authorize("customer.read")
    @tenant_first
    @blp.arguments(LimitQuerySchema, location="query")
    @blp.response(200, Envelope(ActiveCustomerSchema, many=True))
    @errors(400, 401, 403)
    def get(self, query, factoryId):
        """获取活跃客户列表 (seed 001 §2.1): isActive customers by name, short shape.

        Not paged; at most `limit` (default 1000, up to 10000) customers, and the header
        `X-Result-Truncated: true` says when there are more."""
        return _listing(*queries.first_by_name(customer_service().uow(), _ctx(factoryId),
                                               CustomerFilter(status="active"), query["limit"]))


@blp.route("/search")
class SearchCustomers(MethodView):
    @blp.doc(operationId="searchTenantCustomers")
    @authorize("customer.read")
    @tenant_first
    @blp.arguments(SearchQuerySchema, location="query")
    @blp.response(200, Envelope(CustomerDTOSchema, many=True))
    @errors(400, 401, 403)
    def get(self, query, factoryId):
        """搜索客户 (seed 001 §2.2): `keyword` in name, customerCode or contactPerson, any case.

        `%` and `_` in the keyword are literal. Customers named exactly `keyword` come
        first, then the rest by name. At most `limit` results (default 50, up to 200);
        `X-Result-Truncated: true` when more matched."""
        return _listing(*queries.search_customers(customer_service().uow(), _ctx(factoryId), query["keyword"],
                                                  query["limit"]))


@blp.route("/by-type")
class CustomersByType(MethodView):
    @blp.doc(operationId="listTenantCustomersByType")
    @authorize("customer.read")
    @tenant_first
    @blp.arguments(TypeQuerySchema, location="query")
    @blp.response(200, Envelope(CustomerDTOSchema, many=True))
    @errors(400, 401, 403)
    def get(self, query, factoryId):
        """按客户类型获取客户 (seed 001 §2.3): `type` is 企业/个人/经销商/零售 (else 400).

        By name; at most `limit` (default 1000, up to 10000), `X-Result-Truncated` when cut."""
        return _listing(*queries.first_by_name(customer_service().uow(), _ctx(factoryId),
                                               CustomerFilter(type=query["type"]), query["limit"]))


@blp.route("/by-industry")
class CustomersByIndustry(MethodView):
    @blp.doc(operationId="listTenantCustomersByIndustry")
    @authorize("customer.read")
    @tenant_first
    @blp.arguments(IndustryQuerySchema, location="query")
    @blp.response(200, Envelope(CustomerDTOSchema, many=True))
    @errors(400, 401, 403)
    def get(self, query, factoryId):
        """按行业获取客户 (seed 001 §2.4): exact `industry` (e.g. 餐饮).

        By name; at most `limit` (default 1000, up to 10000), `X-Result-Truncated` when cut."""
        return _listing(*queries.first_by_name(customer_service().uow(), _ctx(factoryId),
                                               CustomerFilter(industry_type=query["industry"]), query["limit"]))


# --- §3 status and rating ------------------------------------------------------------------

@blp.route("/<customerId>/status")
class CustomerStatus(MethodView):
    @blp.doc(operationId="setTenantCustomerStatus")
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
        customer = handlers.set_active(commands.SetActive(_ctx(factoryId), customer_id_of(customerId),
                                                          query["isActive"]), customer_service().uow())
        return reply(customer, message="客户状态更新成功")


@blp.route("/<customerId>/rating")
class CustomerRating(MethodView):
    @blp.doc(operationId="setTenantCustomerRating")
    @authorize("customer.write")
    @tenant_first
    @blp.arguments(RatingQuerySchema, location="query")
    @blp.response(200, Envelope(CustomerRatingResultSchema))
    @errors(400, 401, 403, 404)
    def put(self, query, factoryId, customerId):
        """更新客户评级 (seed 001 §3.2): `rating` 1-5, optional `notes` (评级说明).

        ratingNotes becomes `notes` (empty when not sent); each change is written to the
        rating history."""
        customer = handlers.rate_customer(commands.RateCustomer(_ctx(factoryId), customer_id_of(customerId),
                                                                query["rating"], query.get("notes")),
                                          customer_service().uow())
        return reply(customer, message="客户评级更新成功")


# --- §4 money ------------------------------------------------------------------------------

@blp.route("/<customerId>/credit-limit")
class CustomerCreditLimit(MethodView):
    @blp.doc(operationId="setTenantCustomerCreditLimit")
    @authorize("customer.finance")
    @tenant_first
    @blp.arguments(CreditLimitQuerySchema, location="query")
    @blp.response(200, Envelope(CreditLimitResultSchema))
    @errors(400, 401, 403, 404)
    def put(self, query, factoryId, customerId):
        """更新客户信用额度 (seed 001 §4.1): `creditLimit` ≥ 0, at most 2 decimals.

        Audited (old/new limit, balance, operator). When the current debt exceeds the new
        limit the change is kept and `creditWarning` is true with a `warningMessage`."""
        customer = handlers.set_credit_limit(commands.SetCreditLimit(
            _ctx(factoryId), customer_id_of(customerId), query["creditLimit"]), customer_service().uow())
        return reply(customer, message="信用额度更新成功")


@blp.route("/<customerId>/balance")
class CustomerBalance(MethodView):
    @blp.doc(operationId="setTenantCustomerBalance")
    @authorize("customer.finance")
    @tenant_first
    @blp.arguments(BalanceQuerySchema, location="query")
    @blp.response(200, Envelope(BalanceResultSchema))
    @errors(400, 401, 403, 404)
    def put(self, query, factoryId, customerId):
        """更新客户当前余额 (seed 001 §4.2): `balance`, negative = the customer owes.

        Each change is a balance transaction (old, new, amount, operator). `isOverdue`
        once the debt is more than paymentTerms days past the last order (without orders:
        past the day the debt began); `creditWarning` when the debt exceeds the credit
        limit."""
        customer = handlers.set_balance(commands.SetBalance(_ctx(factoryId), customer_id_of(customerId),
                                                            query["balance"]), customer_service().uow())
        return reply(customer, message="客户余额更新成功")


# --- §6 batch ------------------------------------------------------------------------------

@blp.route("/import")
class ImportExcel(MethodView):
    @blp.doc(operationId="importTenantCustomersFromExcel")
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
        10 MB: 413. A file that cannot be within the caps (its sheet declares more rows, or
        it would unpack into more than any sheet of 10000 rows) is refused before it is
        read; reading stops at the first row past the cap."""
        ctx = _ctx(factoryId)
        upload = files["file"]
        sheet = sheets.read_upload(upload.stream, upload.filename)
        outcome = bulk.import_rows(commands.ImportSheetRows(ctx, sheet.valid), customer_service().uow())
        result = sheets.import_result(sheet, outcome, MOBILE_ROWS)
        if result["isFullSuccess"]:
            message = "导入成功"
        elif result["successCount"]:
            message = f"部分导入成功：成功 {result['successCount']} 行，失败 {result['failureCount']} 行"
        else:
            message = f"导入失败：{result['failureCount']} 行均有错误"
        return reply(result, message=message)


@blp.route("/import/json")
class ImportJson(MethodView):
    @blp.doc(operationId="importTenantCustomersFromJson")
    @authorize("customer.write")
    @tenant_first
    @blp.arguments(MobileCustomerRequestSchema(many=True), example=[CREATE_EXAMPLE])
    @blp.response(200, Envelope(CustomerDTOSchema, many=True))
    @errors(400, 401, 403)
    def post(self, body, factoryId):
        """批量导入客户（JSON格式）(seed 001 §6.4): an array of create requests, 1 to 1000.

        All or nothing: any invalid item (format, a code or name taken or repeated) is
        400 with `errors` keyed `<index>.<field>`, and nothing is written. A body that is
        not an array is 400."""
        if not body:
            raise ValidationError("导入列表不能为空", errors={"_schema": ["导入列表不能为空"]})
        if len(body) > MAX_JSON_IMPORT:
            message = f"一次最多导入 {MAX_JSON_IMPORT} 个客户"
            raise ValidationError(message, errors={"_schema": [message]})
        created = imports.import_customers(commands.ImportCustomers(_ctx(factoryId), tuple(body)),
                                           customer_service().uow())
        return reply(created, message=f"成功导入{len(created)}个客户")


@blp.route("/export")
class ExportExcel(MethodView):
    @blp.doc(operationId="exportTenantCustomers")
    @authorize("customer.export")
    @tenant_first
    @blp.response(200, XLSX_RESPONSE, content_type=excel.XLSX_MIME,
                  description="客户列表_YYYYMMDD_HHMMSS.xlsx")
    @errors(401, 403)
    def get(self, factoryId):
        """导出客户列表 (seed 001 §6.2): every live customer of the factory as .xlsx.

        Columns: 客户名称, 客户代码, 客户类型, 行业, 联系人, 联系电话, 邮箱, 地址, 信用额度,
        当前余额, 可用额度, 付款期限, 税号, 评级, 是否启用, 备注, 累计订单数, 累计营收 (order
        figures from order events). The file can be imported again as it is. It is made row
        by row while it is sent (chunked), so memory stays flat and the first bytes leave at
        once for any number of customers; `X-Total-Count` gives the number of customers when
        the export began."""
        count, chunks = queries.export_rows(customer_service().uow(), _ctx(factoryId))
        stamp = _stamp()
        return Response(sheets.export_file(chunks), mimetype=excel.XLSX_MIME, headers={
            "Content-Disposition": _attachment(f"customers_{stamp}.xlsx", f"客户列表_{stamp}.xlsx"),
            "X-Total-Count": str(count),
            "Cache-Control": "no-store",
        })


@blp.route("/export/template")
class ImportTemplate(MethodView):
    @blp.doc(operationId="downloadTenantCustomerImportTemplate")
    @authorize("customer.export")
    @tenant_first
    @blp.response(200, XLSX_RESPONSE, content_type=excel.XLSX_MIME, description="客户导入模板.xlsx")
    @errors(401, 403)
    def get(self, factoryId):
        """下载客户导入模板 (seed 001 §6.3).

        Header row, two sample rows, drop-down lists for 客户类型 and 行业 (and 是否启用,
        评级), and a 填写说明 sheet explaining each field."""
        return Response(excel.template_bytes(), mimetype=excel.XLSX_MIME, headers={
            "Content-Disposition": _attachment("customer_import_template.xlsx", "客户导入模板.xlsx"),
            "Cache-Control": "no-store",
        })


# --- §7 checks -----------------------------------------------------------------------------

@blp.route("/check-code")
class CheckCode(MethodView):
    @blp.doc(operationId="checkTenantCustomerCode")
    @authorize("customer.read")
    @tenant_first
    @blp.arguments(CheckCodeQuerySchema, location="query")
    @blp.response(200, MobileBooleanEnvelopeSchema)
    @errors(400, 401, 403)
    def get(self, query, factoryId):
        """检查客户代码是否存在 (seed 001 §7.1): data true = taken, false = available.

        Codes of deleted customers stay taken."""
        return reply(queries.code_exists(customer_service().uow(), _ctx(factoryId), query["customerCode"]))


@blp.route("/outstanding-balance")
class OutstandingBalance(MethodView):
    @blp.doc(operationId="listTenantCustomersWithOutstandingBalance")
    @authorize("customer.finance")
    @tenant_first
    @blp.arguments(LimitQuerySchema, location="query")
    @blp.response(200, Envelope(OutstandingBalanceSchema, many=True))
    @errors(400, 401, 403)
    def get(self, query, factoryId):
        """获取有欠款的客户 (seed 001 §7.2): currentBalance < 0, largest debt first.

        overdueDays = today - (lastOrderDate + paymentTerms) (a debt without orders counts
        from the day it began), 0 when not overdue; overdueAmount is the whole debt once it
        is overdue, else 0 — the same rule as isOverdue and riskLevel everywhere. At most
        `limit` (default 1000, up to 10000), `X-Result-Truncated` when cut."""
        return _listing(*queries.debtors(customer_service().uow(), _ctx(factoryId), query["limit"]))


# --- the customer's audit trail ---------------------------------------------------------------

def _history_route(path: str, kind: str, item_schema, summary: str, operation_id: str):
    """``GET /{customerId}/<path>``: one kind of the audit trail, seed 001's PageResponse."""
    Page = page_response_schema(item_schema, f"{item_schema.__name__.removesuffix('Schema')}PageResponseSchema")

    class History(MethodView):
        @blp.doc(operationId=operation_id)
        @authorize("customer.history.read")
        @tenant_first
        @blp.arguments(PageQuerySchema, location="query")
        @blp.response(200, Envelope(Page))
        @errors(400, 401, 403, 404)
        def get(self, query, factoryId, customerId):
            items, total = queries.customer_history(customer_service().uow(), _ctx(factoryId),
                                                    customer_id_of(customerId), kind,
                                                    page=query["page"], page_size=query["size"])
            return reply(page_response(items, total, query["page"], query["size"]))

    History.get.__doc__ = summary + """

        `page` from 1, `size` ≤ 100 (default 20), newest first; each entry with its operator
        (`operatorId`, `operatorName`) and time (`changedAt`). A deleted customer's history
        stays readable (seed 001 §1.3); another tenant's or domain's customer is 404."""
    History.__name__ = f"Customer{kind.title().replace('_', '')}History"
    blp.route(f"/<customerId>/{path}")(History)


_history_route("status-history", "status", MobileStatusChangeSchema, "客户状态变更记录 (seed 001 §3.1).",
               "listTenantCustomerStatusHistory")
_history_route("rating-history", "rating", MobileRatingChangeSchema, "客户评级变更记录 (seed 001 §3.2).",
               "listTenantCustomerRatingHistory")
_history_route("credit-limit-changes", "credit_limit", MobileCreditLimitChangeSchema, "客户信用额度变更记录 (seed 001 §4.1).",
               "listTenantCustomerCreditLimitChanges")
_history_route("balance-transactions", "balance", MobileBalanceChangeSchema, "客户余额变动记录 (seed 001 §4.2).",
               "listTenantCustomerBalanceTransactions")
