"""Request and response schemas of sync-worker's /api/v1 surface (snake_case, seed 004)."""
from __future__ import annotations

import marshmallow as ma
from marshmallow import fields as f
from marshmallow import validate

from crm_common.envelopes import V1ErrorSchema
from crm_common.paging import PageQuerySchema, page_schema
from crm_common.schemas import BaseSchema, IsoDateTime, in_range, length, one_of

from ..domain import rules
from ..domain.commands import Paging

MAX_BATCH = 100


def _at_least_one(data: dict) -> dict:
    if not data:
        raise ma.ValidationError("至少需要提供一个要更新的字段", field_name="_schema")
    return data


class ListQuerySchema(BaseSchema, PageQuerySchema):
    """``page``/``page_size``, or incremental sync with ``updated_since`` / ``cursor``."""


def paging_of(query: dict) -> Paging:
    return Paging(page=query["page"], page_size=query["page_size"], updated_since=query["updated_since"],
                  cursor=query["cursor"])


class _AuditedSchema(ma.Schema):
    created_at = IsoDateTime()
    created_by = f.String(allow_none=True)
    created_by_name = f.String(allow_none=True)
    updated_at = IsoDateTime()
    updated_by = f.String(allow_none=True)
    updated_by_name = f.String(allow_none=True)
    customer_synced_at = IsoDateTime(allow_none=True, metadata={
        "description": "When the customer fields were last copied from the customer"})
    version = f.Integer(metadata={"description": "Bumped by every change; also sent as ETag"})


# --- projects ----------------------------------------------------------------------------------

class ProjectCreateSchema(BaseSchema):
    name = f.String(required=True, validate=length(1, 200))
    customer_id = f.Integer(required=True, strict=True, validate=in_range(1),
                            metadata={"description": "customer-service customer id; its name, contact "
                                                     "and phone are copied into the project"})


class ProjectUpdateSchema(BaseSchema):
    name = f.String(validate=length(1, 200))
    customer_id = f.Integer(strict=True, validate=in_range(1))

    @ma.post_load
    def not_empty(self, data, **_):
        return _at_least_one(data)


class ProjectSchema(_AuditedSchema):
    id = f.Integer()
    factory_id = f.String()
    name = f.String()
    customer_id = f.Integer()
    customer_name = f.String(allow_none=True)
    customer_contact = f.String(allow_none=True)
    customer_phone = f.String(allow_none=True)
    business_domain = f.String(allow_none=True, metadata={
        "description": "The customer's business domain; callers outside it get 404"})


class ProjectListQuerySchema(ListQuerySchema):
    customer_id = f.Integer(validate=in_range(1))
    keyword = f.String(validate=length(1, 100), metadata={"description": "Part of the name or customer name"})


ProjectPageSchema = page_schema(ProjectSchema)


class SyncFromContractSchema(BaseSchema):
    contract_id = f.Integer(strict=True, validate=in_range(1), metadata={
        "description": "Which of the project's contracts; default: the most recently changed one"})


# --- contracts ---------------------------------------------------------------------------------

class ContractCreateSchema(BaseSchema):
    contract_no = f.String(required=True, validate=length(1, 64))
    customer_id = f.Integer(required=True, strict=True, validate=in_range(1))
    project_id = f.Integer(strict=True, validate=in_range(1), allow_none=True,
                           metadata={"description": "Optional; a project of the same customer"})


class ContractUpdateSchema(BaseSchema):
    contract_no = f.String(validate=length(1, 64))
    customer_id = f.Integer(strict=True, validate=in_range(1))
    project_id = f.Integer(strict=True, validate=in_range(1), allow_none=True)

    @ma.post_load
    def not_empty(self, data, **_):
        return _at_least_one(data)


class ContractSchema(_AuditedSchema):
    id = f.Integer()
    factory_id = f.String()
    contract_no = f.String()
    customer_id = f.Integer()
    project_id = f.Integer(allow_none=True)
    customer_name = f.String(allow_none=True)
    contact_person = f.String(allow_none=True)
    contact_phone = f.String(allow_none=True)
    business_domain = f.String(allow_none=True, metadata={
        "description": "The customer's business domain; callers outside it get 404"})


class ContractListQuerySchema(ListQuerySchema):
    customer_id = f.Integer(validate=in_range(1))
    project_id = f.Integer(validate=in_range(1))
    keyword = f.String(validate=length(1, 100), metadata={"description": "Part of the number or customer name"})


ContractPageSchema = page_schema(ContractSchema)


# --- sync ----------------------------------------------------------------------------------------

