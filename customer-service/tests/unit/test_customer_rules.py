"""Customer business rules, no database."""
import datetime as dt
from decimal import Decimal

import pytest

from customer_service.domain import rules
from customer_service.domain.errors import CustomerHasDebt
from customer_service.domain.model import Customer

NOW = dt.datetime(2026, 11, 21, 8, 0, tzinfo=dt.timezone.utc)


def test_available_credit_is_limit_minus_absolute_balance():
    assert rules.available_credit(Decimal(100000), Decimal(-15000)) == Decimal(85000)
    assert rules.available_credit(Decimal(100000), Decimal(5000)) == Decimal(95000)


def test_credit_utilization_in_percent_and_none_without_limit():
    assert rules.credit_utilization(Decimal(100000), Decimal(-25000)) == Decimal("25.00")
    assert rules.credit_utilization(Decimal(0), Decimal(-10)) is None


@pytest.mark.parametrize("rating, limit, balance, overdue, expected", [
    (5, 100000, -10000, 0, "EXCELLENT"),
    (5, 100000, -50000, 0, "NORMAL"),      # 50% utilisation is not excellent
    (4, 100000, -50000, 0, "NORMAL"),
    (2, 100000, 0, 0, "RISK"),
    (4, 100000, -80000, 0, "RISK"),        # > 70% utilisation
    (4, 100000, -10000, 5, "RISK"),        # overdue
    (5, 100000, -120000, 0, "HIGH_RISK"),  # over the limit
    (4, 100000, -10000, 31, "HIGH_RISK"),  # overdue more than 30 days
])
def test_risk_levels_follow_the_seed_table(rating, limit, balance, overdue, expected):
    assert rules.risk_level(rating, Decimal(limit), Decimal(balance), overdue) == expected


def test_overdue_counts_from_when_the_debt_began_plus_payment_terms_without_orders():
    since = NOW - dt.timedelta(days=45)
    assert rules.overdue_days(Decimal(-1), since, 30, NOW) == 15
    assert rules.overdue_days(Decimal(-1), since, 60, NOW) == 0
    assert rules.overdue_days(Decimal(0), since, 30, NOW) == 0


def test_status_machine_allows_and_refuses_transitions():
    assert rules.transition_allowed("active", "inactive") and rules.transition_allowed("active", "active")
    assert not rules.transition_allowed("blacklisted", "active") and not rules.transition_allowed("active", "gone")


def test_customer_code_has_source_prefix_and_date():
    code = rules.generate_customer_code("rb", dt.date(2026, 11, 21), "abc")
    assert code == "RB-20261121-ABC"
    assert rules.generate_customer_code(None, dt.date(2026, 1, 2), "x").startswith("CUS-20260102-")


@pytest.mark.parametrize("value, ok", [("13800138000", True), ("021-12345678", True), ("01012345678", True),
                                       ("12800138000", False), ("abc", False), ("", False)])
def test_phone_formats(value, ok):
    assert rules.is_phone(value) is ok


def test_customer_owing_money_cannot_be_deleted():
    customer = Customer(current_balance=Decimal(-10), factory_id="F", name="x")
    with pytest.raises(CustomerHasDebt) as err:
        customer.soft_delete(operator_id="u", operator_name="n", now=NOW)
    assert err.value.params == {"amount": Decimal(10)}
    customer.set_balance(Decimal(0), NOW)
    customer.soft_delete(operator_id="u", operator_name="n", now=NOW)
    assert customer.is_deleted


def test_apply_changes_reports_only_real_changes():
    customer = Customer(name="A", primary_contact_name="张三")
    assert customer.apply_changes({"name": "A", "primary_contact_name": "李四"}, operator_id="u",
                                  operator_name="n", now=NOW) == ["primary_contact_name"]


def test_balance_tracks_when_debt_began():
    customer = Customer()
    customer.set_balance(Decimal(-100), NOW)
    assert customer.debt_since == NOW
    customer.set_balance(Decimal(-200), NOW + dt.timedelta(days=1))
    assert customer.debt_since == NOW  # still the same debt
    customer.set_balance(Decimal(50), NOW + dt.timedelta(days=2))
    assert customer.debt_since is None
