"""Schemas of the tenant customer API (seed 001): camelCase requests as the seed
documents them, and the DTOs it answers with. A customer is turned into its DTO once,
by ``mobile_customers.customer_view``; the response schemas only pick fields from it."""
from __future__ import annotations

import marshmallow as ma
from flask_smorest.fields import Upload
from marshmallow import fields as f

from crm_common.schemas import BaseSchema, IsoDateTime, Money, in_range, length, one_of, phone
from crm_common.web import flatten_messages

from ...domain import listing, rules
from ...domain.model import Customer
from ...service_layer import mobile_customers as svc
from ...service_layer.mobile_customers import LIST_LIMIT_DEFAULT, LIST_LIMIT_MAX, SEARCH_LIMIT_DEFAULT, SEARCH_LIMIT_MAX

TYPE_LABELS = tuple(rules.TYPE_BY_LABEL)
MAX_MONEY = 10 ** 15
SYSTEM_FIELDS = {
    "id": "id 由系统生成，不可修改",
    "currentBalance": "currentBalance 是系统字段，请使用 PUT /{customerId}/balance 修改",
    "availableCredit": "availableCredit 由系统计算，不可修改",
    "isActive": "isActive 请使用 PUT /{customerId}/status 修改",
    "createdAt": "createdAt 是系统字段，不可修改",
    "createdBy": "createdBy 是系统字段，不可修改",
    "updatedAt": "updatedAt 是系统字段，不可修改",
    "factoryId": "factoryId 由路径决定，不可修改",
    "deleted": "deleted 请使用 DELETE 删除客户",
}


class _Stripped(BaseSchema):
    """Trims surrounding whitespace of every string, so ``"  "`` counts as empty."""

    @ma.pre_load
    def strip_strings(self, data, **_):
        if isinstance(data, dict):
            return {k: (v.strip() if isinstance(v, str) else v) for k, v in data.items()}
        return data


# --- requests ----------------------------------------------------------------------------

class MobileCustomerRequestSchema(_Stripped):
    """CreateCustomerRequest of seed 001 §1.1."""
    name = f.String(required=True, validate=length(1, 100), metadata={"description": "客户名称，工厂内唯一"})
    customerCode = f.String(required=True, validate=length(1, 50), metadata={"description": "客户代码，工厂内唯一"})
    type = f.String(required=True, validate=one_of(TYPE_LABELS, "客户类型"), metadata={"enum": list(TYPE_LABELS)})
    industry = f.String(validate=length(max_=64), allow_none=True)
    contactPerson = f.String(required=True, validate=length(1, 64))
    phoneNumber = f.String(required=True, validate=phone, metadata={"description": "11位手机号或固话"})
    email = f.Email(validate=length(max_=254), allow_none=True)
    address = f.String(validate=length(max_=500), allow_none=True)
    creditLimit = Money(validate=in_range(0, MAX_MONEY), metadata={"description": "信用额度，默认 0"})
    paymentTerms = f.Integer(strict=True, validate=in_range(0, 3650), metadata={"description": "付款期限（天），默认 30"})
    taxNumber = f.String(validate=length(max_=64), allow_none=True)
    rating = f.Integer(strict=True, validate=in_range(1, 5), metadata={"description": "初始评级，默认 3"})
    notes = f.String(validate=length(max_=2000), allow_none=True)


class MobileCustomerUpdateSchema(_Stripped):
    """Seed 001 §1.2: the create request's fields, each optional; system fields refused."""
    name = f.String(validate=length(1, 100))
    customerCode = f.String(validate=length(1, 50), metadata={"description": "不可修改；与当前值相同时忽略"})
    type = f.String(validate=one_of(TYPE_LABELS, "客户类型"), metadata={"enum": list(TYPE_LABELS)})
    industry = f.String(validate=length(max_=64), allow_none=True)
    contactPerson = f.String(validate=length(1, 64))
    phoneNumber = f.String(validate=phone)
    email = f.Email(validate=length(max_=254), allow_none=True)
    address = f.String(validate=length(max_=500), allow_none=True)
    creditLimit = Money(validate=in_range(0, MAX_MONEY), metadata={"description": "需要工厂管理员或财务管理员"})
    paymentTerms = f.Integer(strict=True, validate=in_range(0, 3650))
    taxNumber = f.String(validate=length(max_=64), allow_none=True)
    rating = f.Integer(strict=True, validate=in_range(1, 5))
    notes = f.String(validate=length(max_=2000), allow_none=True)

    @ma.pre_load
    def refuse_system_fields(self, data, **_):
        if isinstance(data, dict):
            refused = {k: [m] for k, m in SYSTEM_FIELDS.items() if k in data}
            if refused:
                raise ma.ValidationError(refused)
        return data

    @ma.validates_schema
    def not_empty(self, data, **_):
        if not data:
            raise ma.ValidationError("至少需要提供一个要更新的字段", field_name="_schema")


