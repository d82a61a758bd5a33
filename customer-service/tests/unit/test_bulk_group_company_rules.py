"""Rules of the bulk API, groups, companies, external sync and idempotency: no I/O."""
import datetime as dt

import pytest

from customer_service.domain import bulk, companies, external_sync, groups, idempotency
from customer_service.domain.errors import (
    CompanyKeyRequired,
    CompanySourceRequired,
    KeyOfAnotherUser,
    KeyReused,
    MemberLimitExceeded,
    MembersNotFound,
    MembersOfAnotherDomain,
)
from customer_service.domain.model import CustomerGroup


def test_processing_order_sorts_by_key_keeps_request_order_among_equals_and_puts_none_last():
    names = ["b", None, "a", "b", "a"]
    assert bulk.processing_order(names, lambda n: n) == [2, 4, 0, 3, 1]


def test_processing_order_of_ids_is_ascending():
    assert bulk.processing_order([30, 10, 20], lambda i: i) == [1, 2, 0]


@pytest.mark.parametrize("value, ok", [(1, True), (10**9, True), (0, False), (-3, False), (True, False),
                                       ("1", False), (1.0, False), (None, False)])
def test_record_id_is_a_positive_integer_and_never_a_boolean(value, ok):
    assert bulk.is_record_id(value) is ok


def _group(max_member=None, domain="GW"):
    return CustomerGroup(id=1, business_domain=domain, max_member=max_member, name="g")


def test_membership_accepts_customers_of_the_group_domain_within_the_limit_once_each():
    assert _group(max_member=2).check_new_members([5, 6, 5], {5: "GW", 6: "GW"}) == [5, 6]


def test_membership_refuses_unknown_customers_naming_them():
    with pytest.raises(MembersNotFound) as exc:
        _group().check_new_members([5, 7, 8], {5: "GW"})
    assert "7, 8" in exc.value.message and exc.value.field == "customer_ids"


def test_membership_refuses_customers_of_another_domain_naming_them():
    with pytest.raises(MembersOfAnotherDomain) as exc:
        _group().check_new_members([5, 6], {5: "GW", 6: "COLD"})
    assert exc.value.errors == {"customer_ids": ["以下客户不属于业务域 GW: 6"]}


def test_membership_refuses_more_members_than_max_member():
    with pytest.raises(MemberLimitExceeded) as exc:
        _group(max_member=1).check_new_members([5, 6], {5: "GW", 6: "GW"})
    assert exc.value.params == {"limit": 1, "count": 2}


def test_membership_check_reports_every_problem_at_once():
    check = groups.check_membership("GW", 1, [1, 2, 3], {2: "GW", 3: "X"})
    assert check.missing == (1,) and check.foreign == (3,) and check.over_limit and not check.ok


@pytest.mark.parametrize("data, expected", [
    ({"id": 3, "company_code": "C"}, ("id", 3)),
    ({"company_code": "C", "source": "RB", "source_ref_id": "r"}, ("code", "C")),
    ({"source": "RB", "source_ref_id": "r"}, ("source_ref", ("RB", "r"))),
])
def test_company_key_prefers_id_then_code_then_source_ref(data, expected):
    assert companies.company_key(data) == expected


def test_company_source_ref_without_source_is_refused():
    with pytest.raises(CompanySourceRequired) as exc:
        companies.company_key({"source_ref_id": "r", "name": "x"})
    assert "source" in exc.value.errors


def test_company_without_any_key_is_refused():
    with pytest.raises(CompanyKeyRequired):
        companies.company_key({"name": "只有名称"})


def test_external_origin_from_explicit_object_or_non_manual_source_with_ref():
    explicit = external_sync.ExternalOrigin("RB", "r1")
    assert external_sync.external_origin({"source": "X", "source_ref_id": "r9"}, explicit) == explicit
    assert external_sync.external_origin({"source": "RB", "source_ref_id": "r2"}) == \
        external_sync.ExternalOrigin("RB", "r2")
    assert external_sync.external_origin({"source": "manual", "source_ref_id": "r3"}) is None
    assert external_sync.external_origin({"source": "RB"}) is None


def test_adopted_origin_fills_source_but_never_overrides_the_customer():
    origin = external_sync.ExternalOrigin("RB", "r1")
    assert external_sync.adopt_origin({"name": "a"}, origin) == {"name": "a", "source": "RB", "source_ref_id": "r1"}
    assert external_sync.adopt_origin({"source": "DD"}, origin)["source"] == "DD"


def test_fingerprint_ignores_key_order_but_not_content_or_endpoint():
    a = idempotency.request_fingerprint("e", {"customers": [{"name": "甲", "type": "company"}]})
    b = idempotency.request_fingerprint("e", {"customers": [{"type": "company", "name": "甲"}]})
    c = idempotency.request_fingerprint("e", {"customers": [{"name": "乙", "type": "company"}]})
    d = idempotency.request_fingerprint("f", {"customers": [{"name": "甲", "type": "company"}]})
    assert a == b and len({a, c, d}) == 3


@pytest.mark.parametrize("key, ok", [("abc-123", True), ("a" * 128, True), ("a" * 129, False), ("", False),
                                     ("有中文", False), ("with space", False)])
def test_idempotency_key_format(key, ok):
    assert idempotency.valid_key(key) is ok


def test_idempotency_keys_are_kept_24_hours():
    now = dt.datetime(2026, 1, 1, tzinfo=dt.timezone.utc)
    assert idempotency.expires_at(now) == now + dt.timedelta(hours=24)


def test_a_stored_response_replays_only_for_the_same_user_and_the_same_request():
    idempotency.check_replay(stored_by="u-1", stored_fingerprint="f", caller="u-1", fingerprint="f")
    with pytest.raises(KeyReused):
        idempotency.check_replay(stored_by="u-1", stored_fingerprint="f", caller="u-1", fingerprint="g")
    with pytest.raises(KeyOfAnotherUser) as other:
        idempotency.check_replay(stored_by="u-1", stored_fingerprint="f", caller="u-2", fingerprint="f")
    assert "其他用户" in other.value.message
