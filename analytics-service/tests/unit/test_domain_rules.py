"""The business rules of analytics, with no database: credit risk, order figures, the
rating score, RFM segmentation and the statistics period."""
from __future__ import annotations

import datetime as dt
from decimal import Decimal as D
from zoneinfo import ZoneInfo

import pytest

from analytics_service.domain import customers as c
from analytics_service.domain import orders as o
from analytics_service.domain import rating, rfm, viewings

NOW = dt.datetime(2026, 11, 21, 8, 0, tzinfo=dt.timezone.utc)


# --- customers ----------------------------------------------------------------------------

def test_type_and_industry_labels_fall_back_to_other():
    assert [c.type_label(t) for t in ("company", "individual", "dealer", "retail")] == ["企业", "个人", "经销商", "零售"]
    assert c.type_label(None) == "其他" and c.type_label("alien") == "其他"
    assert c.industry_label("餐饮") == "餐饮" and c.industry_label(None) == "其他" and c.industry_label("  ") == "其他"


def test_available_credit_and_utilisation_follow_seed_001():
    assert c.available_credit(D(100000), D(-15000)) == D(85000)
    assert c.credit_utilization(D(100000), D(-15000)) == D("15.00")
    assert c.credit_utilization(D(0), D(-5)) is None


def test_debt_is_overdue_only_after_its_payment_terms():
    since = NOW - dt.timedelta(days=40)
    assert c.debt_due_at(D(-1), since, 30) == since + dt.timedelta(days=30)
    assert c.overdue_days(D(-1), since, 30, NOW) == 10 and c.is_overdue(D(-1), since, 30, NOW)
    assert c.overdue_days(D(-1), since, 60, NOW) == 0 and not c.is_overdue(D(-1), since, 60, NOW)
    assert c.debt_due_at(D(0), since, 30) is None and not c.is_overdue(D(5), since, 0, NOW)


def test_overdue_counts_from_the_last_order_date_when_there_is_one():
    """Seed 001 §7.2: overdueDays = today − (lastOrderDate + paymentTerms); the day the debt
    began only when no (counted) order is known; days in the given zone."""
    today = dt.date(2026, 11, 30)
    debt_began = dt.datetime(2026, 11, 29, 20, 0, tzinfo=dt.timezone.utc)   # 30 Nov in Shanghai
    shanghai = ZoneInfo("Asia/Shanghai")
    last_order = dt.date(2026, 10, 16)                                        # 45 days before today
    assert c.overdue_days(D(-1), debt_began, 30, today, last_order_date=last_order, tz=shanghai) == 15
    assert c.overdue_days(D(-1), debt_began, 30, today, tz=shanghai) == 0     # the debt is a day old
    assert c.debt_due_date(D(-1), debt_began, 0, tz=shanghai) == today
    assert c.debt_due_date(D(-1), debt_began, 0) == today - dt.timedelta(days=1)   # in UTC: 29 Nov
    assert c.debt_due_date(D(0), debt_began, 30, last_order_date=last_order) is None
    due = c.debt_due_date(D(-1), debt_began, 30, last_order_date=last_order, tz=shanghai)
    assert c.days_past_due(due, today) == 15 and c.days_past_due(None, today) == 0
    assert c.days_past_due(due, dt.datetime(2026, 11, 29, 17, 0, tzinfo=dt.timezone.utc), shanghai) == 15


@pytest.mark.parametrize("rating_, limit, balance, days, level", [
    (5, D(1000), D(-100), 0, "EXCELLENT"),
    (5, D(0), D(0), 0, "EXCELLENT"),
    (5, D(1000), D(-500), 0, "NORMAL"),       # 50% used: not excellent
    (4, D(1000), D(-100), 0, "NORMAL"),
    (2, D(1000), D(0), 0, "RISK"),            # 1-2 stars
    (4, D(1000), D(-800), 0, "RISK"),         # above 70%
    (4, D(1000), D(-10), 3, "RISK"),          # overdue
    (5, D(1000), D(-1500), 0, "HIGH_RISK"),   # over the limit
    (5, D(1000), D(-10), 31, "HIGH_RISK"),    # more than 30 days overdue
    (3, D(1000), D(-10), 30, "RISK"),
])
def test_credit_risk_level_table(rating_, limit, balance, days, level):
    assert c.risk_level(rating_, limit, balance, days) == level