class ImportRowSchema(MobileCustomerRequestSchema):
    """One Excel row: the create request plus the export's 当前余额 and 是否启用."""
    currentBalance = Money(validate=in_range(-MAX_MONEY, MAX_MONEY))
    isActive = f.Boolean()


_IMPORT_ROW = ImportRowSchema()


def validate_import_row(data: dict) -> tuple[dict, dict[str, list[str]]]:
    """The import's validator: an Excel row obeys the create request's rules."""
    try:
        return _IMPORT_ROW.load(data), {}
    except ma.ValidationError as exc:
        return {}, flatten_messages(exc.messages)


class MobileImportFileSchema(ma.Schema):
    class Meta:
        unknown = ma.EXCLUDE

    file = Upload(required=True, metadata={"description": "Excel 文件（.xlsx，最大 10MB）"})


def _limit(default: int, maximum: int):
    return f.Integer(load_default=default, validate=in_range(1, maximum),
                     metadata={"description": f"最多返回条数（默认 {default}，最大 {maximum}）"})


class ListQuerySchema(BaseSchema):
    page = f.Integer(load_default=1, validate=in_range(1, 1_000_000), metadata={"description": "页码，从 1 开始"})
    size = f.Integer(load_default=10, validate=in_range(1, 100), metadata={"description": "每页数量，默认 10，最大 100"})
    sortBy = f.String(load_default=listing.DEFAULT_SORT_BY, validate=one_of(listing.SORT_FIELDS, "排序字段"))
    sortOrder = f.String(load_default=listing.DEFAULT_SORT_ORDER, validate=one_of(listing.SORT_ORDERS, "排序方向"))


class LimitQuerySchema(BaseSchema):
    limit = _limit(LIST_LIMIT_DEFAULT, LIST_LIMIT_MAX)


class SearchQuerySchema(BaseSchema):
    keyword = f.String(required=True, validate=length(1, 100))
    limit = _limit(SEARCH_LIMIT_DEFAULT, SEARCH_LIMIT_MAX)

    @ma.pre_load
    def strip(self, data, **_):
        data = dict(data)
        if isinstance(data.get("keyword"), str):
            data["keyword"] = data["keyword"].strip()
        return data


class TypeQuerySchema(BaseSchema):
    type = f.String(required=True, validate=one_of(TYPE_LABELS, "客户类型"), metadata={"enum": list(TYPE_LABELS)})
    limit = _limit(LIST_LIMIT_DEFAULT, LIST_LIMIT_MAX)


class IndustryQuerySchema(BaseSchema):
    industry = f.String(required=True, validate=length(1, 64))
    limit = _limit(LIST_LIMIT_DEFAULT, LIST_LIMIT_MAX)


class StatusQuerySchema(BaseSchema):
    isActive = f.Boolean(required=True, metadata={"description": "true 启用 / false 停用"})


class RatingQuerySchema(BaseSchema):
    rating = f.Integer(required=True, validate=in_range(1, 5))
    notes = f.String(validate=length(max_=500), metadata={"description": "评级说明"})


class CreditLimitQuerySchema(BaseSchema):
    creditLimit = Money(required=True, validate=in_range(0, MAX_MONEY))


class BalanceQuerySchema(BaseSchema):
    balance = Money(required=True, validate=in_range(-MAX_MONEY, MAX_MONEY),
                    metadata={"description": "当前余额，负数表示欠款"})


class CheckCodeQuerySchema(BaseSchema):
    customerCode = f.String(required=True, validate=length(1, 50))


# --- responses ---------------------------------------------------------------------------

class _CustomerView(ma.Schema):
    """Dumps from ``customer_view`` of a customer (or from a ready dict)."""

    @ma.pre_dump
    def to_view(self, obj, **_):
        return svc.customer_view(obj) if isinstance(obj, Customer) else obj


