"""Request and response schemas of /api/v1/api-clients (snake_case, the /api/v1 envelope)."""
from __future__ import annotations

import marshmallow as ma
from marshmallow import fields as f
from marshmallow import validate

from crm_common.auth import ROLES
from crm_common.schemas import BaseSchema, IsoDateTime, in_range, length, one_of

from ..domain.model import STATUSES

_CODES = validate.Length(min=1, max=100, error="需要 1-100 个取值")


class ApiClientCreateSchema(BaseSchema):
    name = f.String(required=True, validate=length(1, 100),
                    metadata={"description": "Who the client is for, e.g. the integrating system's name"})
    roles = f.List(f.String(validate=one_of(ROLES, "角色")), required=True, validate=_CODES,
                   metadata={"description": "CONTRACT §3 roles of its tokens; usually `integrator`"})
    factories = f.List(f.String(validate=length(1, 64)), required=True, validate=_CODES,
                       metadata={"description": "Tenants its tokens may act in; `*` = all"})
    domains = f.List(f.String(validate=length(1, 64)), required=True, validate=_CODES,
                     metadata={"description": "Business domains its tokens may see; `*` = all"})


class ApiClientListQuerySchema(BaseSchema):
    page = f.Integer(load_default=1, validate=in_range(1, 100000))
    page_size = f.Integer(load_default=20, validate=in_range(1, 100))
    status = f.String(validate=one_of(STATUSES, "状态"))


class AuditQuerySchema(BaseSchema):
    page = f.Integer(load_default=1, validate=in_range(1, 100000))
    page_size = f.Integer(load_default=20, validate=in_range(1, 100))


class ApiClientSchema(ma.Schema):
    client_id = f.String()
    name = f.String()
    roles = f.List(f.String())
    factories = f.List(f.String())
    domains = f.List(f.String())
    status = f.String(metadata={"description": "active / revoked"})
    created_at = IsoDateTime()
    created_by = f.String()
    created_by_name = f.String()
    secret_rotated_at = IsoDateTime(allow_none=True)
    revoked_at = IsoDateTime(allow_none=True)
    revoked_by = f.String(allow_none=True)
    revoked_by_name = f.String(allow_none=True)


class ApiClientSecretSchema(ApiClientSchema):
    client_secret = f.String(metadata={"description": "Shown this once; only its hash is kept"})


class _PageSchema(ma.Schema):
    total = f.Integer()
    page = f.Integer()
    page_size = f.Integer()
    total_pages = f.Integer()


class ApiClientPageSchema(_PageSchema):
    items = f.List(f.Nested(ApiClientSchema))


class AuditEntrySchema(ma.Schema):
    id = f.Integer()
    client_id = f.String()
    action = f.String(metadata={"description": "created / secret_rotated / revoked"})
    operator_id = f.String()
    operator_name = f.String()
    trace_id = f.String(allow_none=True)
    at = IsoDateTime()
    details = f.Dict()


class AuditPageSchema(_PageSchema):
    items = f.List(f.Nested(AuditEntrySchema))
