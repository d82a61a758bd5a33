"""The order rules with no I/O: the lifecycle (which status may follow which, what a closed
order still accepts), the bounds of an order's facts, and what the owner's eligibility
answer means for a new order (refusals, overrides)."""
from __future__ import annotations

import datetime as dt
from decimal import Decimal as D

import pytest

from analytics_service.domain import eligibility as e
from analytics_service.domain import orders as o

NOW = dt.datetime(2026, 11, 21, 8, 0, tzinfo=dt.timezone.utc)


def order(**kw) -> o.Order:
    base = dict(order_id="O-1", customer_id=7, order_date=dt.date(2026, 1, 10), status="PENDING",
                payment_status="UNPAID", items=[{"product_name": "猪肉", "quantity": D(3), "unit_price": D("10.5")}])
    base.update(kw)
    return o.build_order(**base)


# --- lifecycle ------------------------------------------------------------------------------

@pytest.mark.parametrize("before, after, allowed", [
    ("PENDING", "CONFIRMED", True), ("PENDING", "SHIPPED", True), ("PENDING", "COMPLETED", True),
    ("PENDING", "CANCELLED", True), ("CONFIRMED", "SHIPPED", True), ("SHIPPED", "COMPLETED", True),
    ("SHIPPED", "CANCELLED", True), ("CONFIRMED", "PENDING", False), ("SHIPPED", "CONFIRMED", False),
    ("COMPLETED", "CANCELLED", False), ("COMPLETED", "PENDING", False), ("CANCELLED", "PENDING", False),
    ("CANCELLED", "COMPLETED", False), ("COMPLETED", "COMPLETED", True), ("PENDING", "PENDING", True),
])
def test_an_order_moves_forward_only_and_never_leaves_completed_or_cancelled(before, after, allowed):
    assert o.may_become(before, after) is allowed
    if not allowed:
        with pytest.raises(o.OrderChangeRefused) as exc:
            o.check_change(order(status=before), order(status=after))
        assert exc.value.code == "ORDER_STATUS_TRANSITION" and exc.value.field == "status"
        assert before in exc.value.message and after in exc.value.message


def test_open_means_until_completed_or_cancelled():
    assert [s for s in o.ORDER_STATUSES if o.is_open(s)] == ["PENDING", "CONFIRMED", "SHIPPED"]
    assert order(status="SHIPPED").open and not order(status="COMPLETED").open


def test_a_closed_order_still_takes_its_payment_but_nothing_else():
    done = order(status="COMPLETED")
    paid = o.amend(done, paid_date=dt.date(2026, 2, 1))
    assert o.check_change(done, paid) == ["payment_status", "paid_date"] and paid.payment_status == "PAID"
    with pytest.raises(o.OrderChangeRefused) as exc:
        o.check_change(done, order(status="COMPLETED", total_amount=D(1)))
    assert exc.value.code == "ORDER_CLOSED" and exc.value.field == "total_amount"


def test_an_order_keeps_its_customer_and_an_identical_resend_changes_nothing():
    with pytest.raises(o.OrderChangeRefused) as exc:
        o.check_change(order(), order(customer_id=8))
    assert exc.value.code == "ORDER_CUSTOMER_CHANGED"
    assert o.check_change(order(), order()) == []


def test_amending_checks_the_payment_rules():
    with pytest.raises(o.OrderRejected) as exc:
        o.amend(order(), payment_status="PAID")
    assert set(exc.value.errors) == {"paid_date"}
    with pytest.raises(o.OrderRejected) as exc:
        o.amend(order(), paid_date=dt.date(2025, 12, 31))
    assert "付款日期不能早于下单日期" in exc.value.errors["paid_date"]


# --- bounds of the facts ----------------------------------------------------------------------

