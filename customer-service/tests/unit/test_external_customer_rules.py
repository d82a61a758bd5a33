"""Seed 002 rules of external customers, no database: lead status moves, the COALESCE
merge, defaults, and the validation of every enum and pattern of the upsert."""
from __future__ import annotations

import json
from decimal import Decimal

import marshmallow as ma
import pytest

from customer_service.domain import external_customer as rules
from customer_service.domain.lead_status import status_after_viewing, viewing_totals
from customer_service.entrypoints.external.schemas import ExternalCustomerSchema

# --- lead status -----------------------------------------------------------------------

@pytest.mark.parametrize("current, expected", [(None, 4), (1, 4), (2, 4), (3, 4), (4, None), (5, None)])
def test_a_deal_moves_the_customer_to_deal_unpaid_unless_already_settled(current, expected):
    assert status_after_viewing(current, viewing_status=4, viewing_feedback=1) == expected


@pytest.mark.parametrize("current, expected", [(None, 3), (1, 3), (2, 3), (3, None), (4, None), (5, None)])
def test_a_confirmed_viewing_books_a_following_or_silent_customer(current, expected):
    assert status_after_viewing(current, viewing_status=2, viewing_feedback=0) == expected
    assert status_after_viewing(current, viewing_status=2, viewing_feedback=None) == expected


@pytest.mark.parametrize("viewing_status", [1, 3, 4, None])
def test_other_viewings_move_nobody(viewing_status):
    for current in (1, 2, 3, 4, 5):
        assert status_after_viewing(current, viewing_status=viewing_status, viewing_feedback=0) is None


def test_the_outcome_does_not_depend_on_the_order_of_records():
    confirmed = {"viewing_status": 2, "viewing_feedback": 0}
    deal = {"viewing_status": 4, "viewing_feedback": 1}
    for order in ((confirmed, deal), (deal, confirmed)):
        status = 1
        for record in order:
            status = status_after_viewing(status, **record) or status
        assert status == 4


def test_viewing_totals_count_each_record_once_with_its_latest_commission():
    assert viewing_totals([Decimal("3000"), 0, None, "1500.50"]) == (4, Decimal("4500.50"))
    assert viewing_totals([]) == (0, Decimal(0))


# --- defaults and COALESCE ---------------------------------------------------------------

def test_a_new_customer_gets_the_seed_defaults_for_what_is_missing():
    fields = rules.fields_for_new_customer({"nickname": "小张", "room_type": "two_bedroom", "creator": None,
                                            "business_type": ""})
    assert fields == {"lead_status": 1, "business_type": "whole_rent", "room_type": "two_bedroom",
                      "source_channel": "referral", "creator": "外部系统", "nickname": "小张"}


def test_updates_only_take_values_that_are_there():
    given = {"nickname": "张三丰", "name": None, "wechat": "", "community": "  ", "lease_period": 0,
             "lead_status": 2}
    assert rules.non_blank(given) == {"nickname": "张三丰", "lease_period": 0, "lead_status": 2}


def test_room_tags_are_a_json_array_string_kept_in_canonical_form():
    assert rules.normalise_room_tags('["loft",  "two_bath"]') == '["loft", "two_bath"]'
    assert json.loads(rules.normalise_room_tags(["阳台"])) == ["阳台"]
    for bad in ("loft", '{"a": 1}', "[1, 2]", "[", 3):
        with pytest.raises(ValueError):
            rules.normalise_room_tags(bad)


# --- validation of the request -------------------------------------------------------------

def _load(**fields):
    return ExternalCustomerSchema().load({"userId": "u-1", **fields})


SEED_EXAMPLE = {
    "userId": "agent_user_12345", "botId": "bot_001", "nickname": "小张", "name": "张三",
    "phone": "13800138000", "backup_phone": "13900139000", "wechat": "zhangsan123", "status": 1,
    "community": "万科城", "business_type": "whole_rent", "room_type": "two_bedroom",
    "room_tags": "[\"loft\", \"two_bath\"]", "move_in_date": "2024-09-01", "lease_period": 12,
    "price_range": "5000-8000", "source_channel": "referral", "creator": "外部Agent系统",
    "internal_notes": "来自Agent系统推送",
}


def test_the_seed_example_loads_onto_the_customer_fields():
    loaded = ExternalCustomerSchema().load(SEED_EXAMPLE)
    assert loaded["external_user_id"] == "agent_user_12345" and loaded["bot_id"] == "bot_001"
    assert loaded["primary_contact_phone"] == "13800138000" and loaded["lead_status"] == 1
    assert str(loaded["move_in_date"]) == "2024-09-01" and loaded["room_tags"] == '["loft", "two_bath"]'


@pytest.mark.parametrize("field, value", [
    ("status", 0), ("status", 6), ("status", 1.5), ("status", "跟进中"), ("status", True),
    ("business_type", "rent"), ("room_type", "studio"), ("source_channel", "wechat"),
    ("phone", "12800138000"), ("phone", "1380013800"), ("phone", "138001380001"), ("phone", 13800138000),
    ("backup_phone", "23900139000"),
    ("move_in_date", "2024-02-30"), ("move_in_date", "2024/09/01"), ("move_in_date", "20240901"),
    ("move_in_date", "2024-9-1"),
    ("room_tags", "loft"), ("room_tags", '{"loft": true}'),
    ("lease_period", 0), ("lease_period", -3), ("lease_period", 1.5), ("lease_period", "十二"),
    ("name", "张" * 101), ("nickname", "n" * 101), ("wechat", "w" * 65), ("community", "c" * 201),
    ("price_range", "9" * 51), ("creator", "c" * 101), ("internal_notes", "x" * 2001),
    ("botId", "b" * 129), ("userId", "u" * 129), ("userId", ""), ("userId", None),
    ("unknown_field", "x"),
])
def test_each_invalid_value_is_refused_naming_its_field(field, value):
    with pytest.raises(ma.ValidationError) as err:
        _load(**{field: value})
    assert field in err.value.messages


def test_user_id_is_required():
    with pytest.raises(ma.ValidationError) as err:
        ExternalCustomerSchema().load({"name": "张三"})
    assert "userId" in err.value.messages


def test_blank_and_null_optional_values_are_accepted_as_absent():
    loaded = _load(phone="", status=None, business_type="", move_in_date=None, room_tags="")
    assert loaded["primary_contact_phone"] is None and loaded["lead_status"] is None
    assert rules.non_blank(loaded) == {"external_user_id": "u-1"}


def test_whole_numbers_may_come_as_integral_floats_or_digit_strings():
    assert _load(status=3.0, lease_period="12")["lead_status"] == 3
