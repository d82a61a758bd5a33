"""Order facts and the per-customer figures of seed 001 §5.1 built from them, as plain
functions (no database, no web).

Rules (README "Formulas"):
- an order counts towards every figure unless its status is CANCELLED (cancelled orders
  are still listed in the purchase history);
- an order without ``due_date`` is due ``DEFAULT_PAYMENT_TERMS_DAYS`` after its order date;
- an order is paid when it has a ``paid_date``; it was paid on time when paid on or before
  its due date; an unpaid order is overdue once its due date is before today.
"""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal

ORDER_STATUSES = ("PENDING", "CONFIRMED", "SHIPPED", "COMPLETED", "CANCELLED")
PAYMENT_STATUSES = ("UNPAID", "PARTIAL", "PAID")
CANCELLED = "CANCELLED"
DEFAULT_PAYMENT_TERMS_DAYS = 30
MAX_BATCH = 1000
DAYS_PER_MONTH = Decimal(30)
CLV_HORIZON_MONTHS = Decimal(12)
TOP_PRODUCTS = 5

CENT = Decimal("0.01")
QTY = Decimal("0.001")


def round2(value) -> Decimal:
    return Decimal(value).quantize(CENT, rounding=ROUND_HALF_UP)


class OrderRejected(ValueError):
    """An order that breaks a rule: ``errors`` maps field -> [messages]."""

    def __init__(self, errors: dict[str, list[str]]):
        super().__init__("; ".join(f"{k}: {', '.join(v)}" for k, v in errors.items()))
        self.errors = errors


@dataclass(frozen=True)
class OrderLine:
    product_name: str
    quantity: Decimal
    unit_price: Decimal
    subtotal: Decimal


@dataclass(frozen=True)
class Order:
    order_id: str
    customer_id: int
    order_date: dt.date
    total_amount: Decimal
    status: str
    payment_status: str
    due_date: dt.date
    paid_date: dt.date | None
    items: tuple[OrderLine, ...] = field(default_factory=tuple)

    @property
    def counts(self) -> bool:
        return counts_towards_figures(self.status)

    @property
    def payment_days(self) -> int | None:
        """Days from order to payment (``None`` while unpaid)."""
        return None if self.paid_date is None else (self.paid_date - self.order_date).days

    @property
    def late_days(self) -> int | None:
        """Days the payment came after the due date (≤ 0: on time; ``None`` while unpaid)."""
        return None if self.paid_date is None else (self.paid_date - self.due_date).days


def counts_towards_figures(status: str) -> bool:
    return status != CANCELLED


def build_order(*, order_id: str, customer_id: int, order_date: dt.date, status: str,
                payment_status: str, items: list[dict], total_amount: Decimal | None = None,
                due_date: dt.date | None = None, paid_date: dt.date | None = None) -> Order:
    """An ``Order`` with its defaults filled in, or ``OrderRejected`` naming what is wrong.

    Defaults: a line's ``subtotal`` is quantity × unit price; ``total_amount`` is the sum of
    the subtotals (a given total may differ: discounts, freight); ``due_date`` is the order
    date + 30 days."""
    errors: dict[str, list[str]] = {}
    lines = []
    for i, item in enumerate(items):
        quantity, price = Decimal(item["quantity"]), Decimal(item["unit_price"])
        computed = round2(quantity * price)
        given = item.get("subtotal")
        if given is not None and abs(Decimal(given) - computed) > CENT:
            errors.setdefault(f"items.{i}.subtotal", []).append(
                f"小计应等于数量 × 单价（{computed}）")
        lines.append(OrderLine(str(item["product_name"]), quantity.quantize(QTY), round2(price),
                               round2(given) if given is not None else computed))
    if payment_status == "PAID" and paid_date is None:
        errors.setdefault("paid_date", []).append("已付款（PAID）的订单需要付款日期 paid_date")
    if paid_date is not None and paid_date < order_date:
        errors.setdefault("paid_date", []).append("付款日期不能早于下单日期")
    if due_date is not None and due_date < order_date:
        errors.setdefault("due_date", []).append("到期日期不能早于下单日期")
    if errors:
        raise OrderRejected(errors)
    total = round2(total_amount) if total_amount is not None else round2(sum((l.subtotal for l in lines), Decimal(0)))
    return Order(order_id=order_id, customer_id=int(customer_id), order_date=order_date,
                 total_amount=total, status=status, payment_status=payment_status,
                 due_date=due_date or order_date + dt.timedelta(days=DEFAULT_PAYMENT_TERMS_DAYS),
                 paid_date=paid_date, items=tuple(lines))


# --- per-customer figures (seed 001 §5.1) ------------------------------------------------

