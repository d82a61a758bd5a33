"""Schemas of the external-sync audit (seed 003): the query and its rows."""
from __future__ import annotations

import marshmallow as ma
from marshmallow import fields as f

from crm_common.paging import page_schema
from crm_common.schemas import BaseSchema, IsoDateTime, in_range, length

QUERY_NEEDS = "需要 entityType + entityId 或 remoteId"


_TWINS = {"entityType": "entity_type", "entityId": "entity_id", "remoteId": "remote_id"}


class ExternalSyncQuerySchema(BaseSchema):
    entityType = f.String(validate=length(1, 32))
    entityId = f.String(validate=length(1, 64))
    remoteId = f.String(validate=length(1, 128))
    entity_type = f.String(validate=length(1, 32))
    entity_id = f.String(validate=length(1, 64))
    remote_id = f.String(validate=length(1, 128))
    source = f.String(validate=length(1, 32))
    page = f.Integer(load_default=1, validate=in_range(1, 1_000_000))
    page_size = f.Integer(load_default=20, validate=in_range(1, 100))

    @ma.post_load
    def merge_twins(self, data, **_):
        for camel, snake in _TWINS.items():
            if camel in data:
                value = data.pop(camel)
                if data.get(snake) not in (None, value):
                    raise ma.ValidationError(f"{camel} 与 {snake} 取值冲突", field_name=camel)
                data[snake] = value
        if data.get("entity_id") and not data.get("entity_type"):
            data["entity_type"] = "customer"
        if not data.get("remote_id") and not data.get("entity_id"):
            raise ma.ValidationError(QUERY_NEEDS, field_name="entityId")
        return data


class ExternalSyncSchema(ma.Schema):
    id = f.Integer()
    entity_type = f.String()
    entity_id = f.String(allow_none=True)
    source = f.String()
    remote_id = f.String(allow_none=True)
    sync_status = f.String(metadata={"description": "SUCCESS or FAILED"})
    error_message = f.String(allow_none=True)
    trace_id = f.String(allow_none=True)
    operator_id = f.String(allow_none=True)
    created_at = IsoDateTime()
    updated_at = IsoDateTime()


ExternalSyncPageSchema = page_schema(ExternalSyncSchema)


# --- runs of the import from the third party's MySQL (issue 21) ---------------------------

RUN_REQUEST_EXAMPLE = {"source": "RB"}
RUN_EXAMPLE = {
    "id": 12, "source": "RB", "state": "SUCCEEDED", "trigger": "api",
    "counts": {"read": 340, "created": 300, "updated": 0, "unchanged": 0, "failed": 40},
    "start_watermark": None, "watermark": "2026-11-30T04:10:00|340", "error_message": None,
    "started_at": "2026-11-30T04:20:00Z", "finished_at": "2026-11-30T04:20:09Z",
}


class StartRunSchema(BaseSchema):
    source = f.String(load_default="RB", validate=[length(1, 32), ma.validate.Regexp(r"^[A-Za-z0-9_-]+$")],
                      metadata={"description": "source system code; its customers' codes start with it"})


class RunCountsSchema(ma.Schema):
    read = f.Integer()
    created = f.Integer()
    updated = f.Integer()
    unchanged = f.Integer()
    failed = f.Integer()


class SyncRunSchema(ma.Schema):
    id = f.Integer()
    source = f.String()
    state = f.String(metadata={"enum": ["RUNNING", "SUCCEEDED", "FAILED", "ABORTED"]})
    trigger = f.String(metadata={"enum": ["api", "cli", "schedule"]})
    counts = f.Nested(RunCountsSchema)
    start_watermark = f.String(allow_none=True, metadata={"description": "updated_at|id the run started after"})
    watermark = f.String(allow_none=True, metadata={"description": "updated_at|id of the last record done"})
    error_message = f.String(allow_none=True)
    started_at = IsoDateTime()
    finished_at = IsoDateTime(allow_none=True)


class StartedRunSchema(ma.Schema):
    id = f.Integer(metadata={"description": "the run's id: GET /api/v1/external-sync/runs/{id}"})
    state = f.String()
