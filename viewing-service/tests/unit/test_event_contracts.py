"""The events viewing-service produces keep their declared contracts (no I/O)."""
import datetime as dt
from decimal import Decimal

import pytest
from jsonschema import Draft202012Validator

from crm_common.context import system_context
from crm_common.events import InvalidEvent
from viewing_service.domain.model import ViewingRecord
from viewing_service.service_layer.events import CATALOG, RECORDED, UPDATED, viewing_event

NOW = dt.datetime(2024, 8, 15, 14, 0, tzinfo=dt.timezone.utc)


def record(**fields) -> ViewingRecord:
    base = dict(id=456, factory_id="F1", user_id="agent_user_67890", identity_key="address:1栋", customer_id=123,
                customer_name="李四", customer_phone="13900139000", viewing_time=NOW, property_name="万科城",
                property_address="1栋2单元301室", room_type="two_bedroom", viewer_name="external", viewing_status=2,
                commission=Decimal("3000.50"), viewing_feedback=1, business_type="whole_rent",
                external_property_enriched=False, version=1, created_at=NOW, updated_at=NOW)
    return ViewingRecord(**{**base, **fields})


@pytest.mark.parametrize("event_type", [RECORDED, UPDATED])
def test_both_event_types_carry_the_whole_record_as_declared(event_type):
    event = viewing_event(event_type, system_context("F1", "t-1"), record(), ["commission"])
    CATALOG.validate(event)
    assert event["data"]["commission"] == 3000.5 and "identity_key" not in event["data"]
    schema = CATALOG.json_schema(event_type)
    Draft202012Validator.check_schema(schema)
    assert not list(Draft202012Validator(schema).iter_errors(event))


def test_an_event_the_consumers_could_not_use_breaks_the_contract():
    event = viewing_event(RECORDED, system_context("F1"), record(viewing_status=9))
    with pytest.raises(InvalidEvent, match="viewing_status"):
        CATALOG.validate(event)
    del event["data"]["customer_id"]
    with pytest.raises(InvalidEvent, match="customer_id"):
        CATALOG.validate(event)
