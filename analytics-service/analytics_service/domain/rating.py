"""客户评级算法 of seed 001 as a pure function.

总分 = 订单金额(30%) + 付款及时性(40%) + 订单频率(20%) + 合作年限(10%):
1. order amount:      totalRevenue / factoryAvgRevenue × 30
2. payment timeliness: onTimePaymentRate (as a fraction) × 40
3. order frequency:   orderFrequency / factoryAvgFrequency × 20
4. cooperation years: min(daysSinceFirstOrder / 365, 5) × 2

Factory averages are taken over the tenant's customers that have at least one counted
order. A part whose input is unknown (no orders, nothing fallen due, average of 0) scores 0.
Parts are not capped, as the seed writes them: a customer far above the average may pass 100.
Stars: ≥ 90 → 5, 70–89.99 → 4, 50–69.99 → 3, 30–49.99 → 2, < 30 → 1.
"""
from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

import sqlalchemy as sa

from .orders import EXACT, round2

WEIGHT_AMOUNT = Decimal(30)
WEIGHT_PAYMENT = Decimal(40)
WEIGHT_FREQUENCY = Decimal(20)
YEARS_CAP = Decimal(5)
POINTS_PER_YEAR = Decimal(2)
STAR_BANDS = ((Decimal(90), 5), (Decimal(70), 4), (Decimal(50), 3), (Decimal(30), 2))


@dataclass(frozen=True)
class RatingScore:
    order_amount: Decimal
    payment_timeliness: Decimal
    order_frequency: Decimal
    cooperation_years: Decimal

    @property
    def total(self) -> Decimal:
        return self.order_amount + self.payment_timeliness + self.order_frequency + self.cooperation_years

    @property
    def stars(self) -> int:
        return star_band(self.total)


def _ratio(value: Decimal | None, average: Decimal | None) -> Decimal:
    if value is None or not average:
        return Decimal(0)
    return Decimal(value) / Decimal(average)


def rating_score(*, total_revenue: Decimal, factory_avg_revenue: Decimal | None,
                 on_time_payment_rate: Decimal | None, order_frequency: Decimal | None,
                 factory_avg_frequency: Decimal | None, days_since_first_order: int | None) -> RatingScore:
    """The four weighted parts, each rounded to 2 decimals (the total is their sum).
    ``on_time_payment_rate`` is in percent, as §5.1 shows it."""
    payment = Decimal(on_time_payment_rate or 0) / 100
    years = min(Decimal(days_since_first_order or 0) / 365, YEARS_CAP)
    return RatingScore(
        order_amount=round2(_ratio(total_revenue, factory_avg_revenue) * WEIGHT_AMOUNT),
        payment_timeliness=round2(payment * WEIGHT_PAYMENT),
        order_frequency=round2(_ratio(order_frequency, factory_avg_frequency) * WEIGHT_FREQUENCY),
        cooperation_years=round2(years * POINTS_PER_YEAR),
    )


def rating_total_sql(*, total_revenue, factory_avg_revenue: Decimal | None, on_time_paid_orders, fallen_due_orders,
                     order_frequency, factory_avg_frequency: Decimal | None, days_since_first_order
                     ) -> sa.ColumnElement:
    """``rating_score(...).total`` over columns (NULL inputs score 0), with the tenant
    averages as bound values: each part rounded to the cent (PostgreSQL's round(numeric, 2)
    rounds half away from zero, as ``round2`` does for these non-negative parts)."""
    def ratio(value, average, weight):
        if not average:
            return sa.literal(Decimal(0), sa.Numeric)
        part = sa.func.round(sa.cast(value, EXACT) / sa.cast(sa.literal(Decimal(average)), EXACT) * weight, 2)
        return sa.func.coalesce(part, 0)

    payment = sa.case((fallen_due_orders > 0, sa.func.round(
        sa.cast(on_time_paid_orders, EXACT) * WEIGHT_PAYMENT / fallen_due_orders, 2)), else_=0)
    years = sa.func.coalesce(sa.func.round(
        sa.func.least(sa.cast(days_since_first_order, EXACT) / 365, YEARS_CAP) * POINTS_PER_YEAR, 2), 0)
    return (ratio(total_revenue, factory_avg_revenue, WEIGHT_AMOUNT) + payment
            + ratio(order_frequency, factory_avg_frequency, WEIGHT_FREQUENCY) + years)


def star_band(total: Decimal) -> int:
    """评级标准: the stars a total score earns."""
    for floor, stars in STAR_BANDS:
        if total >= floor:
            return stars
    return 1
