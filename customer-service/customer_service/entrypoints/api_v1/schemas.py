"""Schemas of the internal /api/v1 customer surface (snake_case, seeds 000/003/004)."""
from __future__ import annotations

import marshmallow as ma
from marshmallow import fields as f

from crm_common.db import utcnow
from crm_common.schemas import BaseSchema, IsoDateTime, Money, in_range, length, one_of, phone

from ...domain import rules


class CustomerFieldsSchema(BaseSchema):
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
    business_domain = f.String(validate=length(1, 64))
    source = f.String(validate=length(1, 32))
    source_ref_id = f.String(validate=length(max_=128), allow_none=True)
    payment_terms = f.Integer(validate=in_range(0, 3650))


class CustomerCreateSchema(CustomerFieldsSchema):
    name = f.String(required=True, validate=length(1, 100))
    customer_code = f.String(validate=length(1, 50))
    status = f.String(validate=one_of(rules.STATUSES, "客户状态"))
    credit_limit = Money(validate=in_range(0, 10**15))
    rating = f.Integer(validate=in_range(1, 5))


class CompanyInSchema(BaseSchema):
    id = f.Integer(validate=in_range(1))
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


class CreateCustomerRequestSchema(BaseSchema):
    customer = f.Nested(CustomerCreateSchema, required=True)
    company = f.Nested(CompanyInSchema, allow_none=True)


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


class CustomerListQuerySchema(BaseSchema):
    keyword = f.String(validate=length(1, 100))
    businessDomain = f.String(validate=length(1, 64))
    business_domain = f.String(validate=length(1, 64))
    status = f.String(validate=one_of(rules.STATUSES, "客户状态"))
    source = f.String(validate=length(1, 32))
    page = f.Integer(load_default=1, validate=in_range(1, 100000))
    page_size = f.Integer(load_default=20, validate=in_range(1, 100))


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
    risk_level = f.Method("get_risk_level")
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

    def get_risk_level(self, customer) -> str:
        return customer.risk_level(utcnow())


class CustomerPageSchema(ma.Schema):
    items = f.List(f.Nested(CustomerSchema))
    total = f.Integer()
    page = f.Integer()
    page_size = f.Integer()
    total_pages = f.Integer()