class SyncResultSchema(ma.Schema):
    """Seed 004 §2.1 result of ``sync_customer_to_projects`` (plus its contracts)."""
    customer_id = f.Integer()
    success = f.Boolean()
    message = f.String(metadata={"description": "已同步 X 个项目的客户信息"})
    updated_count = f.Integer(metadata={"description": "Projects updated"})
    updated_projects = f.List(f.Integer())
    updated_contracts = f.List(f.Integer())
    updated_fields = f.List(f.String(), metadata={"description": "Project and contract fields written"})
    project_fields = f.List(f.String())
    contract_fields = f.List(f.String())
    source = f.String(metadata={"description": "customer-service, or snapshot when it could not answer"})
    customer_version = f.Integer()


class BatchSyncRequestSchema(BaseSchema):
    customer_ids = f.List(f.Integer(strict=True, validate=in_range(1)), required=True,
                          validate=validate.Length(1, MAX_BATCH, error=f"需要 1-{MAX_BATCH} 个客户 id"),
                          metadata={"description": f"At most {MAX_BATCH}; duplicates are synchronised once"})


class BatchSyncItemSchema(SyncResultSchema):
    code = f.Integer(metadata={"description": "On failure: the error code (4040, 5030, ...)"})


class BatchSyncResultSchema(ma.Schema):
    success = f.Boolean(metadata={"description": "Every customer synchronised"})
    message = f.String()
    total = f.Integer()
    succeeded = f.Integer()
    failed = f.Integer()
    updated_count = f.Integer(metadata={"description": "Projects updated, all customers together"})
    updated_contract_count = f.Integer()
    results = f.List(f.Nested(BatchSyncItemSchema))


class BatchSyncRefusedSchema(V1ErrorSchema):
    """The /api/v1 error envelope; when every customer failed it still carries the report."""
    data = f.Nested(BatchSyncResultSchema, metadata={"description": "When every customer failed: the report"})


class SyncFromContractResultSchema(SyncResultSchema):
    contract_id = f.Integer()
    project = f.Nested(ProjectSchema)


class HistoryQuerySchema(ListQuerySchema):
    customer_id = f.Integer(validate=in_range(1))
    trigger = f.String(validate=one_of(rules.TRIGGERS, "触发方式"))
    outcome = f.String(validate=one_of(rules.OUTCOMES, "结果"))


class HistoryEntrySchema(ma.Schema):
    id = f.Integer()
    factory_id = f.String()
    customer_id = f.Integer()
    business_domain = f.String(allow_none=True, metadata={
        "description": "The customer's business domain; callers outside it get 404"})
    trigger = f.String(metadata={"description": "event / manual / contract"})
    outcome = f.String(metadata={"description": "success / skipped (auto_sync=false) / failed"})
    event_id = f.String(allow_none=True)
    customer_version = f.Integer(allow_none=True)
    event_occurred_at = IsoDateTime(allow_none=True)
    trace_id = f.String(allow_none=True)
    operator_id = f.String(allow_none=True)
    operator_name = f.String(allow_none=True)
    synced_at = IsoDateTime()
    changed_fields = f.List(f.String(), metadata={"description": "Customer fields that changed"})
    updated_fields = f.List(f.String(), metadata={"description": "Project and contract fields written"})
    project_fields = f.List(f.String())
    contract_fields = f.List(f.String())
    project_ids = f.List(f.Integer())
    contract_ids = f.List(f.Integer())
    project_count = f.Integer()
    contract_count = f.Integer()
    error = f.String(allow_none=True)


HistoryPageSchema = page_schema(HistoryEntrySchema)


# --- OpenAPI examples (seed 004) ----------------------------------------------------------------

PROJECT_CREATE_EXAMPLE = {"name": "一期工程", "customer_id": 123}
PROJECT_UPDATE_EXAMPLE = {"name": "一期工程（扩建）", "customer_id": 124}
CONTRACT_CREATE_EXAMPLE = {"contract_no": "HT-2026-001", "customer_id": 123, "project_id": 1}
CONTRACT_UPDATE_EXAMPLE = {"contract_no": "HT-2026-001A", "project_id": None}
SYNC_FROM_CONTRACT_EXAMPLE = {"contract_id": 7}
BATCH_SYNC_EXAMPLE = {"customer_ids": [123, 124, 125]}
# Seed 004 §2.1: the result of sync_customer_to_projects (and its contracts), in the envelope.
SYNC_RESULT_EXAMPLE = {
    "success": True, "code": 2000, "message": "已同步 3 个项目的客户信息",
    "data": {"customer_id": 123, "success": True, "message": "已同步 3 个项目的客户信息", "updated_count": 3,
             "updated_projects": [1, 2, 3], "updated_contracts": [7],
             "updated_fields": ["customer_name", "customer_contact", "customer_phone", "contact_person",
                                "contact_phone"],
             "project_fields": ["customer_name", "customer_contact", "customer_phone"],
             "contract_fields": ["customer_name", "contact_person", "contact_phone"],
             "source": "customer-service", "customer_version": 8}}
