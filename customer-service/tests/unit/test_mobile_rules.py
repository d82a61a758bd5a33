"""Pure rules of the tenant customer API (seed 001): sorting, paging, activation on the
status state machine, ageing of debts. No database."""
import datetime as dt
from decimal import Decimal

import pytest

from customer_service.domain import listing, rules
from customer_service.domain.receivables import BalanceChange, overdue_position

NOW = dt.datetime(2026, 11, 21, 8, 0, tzinfo=dt.timezone.utc)


def days_ago(n: int) -> dt.datetime:
    return NOW - dt.timedelta(days=n)


# --- sorting and paging ------------------------------------------------------------------

def test_sort_defaults_to_newest_first():
    assert listing.parse_sort(None, None) == listing.Sort("created_at", True)


@pytest.mark.parametrize("sort_by, attribute", [
    ("name", "name"), ("customerCode", "customer_code"), ("industry", "industry_type"),
    ("contactPerson", "primary_contact_name"), ("availableCredit", "available_credit"),
])
def test_sort_maps_api_names_to_customer_attributes(sort_by, attribute):
    assert listing.parse_sort(sort_by, "asc") == listing.Sort(attribute, False)


@pytest.mark.parametrize("sort_by", ["created_at", "password", "name; DROP TABLE customers", "id", ""])
def test_sort_refuses_fields_outside_the_whitelist(sort_by):
    if sort_by == "":
        assert listing.parse_sort(sort_by, None).attribute == "created_at"  # empty = default
        return
    with pytest.raises(listing.SortNotAllowed) as err:
        listing.parse_sort(sort_by, "asc")
    assert err.value.field == "sortBy" and "createdAt" in err.value.message


def test_sort_order_is_asc_or_desc_in_any_case():
    assert listing.parse_sort("rating", "ASC").descending is False
    with pytest.raises(listing.SortNotAllowed) as err:
        listing.parse_sort("rating", "up")
    assert err.value.field == "sortOrder"


@pytest.mark.parametrize("total, page, size, pages, has_next, has_previous", [
    (156, 1, 10, 16, True, False),
    (156, 16, 10, 16, False, True),
    (156, 20, 10, 16, False, True),   # past the end: empty page, no next
    (0, 1, 10, 0, False, False),
    (10, 1, 10, 1, False, False),
])
def test_page_info_matches_the_seed_page_response(total, page, size, pages, has_next, has_previous):
    info = listing.page_info(total, page, size)
    assert info == {"totalElements": total, "totalPages": pages, "currentPage": page, "pageSize": size,
                    "hasNext": has_next, "hasPrevious": has_previous}


# --- activation ----------------------------------------------------------------------------

@pytest.mark.parametrize("current, is_active, target", [
    ("active", True, None), ("inactive", True, "active"), ("potential", True, "active"),
    ("frozen", True, "active"), ("blacklisted", True, "active"),
    ("active", False, "inactive"), ("inactive", False, None),
    ("frozen", False, None), ("blacklisted", False, None), ("potential", False, None),
])
def test_activation_never_lifts_a_freeze_or_blacklisting_when_disabling(current, is_active, target):
    assert rules.status_for_activation(current, is_active) == target


def test_enabling_a_blacklisted_customer_is_refused_by_the_state_machine():
    target = rules.status_for_activation("blacklisted", True)
    with pytest.raises(rules.TransitionNotAllowed):
        rules.check_status_transition("blacklisted", target)


# --- overdue amount (FIFO ageing) ------------------------------------------------------------

def test_no_debt_means_nothing_overdue():
    position = overdue_position(Decimal(500), [BalanceChange(days_ago(90), Decimal(-1000))], 30, NOW)
    assert position.amount == 0 and position.days == 0


def test_recent_debt_within_payment_terms_is_not_overdue():
    position = overdue_position(Decimal(-15000), [BalanceChange(days_ago(10), Decimal(-15000))], 30, NOW)
    assert position.amount == 0 and position.days == 0


def test_only_charges_older_than_the_payment_terms_are_overdue():
    # 8000 charged 45 days ago, 7000 charged 5 days ago: seed example -15000 with 8000 overdue
    changes = [BalanceChange(days_ago(45), Decimal(-8000)), BalanceChange(days_ago(5), Decimal(-7000))]
    position = overdue_position(Decimal(-15000), changes, 30, NOW)
    assert position.amount == Decimal(8000) and position.days == 15


def test_payments_settle_the_oldest_charges_first():
    # 10000 charged 60 days ago, 6000 paid 20 days ago, 3000 charged 3 days ago -> owes 7000:
    # 3000 recent + 4000 left of the old charge, which is overdue.
    changes = [BalanceChange(days_ago(60), Decimal(-10000)), BalanceChange(days_ago(20), Decimal(6000)),
               BalanceChange(days_ago(3), Decimal(-3000))]
    position = overdue_position(Decimal(-7000), changes, 30, NOW)
    assert position.amount == Decimal(4000) and position.days == 30


def test_fully_paid_old_charges_do_not_count():
    changes = [BalanceChange(days_ago(90), Decimal(-5000)), BalanceChange(days_ago(80), Decimal(5000)),
               BalanceChange(days_ago(2), Decimal(-2000))]
    position = overdue_position(Decimal(-2000), changes, 30, NOW)
    assert position.amount == 0 and position.days == 0


def test_debt_older_than_the_ledger_is_aged_from_debt_since():
    position = overdue_position(Decimal(-5000), [], 15, NOW, debt_since=days_ago(40))
    assert position.amount == Decimal(5000) and position.days == 25
    unknown = overdue_position(Decimal(-5000), [], 15, NOW, debt_since=None)
    assert unknown.amount == 0 and unknown.days == 0


def test_zero_payment_terms_make_any_past_charge_overdue():
    position = overdue_position(Decimal(-100), [BalanceChange(days_ago(1), Decimal(-100))], 0, NOW)
    assert position.amount == Decimal(100) and position.days == 1
