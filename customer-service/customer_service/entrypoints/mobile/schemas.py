"""Schemas of the tenant customer API (seed 001): camelCase on the wire, the model's names
inside (marshmallow ``data_key``), in both directions. Requests load onto the model's
attributes (the type label onto its code, ``isActive`` onto the status); the CustomerDTO
dumps a customer with its credit position and its order figures."""
from __future__ import annotations

import math

import marshmallow as ma
from flask_smorest.fields import Upload
from marshmallow import fields as f

from crm_common.schemas import BaseSchema, ExactMoney, IsoDateTime, Money, in_range, length, one_of, phone
from crm_common.web import flatten_messages

from ...domain import rules
from ...service_layer.queries import Sort
from ..common import ArrayBody, NullMeansDefault, with_position
from ..wording import field_names

TYPE_LABELS = tuple(rules.TYPE_BY_LABEL)
MAX_MONEY = 10 ** 15
LIST_LIMIT_DEFAULT, LIST_LIMIT_MAX = 1000, 10_000
SEARCH_LIMIT_DEFAULT, SEARCH_LIMIT_MAX = 50, 200
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
# The seed's own example (seed 001 §1.1).
CREATE_EXAMPLE = {"name": "上海餐饮有限公司", "customerCode": "C-20251120-001", "type": "企业", "industry": "餐饮",
                  "contactPerson": "张经理", "phoneNumber": "13800138000", "email": "zhangmgr@example.com",
                  "address": "上海市浦东新区", "creditLimit": 100000, "paymentTerms": 30,
                  "taxNumber": "91310000MA1234567", "rating": 4, "notes": "VIP大客户"}
UPDATE_EXAMPLE = {"contactPerson": "王经理", "phoneNumber": "13900139000", "notes": "更换对接人"}


class TypeLabel(f.String):
    """客户类型 as the seed shows it (企业/个人/经销商/零售), stored as its code."""
    default_error_messages = {"label": "客户类型必须是 " + "/".join(TYPE_LABELS) + " 之一"}

    def __init__(self, **kwargs):
        kwargs.setdefault("metadata", {"enum": list(TYPE_LABELS)})
        super().__init__(**kwargs)

    def _deserialize(self, value, attr, data, **kwargs):
        label = super()._deserialize(value, attr, data, **kwargs)
        if label not in rules.TYPE_BY_LABEL:
            raise self.make_error("label")
        return rules.TYPE_BY_LABEL[label]

    def _serialize(self, value, attr, obj, **kwargs):
        return rules.CUSTOMER_TYPES.get(value, value) if value else None


class ActiveFlag(f.Boolean):
    """``isActive`` of the seed, onto the status (true: active, false: inactive)."""

    def _deserialize(self, value, attr, data, **kwargs):
        return "active" if super()._deserialize(value, attr, data, **kwargs) else "inactive"


class _Stripped(ArrayBody, NullMeansDefault, BaseSchema):
    """Trims surrounding whitespace of every string, so ``"  "`` counts as empty."""

    @ma.pre_load
    def strip_strings(self, data, **_):
        if isinstance(data, dict):
            return {k: (v.strip() if isinstance(v, str) else v) for k, v in data.items()}
        return data


# --- requests ----------------------------------------------------------------------------

class MobileCustomerRequestSchema(_Stripped):
    """CreateCustomerRequest of seed 001 §1.1. ``null`` for creditLimit, paymentTerms or
    rating takes the default."""
    name = f.String(required=True, validate=length(1, 100), metadata={"description": "客户名称，工厂内唯一"})
    customer_code = f.String(data_key="customerCode", required=True, validate=length(1, 50),
                             metadata={"description": "客户代码，工厂内唯一"})
    type = TypeLabel(required=True)
    industry_type = f.String(data_key="industry", validate=length(max_=64), allow_none=True)
    primary_contact_name = f.String(data_key="contactPerson", required=True, validate=length(1, 64))
    primary_contact_phone = f.String(data_key="phoneNumber", required=True, validate=phone,
                                     metadata={"description": "11位手机号或固话"})
    email = f.Email(validate=length(max_=254), allow_none=True)
    address = f.String(validate=length(max_=500), allow_none=True)
    credit_limit = ExactMoney(data_key="creditLimit", validate=in_range(0, MAX_MONEY),
                              metadata={"description": "信用额度，默认 0；最多 2 位小数"})
    payment_terms = f.Integer(data_key="paymentTerms", strict=True, validate=in_range(0, 3650),
                              metadata={"description": "付款期限（天），默认 30"})
    tax_number = f.String(data_key="taxNumber", validate=length(max_=64), allow_none=True)
    rating = f.Integer(strict=True, validate=in_range(1, 5), metadata={"description": "初始评级，默认 3"})
    notes = f.String(validate=length(max_=2000), allow_none=True)


