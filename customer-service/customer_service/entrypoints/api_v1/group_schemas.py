"""Schemas of /api/v1/customer-groups (seed 003)."""
from __future__ import annotations

import marshmallow as ma
from marshmallow import fields as f

from crm_common.paging import PageQuerySchema, page_schema
from crm_common.schemas import BaseSchema, IsoDateTime, in_range, length

from ...domain.groups import MAX_MEMBERS_PER_REQUEST
from ..common import NullMeansDefault, RecordId


class GroupCreateSchema(NullMeansDefault, BaseSchema):
    name = f.String(required=True, validate=length(1, 100))
    business_domain = f.String(validate=length(1, 64), metadata={
        "description": "Defaults to the caller's only domain, else DEFAULT; must be one the caller may see"})
    max_member = f.Integer(allow_none=True, validate=in_range(1, 100000))
    description = f.String(allow_none=True, validate=length(max_=500))


class GroupMembersSchema(BaseSchema):
    customer_ids = f.List(RecordId(), required=True, validate=ma.validate.Length(
        max=MAX_MEMBERS_PER_REQUEST, error=f"每次最多 {MAX_MEMBERS_PER_REQUEST} 个成员"), metadata={
        "description": "The whole new member set (an empty list removes every member)"})


class GroupListQuerySchema(PageQuerySchema, BaseSchema):
    businessDomain = f.String(validate=length(1, 64))
    business_domain = f.String(validate=length(1, 64))
    keyword = f.String(validate=length(1, 100), metadata={"description": "Part of the name, any case"})


class GroupMemberSchema(ma.Schema):
    id = f.Integer()
    customer_code = f.String()
    name = f.String(allow_none=True)
    status = f.String()
    business_domain = f.String()
    added_at = IsoDateTime()


class GroupSchema(ma.Schema):
    id = f.Integer()
    name = f.String()
    business_domain = f.String()
    max_member = f.Integer(allow_none=True)
    description = f.String(allow_none=True)
    member_count = f.Integer()
    version = f.Integer()
    created_at = IsoDateTime()
    updated_at = IsoDateTime()
    created_by = f.String(allow_none=True)
    deleted = f.Boolean(attribute="is_deleted", metadata={
        "description": "true for a deleted group (listed only in incremental sync)"})


class GroupDetailSchema(GroupSchema):
    members = f.List(f.Nested(GroupMemberSchema))


GroupPageSchema = page_schema(GroupSchema)
