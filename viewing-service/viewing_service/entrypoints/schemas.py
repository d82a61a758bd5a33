"""Schemas of viewing-service's endpoints. Request and response field names are the seed's
(snake_case plus the camelCase property fields such as ``housingId``); they load onto and
dump from the model's snake_case attributes."""
from __future__ import annotations

import datetime as dt

import marshmallow as ma
from marshmallow import fields as f

from crm_common.events import iso_z
from crm_common.paging import Cursor
from crm_common.schemas import BaseSchema, CalendarDate, Money, WholeNumber, in_range, length, mobile_phone, one_of

from ..domain import model

MAX_ID = 2**63 - 1


# --- fields ---------------------------------------------------------------------------------


class Coordinate(ma.fields.String):
    """经度/纬度: a string as the seed has it; a JSON number is taken as its text."""

    def _deserialize(self, value, attr, data, **kwargs):
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            value = repr(value)
        return super()._deserialize(value, attr, data, **kwargs)


class IsoMillis(ma.fields.DateTime):
    """UTC with milliseconds and ``Z``, as the seed writes times: 2024-08-15T14:00:00.000Z."""

    def _serialize(self, value, attr, obj, **kwargs):
        return None if value is None else iso_z(value)


def _id(name: str, description: str):
    return WholeNumber(attribute=name, allow_none=True, validate=in_range(0, MAX_ID),
                       metadata={"description": description})


def _text(max_len: int, description: str, **kw):
    return f.String(allow_none=True, validate=length(max_=max_len), metadata={"description": description}, **kw)


def blanks_to_none(data):
    if isinstance(data, dict):
        return {key: (None if isinstance(value, str) and not value.strip() else value)
                for key, value in data.items()}
    return data


# --- POST /api/external/viewing-records ------------------------------------------------------

class ViewingRecordRequestSchema(BaseSchema):
    """One viewing. Blank strings count as absent; defaults apply when a record is created."""

    user_id = f.String(data_key="userId", required=True, validate=length(1, 128),
                       metadata={"description": "用户第三方唯一标识 ID"})
    bot_id = _text(128, "机器人/工作人员账号 ID", data_key="botId")
    customer_name = _text(100, "客户姓名（写入客户，并作为记录的快照）")
    customer_phone = f.String(allow_none=True, validate=mobile_phone, metadata={"description": "客户电话 1[3-9]xxxxxxxxx"})
    viewing_time = f.DateTime(allow_none=True, metadata={
        "description": "带看时间 ISO 8601；无时区时按 APP_TIMEZONE；默认当前时间"})
    property_name = f.String(required=True, validate=length(1, 200), metadata={"description": "带看楼盘名称"})
    property_address = _text(500, "楼盘详细地址；与 userId 一起标识一条记录（缺省时以楼盘名称代替）")
    room_type = f.String(allow_none=True, validate=one_of(model.ROOM_TYPES, "带看户型"),
                         metadata={"description": "默认 one_bedroom"})
    room_tag = _text(100, "房型标签")
    viewer_name = _text(100, "带看人；默认 external")
    viewing_status = WholeNumber(allow_none=True, validate=one_of(model.VIEWING_STATUSES, "带看状态"),
                                 metadata={"description": "1 待确认 2 已确认 3 已取消 4 已带看；默认 1"})
    commission = Money(allow_none=True, validate=in_range(0, 10**12), metadata={"description": "带看佣金 ≥ 0；默认 0"})
    viewing_feedback = WholeNumber(allow_none=True, validate=one_of(model.VIEWING_FEEDBACKS, "带看反馈"),
                                   metadata={"description": "0 未成交 1 已成交"})
    business_type = f.String(allow_none=True, validate=one_of(model.BUSINESS_TYPES, "业务类型"),
                             metadata={"description": "whole_rent/shared_rent/centralized；默认 whole_rent"})
    notes = _text(2000, "备注")
    housingId = _id("housing_id", "房源 ID")
    houseAreaId = _id("house_area_id", "区域 ID")
    houseAreaName = _text(100, "区域名称", attribute="house_area_name")
    cityId = _id("city_id", "城市 ID")
    cityName = _text(100, "城市名称", attribute="city_name")
    propertyAddrId = _id("property_addr_id", "物业地址 ID")
    unitType = _text(50, "户型", attribute="unit_type")
    longitude = Coordinate(allow_none=True, validate=length(max_=32), metadata={"description": "经度"})
    latitude = Coordinate(allow_none=True, validate=length(max_=32), metadata={"description": "纬度"})
    roomId = _id("room_id", "房间 ID")
    advisorId = _id("advisor_id", "顾问 ID")
    advisorName = _text(100, "顾问名称", attribute="advisor_name")
    companyName = _text(200, "公司名称", attribute="company_name")
    companyAbbreviation = _text(100, "公司简称", attribute="company_abbreviation")
    houseTypeId = _id("house_type_id", "房型 ID")

    @ma.pre_load
    def blanks_are_absent(self, data, **_):
        return blanks_to_none(data)


