"""Schemas of the internal /api/v1 customer surface (snake_case, seeds 000/003/004): requests
load onto the model's field names; responses dump customers with their credit position
(``entrypoints.common.with_position``)."""
from __future__ import annotations

import marshmallow as ma
from marshmallow import fields as f

from crm_common.paging import PageQuerySchema, page_schema
from crm_common.schemas import BaseSchema, ExactMoney, IsoDateTime, Money, in_range, length, one_of, phone

from ...domain import rules
from ..common import NullMeansDefault, RecordId, with_position

MAX_MONEY = 10**15

# Request examples for the OpenAPI document: the seeds' own (seed 000 客户A, seed 003's RB import).
SEED_000_CUSTOMER = {
    "name": "客户A", "type": "company", "value_level": "vip", "status": "active",
    "business_license_number": "91110000123456789X", "industry_type": "信息技术", "company_size": "medium",
    "primary_contact_name": "张三", "primary_contact_phone": "13800138000"}
CREATE_EXAMPLE = {"customer": {**SEED_000_CUSTOMER, "credit_limit": 100000, "source": "RB", "source_ref_id": "RB-10086"},
                  "company": {"company_code": "RB-CO-1", "name": "上海客户A有限公司", "source": "RB",
                              "source_ref_id": "RB-CO-1"}}
UPDATE_EXAMPLE = {"customer_name": "客户A（华东）", "contact_person": "王五", "contact_phone": "13700137000"}
STATUS_EXAMPLE = {"status": "frozen", "reason": "逾期未结清", "operationName": "张三", "operationUid": "u-1"}


class CustomerFieldsSchema(NullMeansDefault, BaseSchema):
    """Fields a caller may give. ``null`` for one that cannot be empty (``type``,
    ``business_domain``, ``source``, ``payment_terms``...) means "the default" on create and
    "unchanged" on update; ``null`` for the others clears them."""
    name = f.String(validate=length(1, 100))
    type = f.String(validate=one_of(rules.CUSTOMER_TYPES, "客户类型"))
    value_level = f.String(validate=one_of(rules.VALUE_LEVELS, "价值等级"), allow_none=True)
    business_license_number = f.String(validate=length(max_=64), allow_none=True)
    industry_type = f.String(validate=length(max_=64), allow_none=True)
    company_size = f.String(validate=one_of(rules.COMPANY_SIZES, "公司规模"), allow_none=True)
    primary_contact_name = f.String(validate=length(max_=64), allow_none=True)
    primary_contact_phone = f.String(validate=phone, allow_none=True)
    email = f.Email(validate=length(max_=254), allow_none=True)
    address = f.String(validate=length(max_=500), allow_none=True)
    tax_number = f.String(validate=length(max_=64), allow_none=True)
    notes = f.String(validate=length(max_=2000), allow_none=True)
    business_domain = f.String(validate=length(1, 64), metadata={"description": "default: the caller's only domain, else DEFAULT"})
    source = f.String(validate=length(1, 32), metadata={"description": "default: manual"})
    source_ref_id = f.String(validate=length(max_=128), allow_none=True)
    payment_terms = f.Integer(strict=True, validate=in_range(0, 3650), metadata={"description": "days, default 30"})


class CustomerCreateSchema(CustomerFieldsSchema):
    name = f.String(required=True, validate=length(1, 100))
    customer_code = f.String(validate=length(1, 50), metadata={
        "description": "unique per tenant; generated with a source prefix when not given (seed 003)"})
    status = f.String(validate=one_of(rules.STATUSES, "客户状态"), metadata={"description": "default: active"})
    credit_limit = ExactMoney(validate=in_range(0, MAX_MONEY), metadata={
        "description": "default 0; at most 2 decimals (more is 400, never rounded); audited"})
    rating = f.Integer(strict=True, validate=in_range(1, 5), metadata={"description": "default 3"})


class CompanyInSchema(NullMeansDefault, BaseSchema):
    id = RecordId()
    company_code = f.String(validate=length(1, 64))
    name = f.String(validate=length(1, 200))
    source = f.String(validate=length(1, 32))
    source_ref_id = f.String(validate=length(1, 128))
    business_license_number = f.String(validate=length(max_=64), allow_none=True)
    industry_type = f.String(validate=length(max_=64), allow_none=True)
    address = f.String(validate=length(max_=500), allow_none=True)
    contact_name = f.String(validate=length(max_=64), allow_none=True)
    contact_phone = f.String(validate=phone, allow_none=True)
    business_domain = f.String(validate=length(1, 64), allow_none=True)


