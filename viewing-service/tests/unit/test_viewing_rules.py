"""Viewing-record rules without I/O: identity, defaults, the COALESCE merge, enrichment,
messages, date windows, request validation, and the customer-service retry policy."""
from __future__ import annotations

import datetime as dt
from decimal import Decimal

import marshmallow as ma
import pytest
import requests

from crm_common.errors import ServiceUnavailable, ValidationError
from viewing_service.adapters.customer_service import CustomerServiceClient
from viewing_service.adapters.property_lookup import usable_fields
from viewing_service.domain import model
from viewing_service.entrypoints.schemas import ViewingRecordQuerySchema, ViewingRecordRequestSchema

NOW = dt.datetime(2026, 11, 21, 8, 0, tzinfo=dt.timezone.utc)


# --- identity and merge -----------------------------------------------------------------------

def test_a_record_is_identified_by_its_address_else_by_the_property_name():
    assert model.record_identity("万科城", "1栋2单元301室") == "address:1栋2单元301室"
    assert model.record_identity("万科城", " 1栋2单元301室 ") == model.record_identity("别的名字", "1栋2单元301室")
    assert model.record_identity("万科城", None) == model.record_identity("万科城", "  ") == "name:万科城"
    assert model.record_identity("万科城", None) != model.record_identity("万科城", "万科城")


def test_a_new_record_gets_the_seed_defaults_and_viewing_time_now():
    fields = model.fields_for_new_record({"property_name": "万科城", "room_type": None, "notes": ""}, NOW)
    assert fields == {"property_name": "万科城", "room_type": "one_bedroom", "viewer_name": "external",
                      "viewing_status": 1, "commission": Decimal(0), "business_type": "whole_rent",
                      "viewing_time": NOW}
    assert "viewing_feedback" not in fields  # no default: unknown until the caller says


def test_updates_only_take_values_that_are_there():
    assert model.non_blank({"notes": "", "commission": Decimal(0), "room_tag": None, "viewing_feedback": 0}) == \
        {"commission": Decimal(0), "viewing_feedback": 0}


def test_apply_changes_reports_only_real_changes():
    record = model.ViewingRecord(commission=Decimal("3000.00"), viewing_status=2, notes="a", updated_at=None)
    assert record.apply_changes({"commission": Decimal(3000), "viewing_status": 2}, NOW) == []
    assert record.updated_at is None
    assert record.apply_changes({"commission": Decimal(3500), "notes": "a"}, NOW) == ["commission"]
    assert record.updated_at == NOW
    with pytest.raises(ValueError):
        record.apply_changes({"user_id": "someone-else"}, NOW)


def test_property_data_fills_only_the_fields_not_given():
    given = {"property_name": "万科城", "city_name": "广州市", "housing_id": None}
    filled = model.fill_from_property(given, {"cityName": "深圳市", "housingId": 101, "advisorName": "王顾问",
                                              "unknown": 1})
    assert filled == {"property_name": "万科城", "city_name": "广州市", "housing_id": 101, "advisor_name": "王顾问"}
    assert model.fill_from_property(given, None) == given


@pytest.mark.parametrize("record, customer, enriched, message", [
    ("created", "created", True, "带看记录录入成功，客户已创建，已自动填入外部房源信息"),
    ("updated", "updated", False, "带看记录更新成功，客户已更新"),
    ("created", "updated", False, "带看记录录入成功，客户已更新"),
    ("updated", "created", True, "带看记录更新成功，客户已创建，已自动填入外部房源信息"),
])
def test_reply_messages_combine_what_happened(record, customer, enriched, message):
    assert model.reply_message(record, customer, enriched) == message


# --- time --------------------------------------------------------------------------------------

def test_calendar_dates_are_whole_days_in_the_app_time_zone():
    start, end = model.calendar_window(dt.date(2024, 1, 1), dt.date(2024, 12, 31), "Asia/Shanghai")
    assert start == dt.datetime(2023, 12, 31, 16, 0, tzinfo=dt.timezone.utc)
    assert end == dt.datetime(2024, 12, 31, 16, 0, tzinfo=dt.timezone.utc)
    assert model.calendar_window(None, None, "Asia/Shanghai") == (None, None)


def test_a_viewing_time_without_offset_is_read_in_the_app_time_zone():
    assert model.as_utc(dt.datetime(2024, 8, 15, 22, 0), "Asia/Shanghai") == \
        dt.datetime(2024, 8, 15, 14, 0, tzinfo=dt.timezone.utc)
    aware = dt.datetime(2024, 8, 15, 14, 0, tzinfo=dt.timezone.utc)
    assert model.as_utc(aware, "Asia/Shanghai") == aware


def test_total_pages():
    assert [model.total_pages(t, 10) for t in (0, 1, 10, 11)] == [0, 1, 1, 2]


# --- property answers -----------------------------------------------------------------------

def test_only_recognised_property_fields_of_the_right_type_are_used():
    body = {"success": True, "data": {"housingId": "101", "cityName": "深圳市", "propertyAddrId": 789.0,
                                      "advisorId": -1, "roomId": True, "longitude": 114.0579,
                                      "companyName": "x" * 201, "hacker": "<script>"}}
    assert usable_fields(body) == {"housingId": 101, "cityName": "深圳市", "propertyAddrId": 789,
                                   "longitude": "114.0579"}
    assert usable_fields([{"cityId": 1}]) == {"cityId": 1}
    assert usable_fields("nonsense") == usable_fields({"data": None}) == {}


