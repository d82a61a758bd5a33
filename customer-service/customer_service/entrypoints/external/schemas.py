"""Schemas of /api/external/customers (seed 002 客户数据录入): the request's own field names
(``userId``, ``botId``, ``phone``, ``status``) loaded onto the customer model's names."""
from __future__ import annotations

import marshmallow as ma
from marshmallow import fields as f

from crm_common.schemas import BaseSchema, CalendarDate, WholeNumber, in_range, length, mobile_phone, one_of

from ...domain import external_customer as rules

# The seed's own request example (seed 002 客户数据录入).
SEED_EXAMPLE = {
    "userId": "agent_user_12345", "botId": "bot_001", "nickname": "小张", "name": "张三", "phone": "13800138000",
    "backup_phone": "13900139000", "wechat": "zhangsan123", "status": 1, "community": "万科城",
    "business_type": "whole_rent", "room_type": "two_bedroom", "room_tags": "[\"loft\", \"two_bath\"]",
    "move_in_date": "2024-09-01", "lease_period": 12, "price_range": "5000-8000", "source_channel": "referral",
    "creator": "外部Agent系统", "internal_notes": "来自Agent系统推送"}


class JsonArrayString(ma.fields.String):
    """A JSON array written as a string (``"[\\"loft\\"]"``); a plain array is accepted
    too. Loads the canonical string."""

    def _deserialize(self, value, attr, data, **kwargs):
        try:
            return rules.normalise_room_tags(value)
        except ValueError as exc:
            raise ma.ValidationError(str(exc)) from exc


class ExternalCustomerSchema(BaseSchema):
    """One customer of the integrator. Blank strings count as absent (seed: COALESCE)."""

    external_user_id = f.String(data_key="userId", required=True, validate=length(1, 128),
                                metadata={"description": "用户第三方唯一标识 ID"})
    bot_id = f.String(data_key="botId", allow_none=True, validate=length(max_=128),
                      metadata={"description": "机器人/工作人员账号 ID"})
    nickname = f.String(allow_none=True, validate=length(max_=100), metadata={"description": "客户昵称"})
    name = f.String(allow_none=True, validate=length(max_=100), metadata={"description": "客户真实姓名"})
    primary_contact_phone = f.String(data_key="phone", allow_none=True, validate=mobile_phone,
                                     metadata={"description": "主手机号（1[3-9]xxxxxxxxx）"})
    backup_phone = f.String(allow_none=True, validate=mobile_phone, metadata={"description": "备用手机号"})
    wechat = f.String(allow_none=True, validate=length(max_=64), metadata={"description": "微信号"})
    lead_status = WholeNumber(data_key="status", allow_none=True,
                              validate=one_of(rules.LEAD_STATUS_CODES, "客户状态"),
                              metadata={"description": "客户状态 1-5：跟进中/不再回复/已约带看/已成交未结佣/"
                                                       "已成交已结佣；新客户默认 1"})
    community = f.String(allow_none=True, validate=length(max_=200), metadata={"description": "咨询小区名称"})
    business_type = f.String(allow_none=True, validate=one_of(rules.BUSINESS_TYPES, "业务类型"),
                             metadata={"description": "whole_rent/shared_rent/centralized；新客户默认 whole_rent"})
    room_type = f.String(allow_none=True, validate=one_of(rules.ROOM_TYPES, "房型"),
                         metadata={"description": "新客户默认 one_bedroom"})
    room_tags = JsonArrayString(allow_none=True, validate=length(max_=2000),
                                metadata={"description": "房型标签（JSON 格式数组字符串）"})
    move_in_date = CalendarDate(allow_none=True, metadata={"description": "期望入住时间 YYYY-MM-DD"})
    lease_period = WholeNumber(allow_none=True, validate=in_range(1, 1200),
                               metadata={"description": "租赁周期（月数，正整数）"})
    price_range = f.String(allow_none=True, validate=length(max_=50),
                           metadata={"description": "可接受价格范围，如 5000-7000"})
    source_channel = f.String(allow_none=True, validate=one_of(rules.SOURCE_CHANNELS, "来源渠道"),
                              metadata={"description": "新客户默认 referral"})
    creator = f.String(allow_none=True, validate=length(max_=100),
                       metadata={"description": "录入人标识；新客户默认 外部系统"})
    internal_notes = f.String(allow_none=True, validate=length(max_=2000), metadata={"description": "内部备注"})

    @ma.pre_load
    def blanks_are_absent(self, data, **_):
        if isinstance(data, dict):
            data = {key: (None if isinstance(value, str) and not value.strip() else value)
                    for key, value in data.items()}
        return data


class ExternalCustomerResultSchema(ma.Schema):
    id = f.Integer(metadata={"description": "客户 ID"})
    userId = f.String()
    name = f.String(allow_none=True, metadata={"description": "客户姓名 after the call (only with "
                                                              "`Prefer: return=representation`)"})
    phone = f.String(allow_none=True, metadata={"description": "联系电话 after the call (only with "
                                                               "`Prefer: return=representation`)"})
    action = f.String(metadata={"description": "`created` when the call created the customer; "
                                               "absent when it updated one"})