class ExternalSyncInSchema(BaseSchema):
    source = f.String(required=True, validate=length(1, 32))
    remote_id = f.String(required=True, validate=length(1, 128))


class CreateCustomerRequestSchema(BaseSchema):
    """``customer`` + optional ``company`` (upserted by its key in the same transaction) +
    optional ``external_sync: {source, remote_id}`` (or a customer ``source`` other than
    manual with a ``source_ref_id``): the import is audited in external_sync."""
    customer = f.Nested(CustomerCreateSchema, required=True)
    company = f.Nested(CompanyInSchema, allow_none=True)
    external_sync = f.Nested(ExternalSyncInSchema, allow_none=True)


# seed 004's names for the synchronised fields
UPDATE_ALIASES = {"customer_name": "name", "contact_person": "primary_contact_name",
                  "contact_phone": "primary_contact_phone"}


class CustomerUpdateSchema(CustomerFieldsSchema):
    """Partial update. Also takes seed 004's ``customer_name``, ``contact_person``,
    ``contact_phone`` for ``name``, ``primary_contact_name``, ``primary_contact_phone``."""
    customer_name = f.String(validate=length(1, 100))
    contact_person = f.String(validate=length(max_=64), allow_none=True)
    contact_phone = f.String(validate=phone, allow_none=True)

    @ma.post_load
    def merge_aliases(self, data, **_):
        for alias, name in UPDATE_ALIASES.items():
            if alias in data:
                value = data.pop(alias)
                if name in data and data[name] != value:
                    raise ma.ValidationError(f"{alias} 与 {name} 取值冲突", field_name=alias)
                data[name] = value
        if not data:
            raise ma.ValidationError("至少需要提供一个要更新的字段", field_name="_schema")
        return data


class UpdateQuerySchema(BaseSchema):
    auto_sync = f.Boolean(load_default=True, metadata={
        "description": "Copy name/contact changes to linked projects and contracts (seed 004)"})


class StatusChangeSchema(BaseSchema):
    status = f.String(required=True, validate=one_of(rules.STATUSES, "客户状态"))
    reason = f.String(validate=length(max_=500), allow_none=True)
    # Seed 003 names the operator in the body; the operator recorded is always the
    # verified token's (sub, name), so these are accepted for compatibility only.
    operation_name = f.String(validate=length(max_=100), allow_none=True)
    operation_uid = f.String(validate=length(max_=64), allow_none=True)
    operationName = f.String(validate=length(max_=100), allow_none=True)
    operationUid = f.String(validate=length(max_=64), allow_none=True)


class CustomerListQuerySchema(PageQuerySchema, BaseSchema):
    keyword = f.String(validate=length(1, 100), metadata={"description": "Part of the name, code or contact, any case"})
    businessDomain = f.String(validate=length(1, 64))
    business_domain = f.String(validate=length(1, 64))
    status = f.String(validate=one_of(rules.STATUSES, "客户状态"))
    source = f.String(validate=length(1, 32))


class HistoryQuerySchema(BaseSchema):
    page = f.Integer(load_default=1, validate=in_range(1, 1_000_000))
    page_size = f.Integer(load_default=20, validate=in_range(1, 100))


# --- responses ----------------------------------------------------------------------------------

class CompanyBriefSchema(ma.Schema):
    id = f.Integer()
    company_code = f.String(allow_none=True)
    name = f.String()
    source = f.String(allow_none=True)
    source_ref_id = f.String(allow_none=True)


class GroupBriefSchema(ma.Schema):
    id = f.Integer()
    name = f.String()
    business_domain = f.String()