# --- request validation ----------------------------------------------------------------------

SEED_EXAMPLE = {
    "userId": "agent_user_67890", "botId": "bot_002", "customer_name": "李四", "customer_phone": "13900139000",
    "viewing_time": "2024-08-15T14:00:00.000Z", "property_name": "万科城", "property_address": "1栋2单元301室",
    "room_type": "two_bedroom", "room_tag": "loft", "viewer_name": "external", "viewing_status": 2,
    "commission": 3000, "viewing_feedback": 1, "business_type": "whole_rent", "notes": "客户很满意，准备签约",
}


def test_the_seed_example_and_every_camel_case_field_load_onto_the_model():
    loaded = ViewingRecordRequestSchema().load({**SEED_EXAMPLE, "housingId": 101, "houseAreaId": 201,
                                                "houseAreaName": "南山区", "cityId": 301, "cityName": "深圳市",
                                                "propertyAddrId": 789, "unitType": "2室1厅", "longitude": "114.0579",
                                                "latitude": 22.5431, "roomId": 401, "advisorId": 501,
                                                "advisorName": "王顾问", "companyName": "万科地产",
                                                "companyAbbreviation": "万科", "houseTypeId": 601})
    assert loaded["user_id"] == "agent_user_67890" and loaded["bot_id"] == "bot_002"
    assert loaded["commission"] == Decimal(3000) and loaded["viewing_status"] == 2
    assert loaded["viewing_time"] == dt.datetime(2024, 8, 15, 14, 0, tzinfo=dt.timezone.utc)
    assert loaded["housing_id"] == 101 and loaded["house_type_id"] == 601 and loaded["latitude"] == "22.5431"
    assert set(loaded) - {"user_id"} <= model.WRITABLE_FIELDS


@pytest.mark.parametrize("field, value", [
    ("viewing_status", 0), ("viewing_status", 5), ("viewing_status", 1.5), ("viewing_status", "已确认"),
    ("viewing_feedback", 2), ("viewing_feedback", -1), ("viewing_feedback", True),
    ("commission", -1), ("commission", "abc"), ("commission", "NaN"),
    ("business_type", "hotel"), ("room_type", "studio"),
    ("customer_phone", "12900139000"), ("customer_phone", "139001390001"),
    ("viewing_time", "yesterday"), ("viewing_time", "2024-13-01T00:00:00Z"),
    ("housingId", -5), ("housingId", 1.5), ("cityId", "三百"),
    ("property_name", None), ("property_name", ""), ("property_name", "p" * 201),
    ("property_address", "a" * 501), ("customer_name", "n" * 101), ("notes", "x" * 2001),
    ("userId", ""), ("userId", "u" * 129), ("unknownField", 1),
])
def test_each_invalid_value_is_refused_naming_its_field(field, value):
    with pytest.raises(ma.ValidationError) as err:
        ViewingRecordRequestSchema().load({**SEED_EXAMPLE, field: value})
    assert field in err.value.messages


def test_query_parameters_are_checked():
    schema = ViewingRecordQuerySchema()
    assert schema.load({}) == {"page": 1, "pageSize": 20}
    for bad in ({"page": "0"}, {"pageSize": "0"}, {"viewing_status": "9"}, {"business_type": "x"},
                {"date_from": "2024-02-30"}, {"date_to": "2024/01/01"}, {"page_size": "10"},
                {"date_from": "2024-12-31", "date_to": "2024-01-01"}):
        with pytest.raises(ma.ValidationError):
            schema.load(bad)


# --- customer-service client ---------------------------------------------------------------

class FakeTransport:
    """Answers with a scripted sequence of exceptions / (status, body) for the retry policy."""

    def __init__(self, *script):
        self.script, self.calls = list(script), 0

    def request(self, method, url, **kw):
        self.calls += 1
        step = self.script.pop(0)
        if isinstance(step, Exception):
            raise step
        status, body = step
        response = requests.Response()
        response.status_code = status
        response._content = __import__("json").dumps(body).encode()
        return response


def _client(*script):
    sleeps = []
    transport = FakeTransport(*script)
    client = CustomerServiceClient("http://customer", session=transport, sleep=sleeps.append)
    return client.for_caller("Bearer t", "F1"), transport, sleeps


def test_connection_errors_and_5xx_are_retried_with_backoff_then_succeed():
    directory, transport, sleeps = _client(requests.ConnectionError(), (502, {}),
                                           (200, {"data": {"id": 7, "action": "created"}}))
    customer = directory.upsert({"userId": "u"})
    assert (customer.id, customer.created) == (7, True)
    assert transport.calls == 3 and sleeps == [0.2, 0.4]


def test_three_failures_give_503_and_no_more_tries():
    directory, transport, _ = _client(requests.Timeout(), requests.ConnectionError(), (503, {}))
    with pytest.raises(ServiceUnavailable):
        directory.upsert({"userId": "u"})
    assert transport.calls == 3


def test_a_4xx_is_not_retried_and_names_the_callers_field():
    directory, transport, _ = _client((400, {"success": False, "errors": {"phone": ["手机号格式不正确"]},
                                             "message": "参数验证失败：phone: 手机号格式不正确"}))
    with pytest.raises(ValidationError) as err:
        directory.upsert({"userId": "u", "phone": "1"})
    assert transport.calls == 1
    assert err.value.status == 400 and err.value.errors == {"customer_phone": ["手机号格式不正确"]}
    assert "customer_phone" in err.value.message