@dataclass(frozen=True)
class OrderTotals:
    """What the database aggregates over one customer's counted (not cancelled) orders."""
    total_orders: int = 0
    total_revenue: Decimal = Decimal(0)
    first_order_date: dt.date | None = None
    last_order_date: dt.date | None = None
    paid_orders: int = 0
    total_payment_days: int = 0
    on_time_paid_orders: int = 0
    max_late_days: int | None = None          # over paid orders; ≤ 0 means all on time
    unpaid_overdue_orders: int = 0            # unpaid, due date before today
    oldest_overdue_due_date: dt.date | None = None


def days_since_first_order(first_order_date: dt.date | None, today: dt.date) -> int | None:
    return None if first_order_date is None else max(0, (today - first_order_date).days)


def active_months(days_since_first: int | None) -> Decimal | None:
    """Months (of 30 days) since the first order, at least one."""
    if days_since_first is None:
        return None
    return max(Decimal(days_since_first) / DAYS_PER_MONTH, Decimal(1))


def order_frequency(total_orders: int, days_since_first: int | None) -> Decimal | None:
    """Orders per month: total orders / months since the first order (at least one month)."""
    months = active_months(days_since_first)
    if months is None or total_orders == 0:
        return None
    return Decimal(total_orders) / months


def average_order_amount(total_orders: int, total_revenue: Decimal) -> Decimal | None:
    return None if total_orders == 0 else Decimal(total_revenue) / total_orders


def on_time_payment_rate(t: OrderTotals) -> Decimal | None:
    """Percent of the orders that have fallen due (paid, or unpaid past due) that were paid
    on or before their due date; ``None`` when none has fallen due yet."""
    fallen_due = t.paid_orders + t.unpaid_overdue_orders
    if fallen_due == 0:
        return None
    return Decimal(t.on_time_paid_orders) * 100 / fallen_due


def average_payment_days(t: OrderTotals) -> Decimal | None:
    """Mean days from order to payment over paid orders."""
    return None if t.paid_orders == 0 else Decimal(t.total_payment_days) / t.paid_orders


def max_overdue_days(t: OrderTotals, today: dt.date) -> int:
    """The longest lateness: a late payment's days past due, or an unpaid order's days past
    due as of today; 0 when nothing was ever late."""
    late = max(t.max_late_days or 0, 0)
    if t.oldest_overdue_due_date is not None:
        late = max(late, (today - t.oldest_overdue_due_date).days)
    return late


def lifetime_value(total_revenue: Decimal, total_orders: int, days_since_first: int | None) -> Decimal | None:
    """客户生命周期价值 (estimate): revenue so far plus the next 12 months at the customer's
    historical monthly revenue, i.e. revenue + revenue / active months × 12."""
    months = active_months(days_since_first)
    if months is None or total_orders == 0:
        return None
    return Decimal(total_revenue) + Decimal(total_revenue) / months * CLV_HORIZON_MONTHS


def _r(value) -> Decimal | None:
    return None if value is None else round2(value)


@dataclass(frozen=True)
class ProductFigure:
    product_name: str
    quantity: Decimal
    revenue: Decimal


def top_products(products: list[ProductFigure], n: int = TOP_PRODUCTS) -> list[ProductFigure]:
    """Best sellers by revenue (ties: larger quantity, then name)."""
    return sorted(products, key=lambda p: (-p.revenue, -p.quantity, p.product_name))[:n]


def customer_statistics(customer_id: int, totals: OrderTotals, products: list[ProductFigure],
                        credit_limit: Decimal, current_balance: Decimal, today: dt.date,
                        credit_utilization: Decimal | None) -> dict:
    """The figures of seed 001 §5.1 for one customer (money and rates to 2 decimals)."""
    days = days_since_first_order(totals.first_order_date, today)
    return {
        "customer_id": customer_id,
        "total_orders": totals.total_orders,
        "total_revenue": round2(totals.total_revenue),
        "avg_order_amount": _r(average_order_amount(totals.total_orders, totals.total_revenue)),
        "last_order_date": totals.last_order_date,
        "first_order_date": totals.first_order_date,
        "days_since_first_order": days,
        "order_frequency": _r(order_frequency(totals.total_orders, days)),
        "total_products": len(products),
        "top_products": top_products(products),
        "payment_stats": {
            "on_time_payment_rate": _r(on_time_payment_rate(totals)),
            "avg_payment_days": _r(average_payment_days(totals)),
            "max_overdue_days": max_overdue_days(totals, today),
        },
        "credit_utilization": credit_utilization,
        "customer_lifetime_value": _r(lifetime_value(totals.total_revenue, totals.total_orders, days)),
    }
