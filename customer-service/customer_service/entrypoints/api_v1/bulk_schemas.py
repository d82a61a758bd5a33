"""Schemas of the bulk customer API (seed 000). Records are documented with the
customer create/update schemas but loaded raw, so that each one is validated alone and
a bad record fails by itself instead of failing the request."""
from __future__ import annotations

import marshmallow as ma
from marshmallow import fields as f

from crm_common.schemas import BaseSchema, one_of

from ...domain import bulk as rules
from ...domain import rules as customer_rules
from ..common import RecordId
from .schemas import SEED_000_CUSTOMER, CustomerCreateSchema, CustomerSchema, CustomerUpdateSchema

NO_CUSTOMERS = "必须提供至少一个客户"
NO_IDS = "必须提供至少一个客户ID"
RECORD_NEEDS_ID = "每个客户记录必须包含ID"
TOO_MANY = f"每次批量操作最多 {rules.BULK_LIMIT} 条记录"

# The seed's own request examples (seed 000).
CREATE_EXAMPLE = {"customers": [SEED_000_CUSTOMER, {
    "name": "客户B", "type": "company", "value_level": "normal", "status": "active",
    "business_license_number": "91110000123456788X", "industry_type": "制造业", "company_size": "large",
    "primary_contact_name": "李四", "primary_contact_phone": "13900139000"}]}
UPDATE_EXAMPLE = {"customers": [{"id": 9, "value_level": "important", "primary_contact_phone": "13800138001"},
                                {"id": 10, "status": "inactive"}]}
DELETE_EXAMPLE = {"ids": [9, 10, 11]}


def batch_size(empty_message: str):
    def check(value):
        if not value:
            raise ma.ValidationError(empty_message)
        if len(value) > rules.BULK_LIMIT:
            raise ma.ValidationError(f"{TOO_MANY}，本次提交 {len(value)} 条")
    return check


class RawRecord(f.Nested):
    """Documented as the nested schema; loads the object as sent (checked to be one)."""

    def _deserialize(self, value, attr, data, partial=None, **kwargs):
        if not isinstance(value, dict):
            raise ma.ValidationError("每个客户记录应为对象")
        return value


def _records(schema, empty_message: str):
    return f.List(RawRecord(schema), required=True, validate=batch_size(empty_message),
                  error_messages={"required": empty_message, "null": empty_message,
                                  "invalid": "customers 应为数组"},
                  metadata={"description": f"1-{rules.BULK_LIMIT} records, each processed alone"})


class BulkCreateRequestSchema(BaseSchema):
    customers = _records(CustomerCreateSchema, NO_CUSTOMERS)


class BulkUpdateFieldsSchema(CustomerUpdateSchema):
    """What a bulk-update record may change (besides its ``id``): the update fields plus
    ``status``, which follows the status state machine."""
    status = f.String(validate=one_of(customer_rules.STATUSES, "客户状态"))


class BulkUpdateRecordSchema(BulkUpdateFieldsSchema):
    id = RecordId(required=True)


class BulkUpdateRequestSchema(BaseSchema):
    customers = _records(BulkUpdateRecordSchema, NO_CUSTOMERS)

    @ma.validates_schema
    def every_record_has_an_id(self, data, **_):
        if any(not rules.is_record_id(record.get("id")) for record in data.get("customers") or []):
            raise ma.ValidationError(RECORD_NEEDS_ID, field_name="id")


class BulkDeleteRequestSchema(BaseSchema):
    ids = f.List(RecordId(), required=True, validate=batch_size(NO_IDS),
                 error_messages={"required": NO_IDS, "null": NO_IDS, "invalid": "ids 应为数组"})


class BulkQuerySchema(BaseSchema):
    dry_run = f.Boolean(load_default=False, metadata={
        "description": "Report what would happen (200, `dry_run: true`, the would-be customers without ids) "
                       "and write nothing"})


class IdempotencyHeaderSchema(ma.Schema):
    class Meta:
        unknown = ma.EXCLUDE

    idempotency_key = f.String(data_key="Idempotency-Key", load_default=None, metadata={
        "description": "Replays the first response of the same user's same request within 24 h; "
                       "another body, or another user, with the same key is refused with 422"})


# --- responses ----------------------------------------------------------------------------

class FailedRecordSchema(ma.Schema):
    data = f.Dict(metadata={"description": "The record as sent"})
    errors = f.Dict(keys=f.String(), values=f.List(f.String()))


class FailedIdSchema(ma.Schema):
    id = f.Integer()
    error = f.String()


_DRY_RUN = f.Boolean(metadata={"description": "Present (true) on a dry run only: nothing was written"})


class BulkCreateResultSchema(ma.Schema):
    created_count = f.Integer()
    failed_count = f.Integer()
    created_customers = f.List(f.Nested(CustomerSchema), metadata={
        "description": "On a dry run: the customers that would be created, without `id` (and without "
                       "`customer_code` when it would be generated)"})
    failed_customers = f.List(f.Nested(FailedRecordSchema))
    dry_run = _DRY_RUN


class BulkUpdateResultSchema(ma.Schema):
    updated_count = f.Integer()
    failed_count = f.Integer()
    updated_customers = f.List(f.Nested(CustomerSchema))
    failed_customers = f.List(f.Nested(FailedRecordSchema))
    dry_run = _DRY_RUN


class BulkDeleteResultSchema(ma.Schema):
    deleted_count = f.Integer()
    failed_count = f.Integer()
    deleted_ids = f.List(f.Integer())
    failed_ids = f.List(f.Nested(FailedIdSchema))
    dry_run = _DRY_RUN