@pytest.mark.parametrize("kw, field", [
    (dict(order_date=dt.date(9999, 12, 31)), "order_date"),
    (dict(order_date=dt.date(1, 1, 1)), "order_date"),
    (dict(paid_date=dt.date(2150, 1, 1), payment_status="PAID"), "paid_date"),
    (dict(total_amount=D(10) ** 13), "total_amount"),
    (dict(total_amount=D("0.125")), "total_amount"),
    (dict(total_amount=D(int("9" * 4000))), "total_amount"),
    (dict(items=[{"product_name": "p", "quantity": D(10) ** 9, "unit_price": D(10) ** 12}]), "items.0.subtotal"),
    (dict(items=[{"product_name": "p", "quantity": D("0.0001"), "unit_price": D(1)}]), "items.0.quantity"),
    (dict(items=[{"product_name": "p", "quantity": D(0), "unit_price": D(1)}]), "items.0.quantity"),
    (dict(items=[{"product_name": "p", "quantity": D(1), "unit_price": D("-1")}]), "items.0.unit_price"),
    (dict(items=[{"product_name": "p", "quantity": D(1), "unit_price": D("1.005")}]), "items.0.unit_price"),
    (dict(items=[{"product_name": "p", "quantity": D(int("9" * 4000)), "unit_price": D(1)}]), "items.0.quantity"),
])
def test_facts_out_of_bounds_are_refused_naming_the_field(kw, field):
    with pytest.raises(o.OrderRejected) as exc:
        order(**kw)
    assert field in exc.value.errors


def test_the_largest_valid_order_fits_every_column():
    big = order(items=[{"product_name": "p", "quantity": D(10) ** 6, "unit_price": D(10) ** 6}])
    assert big.total_amount == o.MAX_MONEY and big.due_date == dt.date(2026, 2, 9)


# --- eligibility: refusals and overrides --------------------------------------------------------------

INACTIVE = e.Refusal(e.CUSTOMER_INACTIVE, "客户已停用", False)
OVERDUE = e.Refusal(e.CUSTOMER_OVERDUE, "逾期 15 天", True)
HIGH_RISK = e.Refusal(e.CUSTOMER_HIGH_RISK, "高风险客户", True)


def decide(*refusals, override=None):
    answer = e.Eligibility(customer_id=7, eligible=not refusals, refusals=tuple(refusals))
    return e.decide(answer, override, operator_id="u-9", operator_name="李财务", now=NOW)


def test_an_eligible_customer_gets_the_order_and_no_override_is_recorded():
    decision = decide(override=e.OverrideRequest(frozenset({e.CUSTOMER_OVERDUE}), "无需"))
    assert decision.accepted and decision.override is None


def test_every_refusing_rule_stands_without_an_override():
    decision = decide(OVERDUE, HIGH_RISK)
    assert not decision.accepted and [r.rule for r in decision.refusals] == [e.CUSTOMER_OVERDUE, e.CUSTOMER_HIGH_RISK]
    message = e.refusal_message(7, decision.refusals)
    assert "CUSTOMER_OVERDUE" in message and "CUSTOMER_HIGH_RISK" in message and "override.rules" in message


def test_an_override_lifts_only_the_overridable_rules_it_names_and_is_recorded_with_its_operator():
    partial = decide(OVERDUE, HIGH_RISK, override=e.OverrideRequest(frozenset({e.CUSTOMER_OVERDUE}), "已承诺还款"))
    assert [r.rule for r in partial.refusals] == [e.CUSTOMER_HIGH_RISK] and partial.override is None
    full = decide(OVERDUE, HIGH_RISK, override=e.OverrideRequest(frozenset({e.CUSTOMER_OVERDUE, e.CUSTOMER_HIGH_RISK}),
                                                                  "经理批准"))
    assert full.accepted
    assert full.override == o.Override(rules=(e.CUSTOMER_OVERDUE, e.CUSTOMER_HIGH_RISK), reason="经理批准",
                                       operator_id="u-9", operator_name="李财务", at=NOW)


def test_an_inactive_customer_is_refused_whatever_the_override():
    decision = decide(INACTIVE, OVERDUE, override=e.OverrideRequest(frozenset({e.CUSTOMER_OVERDUE}), "试试"))
    assert [r.rule for r in decision.refusals] == [e.CUSTOMER_INACTIVE] and decision.override is None


def test_not_eligible_without_a_named_rule_is_still_a_refusal():
    decision = e.decide(e.Eligibility(customer_id=7, eligible=False), None, operator_id="u", operator_name="n",
                        now=NOW)
    assert [r.rule for r in decision.refusals] == [e.CUSTOMER_INELIGIBLE]