class PropertyDataSchema(ma.Schema):
    """What the external property service returned (seed's camelCase names)."""
    propertyAddrId = f.Integer()
    housingId = f.Integer()
    houseAreaId = f.Integer()
    houseAreaName = f.String()
    cityId = f.Integer()
    cityName = f.String()
    unitType = f.String()
    longitude = f.String()
    latitude = f.String()
    roomId = f.Integer()
    advisorId = f.Integer()
    advisorName = f.String()
    companyName = f.String()
    companyAbbreviation = f.String()
    houseTypeId = f.Integer()


class ViewingRecordResultSchema(ma.Schema):
    viewing_record_id = f.Integer()
    customer_id = f.Integer()
    customer_action = f.String(metadata={"description": "created / updated"})
    viewing_record_action = f.String(metadata={"description": "created / updated"})
    userId = f.String()
    external_property_enriched = f.Boolean()
    external_property_data = f.Nested(PropertyDataSchema, metadata={
        "description": "Only when the property service filled the record in"})


# --- GET /api/external/viewing-records/{userId} ----------------------------------------------

class ViewingRecordQuerySchema(BaseSchema):
    page = WholeNumber(load_default=1, validate=in_range(1, 10**6), metadata={"description": "页码（从 1 开始）"})
    pageSize = WholeNumber(load_default=20, validate=in_range(1, None),
                           metadata={"description": "每页数量，默认 20，超过 100 按 100"})
    property_name = f.String(validate=length(max_=200), metadata={"description": "楼盘名称（模糊匹配）"})
    viewing_status = WholeNumber(validate=one_of(model.VIEWING_STATUSES, "带看状态"))
    business_type = f.String(validate=one_of(model.BUSINESS_TYPES, "业务类型"))
    viewer_name = f.String(validate=length(max_=100), metadata={"description": "带看人"})
    date_from = CalendarDate(metadata={"description": "开始日期 YYYY-MM-DD（含），按 APP_TIMEZONE 的日历日"})
    date_to = CalendarDate(metadata={"description": "结束日期 YYYY-MM-DD（含）"})

    @ma.pre_load
    def blanks_are_absent(self, data, **_):
        # webargs hands over a MultiDict proxy: read plain values, drop blank ones
        items = {key: data.get(key) for key in data} if hasattr(data, "get") else data
        return {key: value for key, value in (blanks_to_none(items) or {}).items() if value is not None}

    @ma.validates_schema
    def dates_in_order(self, data, **_):
        if data.get("date_from") and data.get("date_to") and data["date_from"] > data["date_to"]:
            raise ma.ValidationError("开始日期不能晚于结束日期", field_name="date_from")