class MobileCustomerUpdateSchema(_Stripped):
    """Seed 001 §1.2: the create request's fields, each optional; system fields refused."""
    name = f.String(validate=length(1, 100))
    customer_code = f.String(data_key="customerCode", validate=length(1, 50),
                             metadata={"description": "不可修改；与当前值相同时忽略"})
    type = TypeLabel()
    industry_type = f.String(data_key="industry", validate=length(max_=64), allow_none=True)
    primary_contact_name = f.String(data_key="contactPerson", validate=length(1, 64))
    primary_contact_phone = f.String(data_key="phoneNumber", validate=phone)
    email = f.Email(validate=length(max_=254), allow_none=True)
    address = f.String(validate=length(max_=500), allow_none=True)
    credit_limit = ExactMoney(data_key="creditLimit", validate=in_range(0, MAX_MONEY),
                              metadata={"description": "需要工厂管理员或财务管理员；最多 2 位小数"})
    payment_terms = f.Integer(data_key="paymentTerms", strict=True, validate=in_range(0, 3650))
    tax_number = f.String(data_key="taxNumber", validate=length(max_=64), allow_none=True)
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
    current_balance = ExactMoney(data_key="currentBalance", validate=in_range(-MAX_MONEY, MAX_MONEY))
    status = ActiveFlag(data_key="isActive")


_IMPORT_ROW = ImportRowSchema()


def validate_import_row(data: dict) -> tuple[dict, dict[str, list[str]]]:
    """An Excel row (camelCase) obeys the create request's rules: (fields, errors)."""
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


# API field name -> customer attribute: the only fields a list may be sorted on.
SORT_FIELDS: dict[str, str] = {
    "createdAt": "created_at", "updatedAt": "updated_at", "name": "name", "customerCode": "customer_code",
    "type": "type", "industry": "industry_type", "contactPerson": "primary_contact_name", "rating": "rating",
    "creditLimit": "credit_limit", "currentBalance": "current_balance", "availableCredit": "available_credit",
    "paymentTerms": "payment_terms",
}


class ListQuerySchema(BaseSchema):
    page = f.Integer(load_default=1, validate=in_range(1, 1_000_000), metadata={"description": "页码，从 1 开始"})
    size = f.Integer(load_default=10, validate=in_range(1, 100), metadata={"description": "每页数量，默认 10，最大 100"})
    sortBy = f.String(load_default="createdAt", validate=one_of(SORT_FIELDS, "排序字段"))
    sortOrder = f.String(load_default="desc", metadata={"enum": ["asc", "desc"]})

    @ma.post_load
    def sort(self, data, **_):
        order = data.pop("sortOrder").lower()
        if order not in ("asc", "desc"):
            raise ma.ValidationError("排序方向必须是 asc 或 desc", field_name="sortOrder")
        data["sort"] = Sort(SORT_FIELDS[data.pop("sortBy")], order == "desc")
        return data


class PageQuerySchema(BaseSchema):
    page = f.Integer(load_default=1, validate=in_range(1, 1_000_000), metadata={"description": "页码，从 1 开始"})
    size = f.Integer(load_default=20, validate=in_range(1, 100), metadata={"description": "每页数量，默认 20，最大 100"})


class LimitQuerySchema(BaseSchema):
    limit = _limit(LIST_LIMIT_DEFAULT, LIST_LIMIT_MAX)


class SearchQuerySchema(BaseSchema):
    keyword = f.String(required=True, validate=length(1, 100), metadata={"description": "名称、代码或联系人的一部分，不区分大小写"})
    limit = _limit(SEARCH_LIMIT_DEFAULT, SEARCH_LIMIT_MAX)

    @ma.pre_load
    def strip(self, data, **_):
        data = dict(data)
        if isinstance(data.get("keyword"), str):
            data["keyword"] = data["keyword"].strip()
        return data


class TypeQuerySchema(BaseSchema):
    type = TypeLabel(required=True)
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
    creditLimit = ExactMoney(required=True, validate=in_range(0, MAX_MONEY), metadata={"description": "最多 2 位小数"})