def test_at_risk_means_one_or_two_stars_or_overdue_debt():
    assert c.is_at_risk(1, False) and c.is_at_risk(2, False) and c.is_at_risk(4, True)
    assert not c.is_at_risk(3, False)


# --- orders -------------------------------------------------------------------------------

def _order(**kw):
    base = dict(order_id="O-1", customer_id=7, order_date=dt.date(2026, 1, 10), status="COMPLETED",
                payment_status="UNPAID", items=[{"product_name": "猪肉", "quantity": D(3), "unit_price": D("10.5")}])
    base.update(kw)
    return o.build_order(**base)


def test_order_defaults_subtotals_total_and_due_date():
    order = _order()
    assert order.items[0].subtotal == D("31.50") and order.total_amount == D("31.50")
    assert order.due_date == dt.date(2026, 2, 9)
    assert _order(total_amount=D(30)).total_amount == D("30.00")  # a given total (discount) stands


def test_order_rules_name_every_failing_field():
    with pytest.raises(o.OrderRejected) as exc:
        _order(payment_status="PAID", due_date=dt.date(2026, 1, 1),
               items=[{"product_name": "x", "quantity": D(2), "unit_price": D(5), "subtotal": D(11)}])
    assert set(exc.value.errors) == {"paid_date", "due_date", "items.0.subtotal"}
    with pytest.raises(o.OrderRejected) as exc:
        _order(paid_date=dt.date(2026, 1, 9))
    assert "paid_date" in exc.value.errors


def test_payment_days_and_lateness():
    order = _order(paid_date=dt.date(2026, 2, 12), payment_status="PAID")
    assert order.payment_days == 33 and order.late_days == 3
    assert _order().payment_days is None and _order().late_days is None


def test_customer_figures_from_order_totals():
    today = dt.date(2026, 11, 21)
    totals = o.OrderTotals(total_orders=4, total_revenue=D(1000), first_order_date=dt.date(2026, 5, 25),
                           last_order_date=dt.date(2026, 11, 1), paid_orders=3, total_payment_days=60,
                           on_time_paid_orders=2, max_late_days=5, unpaid_overdue_orders=1,
                           oldest_overdue_due_date=dt.date(2026, 11, 11))
    products = [o.ProductFigure("a", D(1), D(100)), o.ProductFigure("b", D(5), D(600)),
                o.ProductFigure("c", D(2), D(100)), o.ProductFigure("d", D(1), D(50)),
                o.ProductFigure("e", D(1), D(60)), o.ProductFigure("f", D(1), D(90))]
    stats = o.customer_statistics(7, totals, products, D(1000), D(-250), today, c.credit_utilization(D(1000), D(-250)))
    assert stats["avg_order_amount"] == D("250.00")
    assert stats["days_since_first_order"] == 180
    assert stats["order_frequency"] == D("0.67")                 # 4 orders / 6 months
    assert stats["total_products"] == 6
    assert [p.product_name for p in stats["top_products"]] == ["b", "c", "a", "f", "e"]
    assert stats["payment_stats"] == {"on_time_payment_rate": D("50.00"), "avg_payment_days": D("20.00"),
                                      "max_overdue_days": 10}
    assert stats["credit_utilization"] == D("25.00")
    assert stats["customer_lifetime_value"] == D("3000.00")      # 1000 + 1000 / 6 × 12


def test_figures_of_a_customer_without_orders_are_empty_not_invented():
    stats = o.customer_statistics(1, o.OrderTotals(), [], D(0), D(0), dt.date(2026, 1, 1), None)
    assert stats["total_orders"] == 0 and stats["total_revenue"] == D(0)
    assert stats["avg_order_amount"] is None and stats["order_frequency"] is None
    assert stats["customer_lifetime_value"] is None
    assert stats["payment_stats"] == {"on_time_payment_rate": None, "avg_payment_days": None, "max_overdue_days": 0}