class ViewingRecordSchema(ma.Schema):
    """One record, with every field of the seed's example in its order."""
    id = f.Integer()
    customer_id = f.Integer()
    viewing_time = IsoMillis()
    property_name = f.String()
    property_address = f.String(allow_none=True)
    room_type = f.String()
    room_tag = f.String(allow_none=True)
    viewer_name = f.String()
    viewing_status = f.Integer()
    commission = Money()
    viewing_feedback = f.Integer(allow_none=True)
    business_type = f.String()
    notes = f.String(allow_none=True)
    customer_name = f.String(allow_none=True)
    customer_phone = f.String(allow_none=True)
    userId = f.String(attribute="user_id")
    botId = f.String(attribute="bot_id", allow_none=True)
    housingId = f.Integer(attribute="housing_id", allow_none=True)
    houseAreaId = f.Integer(attribute="house_area_id", allow_none=True)
    houseAreaName = f.String(attribute="house_area_name", allow_none=True)
    cityId = f.Integer(attribute="city_id", allow_none=True)
    cityName = f.String(attribute="city_name", allow_none=True)
    propertyAddrId = f.Integer(attribute="property_addr_id", allow_none=True)
    unitType = f.String(attribute="unit_type", allow_none=True)
    longitude = f.String(allow_none=True)
    latitude = f.String(allow_none=True)
    roomId = f.Integer(attribute="room_id", allow_none=True)
    advisorId = f.Integer(attribute="advisor_id", allow_none=True)
    advisorName = f.String(attribute="advisor_name", allow_none=True)
    companyName = f.String(attribute="company_name", allow_none=True)
    companyAbbreviation = f.String(attribute="company_abbreviation", allow_none=True)
    houseTypeId = f.Integer(attribute="house_type_id", allow_none=True)
    created_at = IsoMillis()
    updated_at = IsoMillis()


class ViewingRecordPageSchema(ma.Schema):
    data = f.List(f.Nested(ViewingRecordSchema))
    total = f.Integer()
    page = f.Integer()
    pageSize = f.Integer()
    totalPages = f.Integer()


# --- GET /api/external/viewing-records (incremental sync) -----------------------------------

class ChangedRecordsQuerySchema(BaseSchema):
    updated_since = f.AwareDateTime(default_timezone=dt.timezone.utc, metadata={
        "description": "Records changed at or after this instant (ISO 8601; without an offset: UTC), "
                       "oldest change first; absent: from the first record", "example": "2024-08-15T00:00:00Z"})
    cursor = f.String(validate=length(max_=200), metadata={"description": "`data.next_cursor` of the previous page"})
    pageSize = WholeNumber(load_default=20, validate=in_range(1, None),
                           metadata={"description": "每页数量，默认 20，超过 100 按 100"})

    @ma.pre_load
    def blanks_are_absent(self, data, **_):
        items = {key: data.get(key) for key in data} if hasattr(data, "get") else data
        return {key: value for key, value in (blanks_to_none(items) or {}).items() if value is not None}

    @ma.post_load
    def decode_cursor(self, data, **_):
        if data.get("cursor") is not None:
            data["cursor"] = Cursor.decode(data["cursor"])
        return data


class ChangedRecordsPageSchema(ma.Schema):
    data = f.List(f.Nested(ViewingRecordSchema), metadata={"description": "Records in (updated_at, id) order"})
    pageSize = f.Integer()
    next_cursor = f.String(allow_none=True, metadata={
        "description": "Pass as `cursor` for the next page; null on the last page (come back later with "
                       "`updated_since` = the last record's `updated_at`)"})


# --- GET /internal/viewing-records/snapshot --------------------------------------------------

class SnapshotQuerySchema(BaseSchema):
    after_id = WholeNumber(load_default=0, validate=in_range(0, MAX_ID),
                           metadata={"description": "Continue after this record id (0: from the start)"})
    limit = WholeNumber(load_default=500, validate=in_range(1, 5000))