class BalanceQuerySchema(BaseSchema):
    balance = ExactMoney(required=True, validate=in_range(-MAX_MONEY, MAX_MONEY),
                         metadata={"description": "当前余额，负数表示欠款；最多 2 位小数"})


class CheckCodeQuerySchema(BaseSchema):
    customerCode = f.String(required=True, validate=length(1, 50))


# --- responses ---------------------------------------------------------------------------

def money_text(amount) -> str:
    return f"{amount:,.2f}"


class CustomerDTOSchema(ma.Schema):
    """CustomerDTO of seed 001, computed fields included: credit (availableCredit,
    creditUtilization, creditWarning), overdue and risk as of today, and the order figures
    (from order events; customerLifetimeValue, analytics' estimate, on the detail only)."""
    id = f.Function(lambda c: str(c.id))
    customer_code = f.String(data_key="customerCode")
    name = f.String(allow_none=True)
    type = TypeLabel(allow_none=True)
    industry_type = f.String(data_key="industry", allow_none=True)
    primary_contact_name = f.String(data_key="contactPerson", allow_none=True)
    primary_contact_phone = f.String(data_key="phoneNumber", allow_none=True)
    email = f.String(allow_none=True)
    address = f.String(allow_none=True)
    credit_limit = Money(data_key="creditLimit")
    current_balance = Money(data_key="currentBalance", metadata={"description": "负数表示欠款"})
    available_credit = Money(data_key="availableCredit", metadata={"description": "creditLimit - abs(currentBalance)"})
    credit_utilization = Money(data_key="creditUtilization", allow_none=True,
                               metadata={"description": "信用额度使用率 (%)，无额度时为 null"})
    exceeds_credit_limit = f.Boolean(data_key="creditWarning", attribute="position.exceeds_credit_limit",
                                     metadata={"description": "当前欠款超过信用额度（风险预警）"})
    warning_message = f.Method("warning", data_key="warningMessage", allow_none=True)
    payment_terms = f.Integer(data_key="paymentTerms")
    tax_number = f.String(data_key="taxNumber", allow_none=True)
    rating = f.Integer()
    rating_notes = f.String(data_key="ratingNotes", allow_none=True)
    is_active = f.Boolean(data_key="isActive")
    status = f.String(metadata={"enum": list(rules.STATUSES)})
    notes = f.String(allow_none=True)
    business_domain = f.String(data_key="businessDomain")
    risk_level = f.String(data_key="riskLevel", attribute="position.risk_level",
                          metadata={"enum": list(rules.RISK_LEVELS)})
    risk_level_label = f.Function(lambda c: rules.RISK_LEVELS[c.position.risk_level]["label"], data_key="riskLevelLabel")
    risk_level_color = f.Function(lambda c: rules.RISK_LEVELS[c.position.risk_level]["color"], data_key="riskLevelColor")
    is_overdue = f.Boolean(data_key="isOverdue", attribute="position.is_overdue", metadata={
        "description": "欠款且已超过最后订单日期 + paymentTerms 天（无订单时从欠款产生之日起算）"})
    overdue_days = f.Integer(data_key="overdueDays", attribute="position.overdue_days",
                             metadata={"description": "today - (lastOrderDate + paymentTerms)"})
    last_payment_date = f.Date(data_key="lastPaymentDate", allow_none=True)
    total_orders = f.Integer(data_key="totalOrders", attribute="order_summary.total_orders",
                             metadata={"description": "历史订单数（不含已取消）"})
    total_revenue = Money(data_key="totalRevenue", attribute="order_summary.total_revenue",
                          metadata={"description": "历史总营收（不含已取消）"})
    last_order_date = f.Date(data_key="lastOrderDate", attribute="order_summary.last_order_date", allow_none=True)
    customer_lifetime_value = Money(data_key="customerLifetimeValue", attribute="lifetime_value", allow_none=True,
                                    metadata={"description": "客户生命周期价值（analytics 预估；仅详情，无法获取时为 null）"})
    created_at = IsoDateTime(data_key="createdAt")
    created_by = f.String(data_key="createdBy", allow_none=True)
    updated_at = IsoDateTime(data_key="updatedAt")
    version = f.Integer(metadata={"description": "乐观锁版本；PUT 时可通过 If-Match 传回"})

    @ma.pre_dump
    def with_credit_position(self, customer, **_):
        return with_position(customer)

    def warning(self, c) -> str | None:
        """Seed 001 §4 风险预警: the debt exceeds the credit limit."""
        if not c.position.exceeds_credit_limit:
            return None
        return (f"当前欠款 {money_text(rules.debt(c.current_balance))} 元已超过信用额度 "
                f"{money_text(c.credit_limit)} 元，请关注回款风险")