class CustomerDTOSchema(_CustomerView):
    """CustomerDTO of seed 001 (computed fields included). Order figures (totalOrders,
    totalRevenue, lastOrderDate, customerLifetimeValue) are filled on the detail and the
    export from analytics-service; elsewhere, or when it cannot answer, they are null."""
    id = f.String()
    customerCode = f.String()
    name = f.String(allow_none=True)
    type = f.String(allow_none=True, metadata={"enum": list(TYPE_LABELS)})
    industry = f.String(allow_none=True)
    contactPerson = f.String(allow_none=True)
    phoneNumber = f.String(allow_none=True)
    email = f.String(allow_none=True)
    address = f.String(allow_none=True)
    creditLimit = Money()
    currentBalance = Money(metadata={"description": "负数表示欠款"})
    availableCredit = Money(metadata={"description": "creditLimit - abs(currentBalance)"})
    creditUtilization = Money(allow_none=True, metadata={"description": "信用额度使用率 (%)，无额度时为 null"})
    paymentTerms = f.Integer()
    taxNumber = f.String(allow_none=True)
    rating = f.Integer()
    ratingNotes = f.String(allow_none=True)
    isActive = f.Boolean()
    status = f.String(metadata={"enum": list(rules.STATUSES)})
    notes = f.String(allow_none=True)
    businessDomain = f.String()
    riskLevel = f.String(metadata={"enum": list(rules.RISK_LEVELS)})
    riskLevelLabel = f.String()
    riskLevelColor = f.String()
    isOverdue = f.Boolean()
    overdueDays = f.Integer()
    lastPaymentDate = f.Date(allow_none=True)
    totalOrders = f.Integer(allow_none=True)
    totalRevenue = Money(allow_none=True)
    lastOrderDate = f.Date(allow_none=True)
    customerLifetimeValue = Money(allow_none=True)
    createdAt = IsoDateTime()
    createdBy = f.String(allow_none=True)
    updatedAt = IsoDateTime()
    version = f.Integer()


class CustomerPageResponseSchema(ma.Schema):
    """PageResponse of seed 001 §1.5."""
    content = f.List(f.Nested(CustomerDTOSchema))
    totalElements = f.Integer()
    totalPages = f.Integer()
    currentPage = f.Integer()
    pageSize = f.Integer()
    hasNext = f.Boolean()
    hasPrevious = f.Boolean()


class ActiveCustomerSchema(_CustomerView):
    id = f.String()
    name = f.String(allow_none=True)
    customerCode = f.String()
    isActive = f.Boolean()
    rating = f.Integer()


class CustomerStatusResultSchema(_CustomerView):
    id = f.String()
    isActive = f.Boolean()
    status = f.String(metadata={"enum": list(rules.STATUSES)})
    updatedAt = IsoDateTime()


class CustomerRatingResultSchema(_CustomerView):
    id = f.String()
    rating = f.Integer()
    ratingNotes = f.String(allow_none=True)
    updatedAt = IsoDateTime()


class CreditLimitResultSchema(_CustomerView):
    id = f.String()
    creditLimit = Money()
    currentBalance = Money()
    availableCredit = Money()
    creditWarning = f.Boolean(metadata={"description": "当前欠款超过信用额度（风险预警）"})
    warningMessage = f.String(allow_none=True)
    updatedAt = IsoDateTime()


class BalanceResultSchema(CreditLimitResultSchema):
    isOverdue = f.Boolean()
    overdueDays = f.Integer()


class OutstandingBalanceSchema(ma.Schema):
    """Seed 001 §7.2: a debtor with the part of its debt past the payment terms."""
    id = f.String()
    name = f.String(allow_none=True)
    customerCode = f.String()
    currentBalance = Money()
    creditLimit = Money()
    overdueAmount = Money(metadata={"description": "已超过付款期限的欠款"})
    overdueDays = f.Integer(metadata={"description": "最早一笔未结欠款超过付款期限的天数"})
    lastPaymentDate = f.Date(allow_none=True)
    contactPerson = f.String(allow_none=True)
    phoneNumber = f.String(allow_none=True)
    paymentTerms = f.Integer()

    @ma.pre_dump
    def to_view(self, debtor, **_):
        view = svc.customer_view(debtor)
        view.update(overdueAmount=debtor.overdue.amount, overdueDays=debtor.overdue.days)
        return view


class ImportFailureSchema(ma.Schema):
    rowNumber = f.Integer(metadata={"description": "Excel 中的行号（表头为第 1 行）"})
    data = f.Dict(keys=f.String(), values=f.Raw(allow_none=True), metadata={"description": "原始数据"})
    errorMessage = f.String()


class ImportResultSchema(ma.Schema):
    totalRows = f.Integer()
    successCount = f.Integer()
    failureCount = f.Integer()
    isFullSuccess = f.Boolean()
    successRecords = f.List(f.Nested(CustomerDTOSchema))
    failureRecords = f.List(f.Nested(ImportFailureSchema))


class MobileBooleanEnvelopeSchema(ma.Schema):
    code = f.Integer()
    message = f.String(allow_none=True)
    data = f.Boolean()