def test_new_customer_counts_at_least_one_month():
    assert o.order_frequency(3, 0) == D(3)
    assert o.lifetime_value(D(100), 1, 10) == D(1300)


# --- rating score -------------------------------------------------------------------------

def test_rating_score_weights_the_four_parts_as_seed_001():
    score = rating.rating_score(total_revenue=D(2000), factory_avg_revenue=D(1000), on_time_payment_rate=D(75),
                                order_frequency=D(1), factory_avg_frequency=D(2), days_since_first_order=730)
    assert (score.order_amount, score.payment_timeliness, score.order_frequency, score.cooperation_years) == \
        (D("60.00"), D("30.00"), D("10.00"), D("4.00"))
    assert score.total == D("104.00") and score.stars == 5


def test_rating_score_caps_years_at_five_and_scores_unknowns_zero():
    score = rating.rating_score(total_revenue=D(0), factory_avg_revenue=None, on_time_payment_rate=None,
                                order_frequency=None, factory_avg_frequency=D(0), days_since_first_order=365 * 9)
    assert score.total == D("10.00") and score.stars == 1


@pytest.mark.parametrize("total, stars", [(D(90), 5), (D("89.99"), 4), (D(70), 4), (D(50), 3),
                                          (D("49.99"), 2), (D(30), 2), (D("29.99"), 1), (D(0), 1)])
def test_star_bands(total, stars):
    assert rating.star_band(total) == stars


# --- RFM ------------------------------------------------------------------------------------

def test_rfm_levels_cut_by_mid_rank_thirds_and_ties_share_a_level():
    assert rfm.levels([10, 20, 30]) == [1, 2, 3]
    assert rfm.levels([10, 20, 30], higher_is_better=False) == [3, 2, 1]
    assert rfm.levels([5]) == [2]
    assert rfm.levels([7, 7, 7, 7]) == [2, 2, 2, 2]
    assert rfm.levels([1, 2, 3, 4, 5, 6]) == [1, 1, 2, 2, 3, 3]


@pytest.mark.parametrize("scores, name", [((3, 3, 3), "重要价值客户"), ((1, 3, 3), "重要保持客户"),
                                          ((3, 1, 3), "重要发展客户"), ((1, 1, 1), "流失预警客户"),
                                          ((2, 2, 2), "一般客户"), ((3, 3, 2), "一般客户")])
def test_rfm_segments(scores, name):
    assert rfm.segment(*scores) == name


def test_segment_customers_and_counts():
    rows = [rfm.RfmInput(1, 5, 10, D(1000)), rfm.RfmInput(2, 50, 5, D(500)), rfm.RfmInput(3, 500, 1, D(10))]
    results = rfm.segment_customers(rows)
    assert [(r.r_score, r.f_score, r.m_score, r.segment) for r in results] == [
        (3, 3, 3, "重要价值客户"), (2, 2, 2, "一般客户"), (1, 1, 1, "流失预警客户")]
    assert rfm.segment_counts(results) == {"重要价值客户": 1, "重要保持客户": 0, "重要发展客户": 0,
                                           "一般客户": 1, "流失预警客户": 1}


# --- statistics period ----------------------------------------------------------------------

def test_period_is_inclusive_local_calendar_dates():
    start, end = viewings.period_bounds(dt.date(2026, 1, 1), dt.date(2026, 1, 31), "Asia/Shanghai")
    assert start == dt.datetime(2025, 12, 31, 16, 0, tzinfo=dt.timezone.utc)
    assert end == dt.datetime(2026, 1, 31, 16, 0, tzinfo=dt.timezone.utc)
    assert viewings.period_bounds(None, None, "UTC") == (None, None)


def test_month_start_and_today_are_local():
    late_utc = dt.datetime(2026, 11, 30, 17, 0, tzinfo=dt.timezone.utc)  # 1 Dec 01:00 in Shanghai
    assert viewings.local_today("Asia/Shanghai", late_utc) == dt.date(2026, 12, 1)
    assert viewings.month_start("Asia/Shanghai", late_utc) == dt.datetime(2026, 11, 30, 16, 0, tzinfo=dt.timezone.utc)
