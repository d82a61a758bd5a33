"""Event contracts (crm_common.contracts): validation and JSON Schema, no I/O."""
import marshmallow as ma
import pytest
from jsonschema import Draft202012Validator

from crm_common.contracts import EventCatalog, EventContract
from crm_common.events import InvalidEvent, make_event


class Data(ma.Schema):
    id = ma.fields.Integer(required=True)
    name = ma.fields.String(required=True)
    phone = ma.fields.String(allow_none=True)


CATALOG = EventCatalog("probe-service", [EventContract("customer.updated", 1, Data, "probe")])


def event(**data):
    return make_event(event_type="customer.updated", producer="probe-service", aggregate_type="customer",
                      aggregate_id=1, aggregate_version=1, data=data)


def test_an_event_that_keeps_its_contract_passes_and_extra_fields_are_tolerated():
    CATALOG.validate(event(id=1, name="张三", phone=None, added_later=True))


def test_a_missing_or_retyped_field_is_named():
    with pytest.raises(InvalidEvent, match="name"):
        CATALOG.validate(event(id=1))
    with pytest.raises(InvalidEvent, match="id"):
        CATALOG.validate(event(id="one", name="x"))


def test_the_json_schema_describes_the_whole_message_and_accepts_the_event():
    schema = CATALOG.json_schema("customer.updated")
    assert schema["$id"] == "urn:crm:event:customer.updated:v1"
    assert schema["properties"]["data"]["required"] == ["id", "name"]
    Draft202012Validator.check_schema(schema)
    assert not list(Draft202012Validator(schema).iter_errors(event(id=1, name="x", extra=1)))
    assert list(Draft202012Validator(schema).iter_errors(event(id=1)))


class Line(ma.Schema):
    sku = ma.fields.String(required=True)


class WithLines(ma.Schema):
    id = ma.fields.Integer(required=True)
    lines = ma.fields.List(ma.fields.Nested(Line), required=True)


def test_nested_schemas_are_defined_inside_the_document():
    catalog = EventCatalog("probe-service", [EventContract("order.recorded", 1, WithLines, "probe")])
    schema = catalog.json_schema("order.recorded")
    assert schema["properties"]["data"]["properties"]["lines"]["items"] == {"$ref": "#/$defs/Line"}
    assert schema["$defs"]["Line"]["required"] == ["sku"]
    validator = Draft202012Validator(schema)
    ok = make_event(event_type="order.recorded", producer="probe-service", aggregate_type="order",
                    aggregate_id=1, aggregate_version=1, data={"id": 1, "lines": [{"sku": "a"}]})
    assert not list(validator.iter_errors(ok))
    assert list(validator.iter_errors({**ok, "data": {"id": 1, "lines": [{}]}}))


def test_an_events_data_is_what_a_json_round_trip_would_give():
    import datetime as dt
    import decimal
    import enum
    import json
    import uuid

    from crm_common.events import json_dumps, plain

    class Colour(str, enum.Enum):
        RED = "red"

    data = {"i": 3, "f": 1.5, "b": True, "n": None, "s": "客户", "d1": decimal.Decimal("12.00"),
            "d2": decimal.Decimal("12.34"), "at": dt.datetime(2026, 1, 2, 3, 4, 5, 6000, tzinfo=dt.timezone.utc),
            "naive": dt.datetime(2026, 1, 2), "day": dt.date(2026, 1, 2), "tags": {"b", "a"}, "t": (1, "x"),
            "u": uuid.UUID(int=5), "e": Colour.RED, "nested": {1: [decimal.Decimal("0.1"), {"k": None}], None: 1, "x": {False: 0},
                                                               2.5: 3}}
    expected = json.loads(json_dumps(data))
    assert plain(data) == expected
    assert json_dumps(plain(data)) == json_dumps(expected)
    assert type(plain(data)["e"]) is str
