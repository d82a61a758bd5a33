"""Schemas of /api/v1/companies (seed 003)."""
from __future__ import annotations

import marshmallow as ma
from marshmallow import fields as f

from crm_common.paging import PageQuerySchema, page_schema
from crm_common.schemas import BaseSchema, IsoDateTime, length


class CompanyListQuerySchema(PageQuerySchema, BaseSchema):
    keyword = f.String(validate=length(1, 100), metadata={"description": "Part of the name or code, any case"})
    source = f.String(validate=length(1, 32))


class CompanySchema(ma.Schema):
    id = f.Integer()
    company_code = f.String(allow_none=True)
    name = f.String()
    source = f.String(allow_none=True)
    source_ref_id = f.String(allow_none=True)
    business_domain = f.String(allow_none=True)
    business_license_number = f.String(allow_none=True)
    industry_type = f.String(allow_none=True)
    address = f.String(allow_none=True)
    contact_name = f.String(allow_none=True)
    contact_phone = f.String(allow_none=True)
    version = f.Integer()
    created_at = IsoDateTime()
    updated_at = IsoDateTime()
    created_by = f.String(allow_none=True)
    deleted = f.Constant(False, metadata={"description": "companies are never deleted (incremental sync field)"})


CompanyPageSchema = page_schema(CompanySchema)