class CustomerSchema(ma.Schema):
    id = f.Integer()
    factory_id = f.String()
    customer_code = f.String()
    name = f.String(allow_none=True)
    type = f.String(allow_none=True)
    value_level = f.String(allow_none=True)
    status = f.String()
    is_active = f.Boolean()
    business_license_number = f.String(allow_none=True)
    industry_type = f.String(allow_none=True)
    company_size = f.String(allow_none=True)
    primary_contact_name = f.String(allow_none=True)
    primary_contact_phone = f.String(allow_none=True)
    email = f.String(allow_none=True)
    address = f.String(allow_none=True)
    tax_number = f.String(allow_none=True)
    notes = f.String(allow_none=True)
    business_domain = f.String()
    source = f.String()
    source_ref_id = f.String(allow_none=True)
    company = f.Nested(CompanyBriefSchema, allow_none=True)
    groups = f.List(f.Nested(GroupBriefSchema))
    credit_limit = Money()
    current_balance = Money()
    available_credit = Money()
    credit_utilization = Money(allow_none=True)
    risk_level = f.String(attribute="position.risk_level", metadata={"enum": list(rules.RISK_LEVELS)})
    is_overdue = f.Boolean(attribute="position.is_overdue")
    overdue_days = f.Integer(attribute="position.overdue_days")
    payment_terms = f.Integer()
    rating = f.Integer()
    rating_notes = f.String(allow_none=True)
    # seed 002: what an external integrator pushed (null for customers created elsewhere)
    user_id = f.String(attribute="external_user_id", allow_none=True)
    bot_id = f.String(allow_none=True)
    nickname = f.String(allow_none=True)
    backup_phone = f.String(allow_none=True)
    wechat = f.String(allow_none=True)
    lead_status = f.Integer(allow_none=True)
    community = f.String(allow_none=True)
    business_type = f.String(allow_none=True)
    room_type = f.String(allow_none=True)
    room_tags = f.String(allow_none=True)
    move_in_date = f.Date(allow_none=True)
    lease_period = f.Integer(allow_none=True)
    price_range = f.String(allow_none=True)
    source_channel = f.String(allow_none=True)
    creator = f.String(allow_none=True)
    internal_notes = f.String(allow_none=True)
    viewing_count = f.Integer()
    total_commission = Money()
    version = f.Integer()
    created_at = IsoDateTime()
    created_by = f.String(allow_none=True)
    created_by_name = f.String(allow_none=True)
    updated_at = IsoDateTime()
    updated_by = f.String(allow_none=True)
    status_changed_at = IsoDateTime(allow_none=True)
    status_changed_by = f.String(allow_none=True)
    status_changed_by_name = f.String(allow_none=True)
    deleted = f.Boolean(attribute="is_deleted", metadata={
        "description": "true for a soft-deleted customer (listed only in incremental sync)"})

    @ma.pre_dump
    def with_credit_position(self, customer, **_):
        return with_position(customer)


CustomerPageSchema = page_schema(CustomerSchema)


class ChangeSchema(ma.Schema):
    """An entry of a customer's audit trail: who, when."""
    customer_id = f.Integer()
    operator_id = f.String(allow_none=True)
    operator_name = f.String(allow_none=True)
    trace_id = f.String(allow_none=True)
    changed_at = IsoDateTime(attribute="at")


class StatusChangeEntrySchema(ChangeSchema):
    from_status = f.String(allow_none=True)
    to_status = f.String()
    reason = f.String(allow_none=True)


class RatingChangeSchema(ChangeSchema):
    old_rating = f.Integer(allow_none=True)
    new_rating = f.Integer()
    notes = f.String(allow_none=True)


class CreditLimitChangeSchema(ChangeSchema):
    old_limit = Money()
    new_limit = Money()
    balance_at_change = Money()
    exceeds_limit = f.Boolean(metadata={"description": "the debt exceeded the new limit (seed 001 §4.1 warning)"})


class BalanceChangeSchema(ChangeSchema):
    old_balance = Money()
    new_balance = Money()
    amount = Money(metadata={"description": "new - old: negative is a charge, positive a payment"})
    kind = f.String(metadata={"enum": ["opening", "adjustment"]})
    note = f.String(allow_none=True)


class RefusalSchema(ma.Schema):
    rule = f.String(metadata={"enum": ["CUSTOMER_INACTIVE", "CUSTOMER_OVERDUE", "CUSTOMER_HIGH_RISK"]})
    message = f.String()
    overridable = f.Boolean(metadata={"description": "an order may still be recorded with an explicit, "
                                                     "recorded override (overdue, high risk); never when inactive"})


class EligibilitySchema(ma.Schema):
    """Whether the customer may get a new order (seed 001 §3.1, §4.2, 信用风险等级)."""
    customer_id = f.Integer(attribute="customer.id")
    eligible = f.Boolean()
    refusals = f.List(f.Nested(RefusalSchema))
    status = f.String(attribute="customer.status", metadata={"enum": list(rules.STATUSES)})
    is_overdue = f.Boolean(attribute="position.is_overdue")
    overdue_days = f.Integer(attribute="position.overdue_days")
    risk_level = f.String(attribute="position.risk_level", metadata={"enum": list(rules.RISK_LEVELS)})
    open_orders = f.Integer(attribute="customer.order_summary.open_orders")
    last_order_date = f.Date(attribute="customer.order_summary.last_order_date", allow_none=True)