class SnapshotRecordSchema(ma.Schema):
    """A record as events carry it (snake_case), with its tenant and version."""
    id = f.Integer()
    factory_id = f.String()
    user_id = f.String()
    customer_id = f.Integer()
    customer_name = f.String(allow_none=True)
    customer_phone = f.String(allow_none=True)
    bot_id = f.String(allow_none=True)
    viewing_time = IsoMillis()
    property_name = f.String()
    property_address = f.String(allow_none=True)
    room_type = f.String()
    room_tag = f.String(allow_none=True)
    viewer_name = f.String()
    viewing_status = f.Integer()
    commission = Money()
    viewing_feedback = f.Integer(allow_none=True)
    business_type = f.String()
    notes = f.String(allow_none=True)
    housing_id = f.Integer(allow_none=True)
    house_area_id = f.Integer(allow_none=True)
    house_area_name = f.String(allow_none=True)
    city_id = f.Integer(allow_none=True)
    city_name = f.String(allow_none=True)
    property_addr_id = f.Integer(allow_none=True)
    unit_type = f.String(allow_none=True)
    longitude = f.String(allow_none=True)
    latitude = f.String(allow_none=True)
    room_id = f.Integer(allow_none=True)
    advisor_id = f.Integer(allow_none=True)
    advisor_name = f.String(allow_none=True)
    company_name = f.String(allow_none=True)
    company_abbreviation = f.String(allow_none=True)
    house_type_id = f.Integer(allow_none=True)
    external_property_enriched = f.Boolean()
    external_property_data = f.Dict(allow_none=True)
    version = f.Integer()
    created_at = IsoMillis()
    created_by = f.String(allow_none=True)
    updated_at = IsoMillis()
    updated_by = f.String(allow_none=True)


class SnapshotPageSchema(ma.Schema):
    items = f.List(f.Nested(SnapshotRecordSchema))
    next_after_id = f.Integer(allow_none=True, metadata={"description": "`after_id` of the next page; null at the end"})


# --- OpenAPI examples: seed 002's own ------------------------------------------------------------

RECORD_REQUEST_EXAMPLE = {
    "userId": "agent_user_67890", "botId": "bot_002", "customer_name": "李四", "customer_phone": "13900139000",
    "viewing_time": "2024-08-15T14:00:00.000Z", "property_name": "万科城", "property_address": "1栋2单元301室",
    "room_type": "two_bedroom", "room_tag": "loft", "viewer_name": "external", "viewing_status": 2,
    "commission": 3000, "viewing_feedback": 1, "business_type": "whole_rent", "notes": "客户很满意，准备签约",
}
RECORD_RESULT_EXAMPLE = {
    "success": True,
    "data": {"viewing_record_id": 456, "customer_id": 123, "customer_action": "created",
             "viewing_record_action": "created", "userId": "agent_user_67890", "external_property_enriched": True,
             "external_property_data": {"propertyAddrId": 789, "housingId": 101, "cityName": "深圳市",
                                        "houseAreaName": "南山区", "advisorName": "王顾问", "companyName": "万科地产"}},
    "message": "带看记录录入成功，客户已创建，已自动填入外部房源信息",
}
_SEED_LISTED_RECORD = {
    "id": 456, "customer_id": 123, "viewing_time": "2024-08-15T14:00:00.000Z", "property_name": "万科城",
    "property_address": "1栋2单元301室", "room_type": "two_bedroom", "room_tag": "loft", "viewer_name": "external",
    "viewing_status": 2, "commission": 3000, "viewing_feedback": 1, "business_type": "whole_rent",
    "notes": "客户很满意，准备签约", "customer_name": "李四", "customer_phone": "13900139000",
    "userId": "agent_user_67890", "botId": "bot_002", "housingId": 101, "houseAreaId": 201, "houseAreaName": "南山区",
    "cityId": 301, "cityName": "深圳市", "propertyAddrId": 789, "unitType": "2室1厅", "longitude": "114.0579",
    "latitude": "22.5431", "roomId": 401, "advisorId": 501, "advisorName": "王顾问", "companyName": "万科地产",
    "companyAbbreviation": "万科", "houseTypeId": 601, "created_at": "2024-08-15T10:00:00.000Z",
    "updated_at": "2024-08-15T10:00:00.000Z",
}
USER_RECORDS_EXAMPLE = {
    "success": True,
    "data": {"data": [_SEED_LISTED_RECORD], "total": 1, "page": 1, "pageSize": 10, "totalPages": 1},
    "message": "查询成功",
}
CHANGED_RECORDS_EXAMPLE = {
    "success": True,
    "data": {"data": [_SEED_LISTED_RECORD], "pageSize": 20, "next_cursor": None},
    "message": "查询成功",
}