def dto_part(name: str, *fields: str) -> type[CustomerDTOSchema]:
    """A schema of some of the CustomerDTO's fields (the short answers of §2-§4)."""
    return type(name, (CustomerDTOSchema,), {"Meta": type("Meta", (), {"fields": fields})})


ActiveCustomerSchema = dto_part("ActiveCustomerSchema", "id", "name", "customer_code", "is_active", "rating")
CustomerStatusResultSchema = dto_part("CustomerStatusResultSchema", "id", "is_active", "status", "updated_at")
CustomerRatingResultSchema = dto_part("CustomerRatingResultSchema", "id", "rating", "rating_notes", "updated_at")
CreditLimitResultSchema = dto_part("CreditLimitResultSchema", "id", "credit_limit", "current_balance",
                                   "available_credit", "exceeds_credit_limit", "warning_message", "updated_at")
BalanceResultSchema = dto_part("BalanceResultSchema", "id", "credit_limit", "current_balance", "available_credit",
                               "exceeds_credit_limit", "warning_message", "is_overdue", "overdue_days", "updated_at")


class OutstandingBalanceSchema(CustomerDTOSchema):
    """Seed 001 §7.2: a debtor with the overdue part of its debt."""
    overdue_amount = Money(data_key="overdueAmount", attribute="position.overdue_amount",
                           metadata={"description": "逾期金额：逾期时为全部欠款"})

    class Meta:
        fields = ("id", "name", "customer_code", "current_balance", "credit_limit", "overdue_amount", "overdue_days",
                  "last_payment_date", "primary_contact_name", "primary_contact_phone", "payment_terms",
                  "last_order_date")


def page_response(items, total: int, page: int, size: int) -> dict:
    """PageResponse of seed 001 §1.5 (``page`` counts from 1)."""
    total_pages = math.ceil(total / size) if total > 0 else 0
    return {"content": items, "totalElements": total, "totalPages": total_pages, "currentPage": page,
            "pageSize": size, "hasNext": page < total_pages, "hasPrevious": page > 1}


def page_response_schema(item_schema: type[ma.Schema], name: str) -> type[ma.Schema]:
    return type(name, (ma.Schema,), {
        "content": f.List(f.Nested(item_schema)), "totalElements": f.Integer(), "totalPages": f.Integer(),
        "currentPage": f.Integer(), "pageSize": f.Integer(), "hasNext": f.Boolean(), "hasPrevious": f.Boolean()})


CustomerPageResponseSchema = page_response_schema(CustomerDTOSchema, "CustomerPageResponseSchema")


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


# --- the audit trail (camelCase) -----------------------------------------------------------------

class MobileChangeSchema(ma.Schema):
    customer_id = f.Function(lambda e: str(e.customer_id), data_key="customerId")
    operator_id = f.String(data_key="operatorId", allow_none=True)
    operator_name = f.String(data_key="operatorName", allow_none=True)
    changed_at = IsoDateTime(data_key="changedAt", attribute="at")


class MobileStatusChangeSchema(MobileChangeSchema):
    from_status = f.String(data_key="fromStatus", allow_none=True)
    to_status = f.String(data_key="toStatus")
    reason = f.String(allow_none=True)


class MobileRatingChangeSchema(MobileChangeSchema):
    old_rating = f.Integer(data_key="oldRating", allow_none=True)
    new_rating = f.Integer(data_key="newRating")
    notes = f.String(allow_none=True)


class MobileCreditLimitChangeSchema(MobileChangeSchema):
    old_limit = Money(data_key="oldLimit")
    new_limit = Money(data_key="newLimit")
    balance_at_change = Money(data_key="balanceAtChange")
    exceeds_limit = f.Boolean(data_key="exceedsLimit")


class MobileBalanceChangeSchema(MobileChangeSchema):
    old_balance = Money(data_key="oldBalance")
    new_balance = Money(data_key="newBalance")
    amount = Money(metadata={"description": "变动金额：负数为新增欠款，正数为回款"})
    kind = f.String(metadata={"enum": ["opening", "adjustment"]})
    note = f.String(allow_none=True)


# Model attribute -> this surface's name, for refusals naming a field.
FIELD_NAMES = {**field_names(ImportRowSchema), **field_names(CustomerDTOSchema)}
