"""Order facts, their lifecycle, and the per-customer figures of seed 001 §5.1 built from
them, as plain functions (no database, no web). Each figure the database also computes has
its SQL form right beside it (``*_sql``); tests/integration/test_formulas.py runs both over
one table of inputs.

Rules (README "Order lifecycle" and "Formulas"):
- statuses as seed 001's purchase history shows them; an order is open until it is
  COMPLETED or CANCELLED, and moves only forward (``TRANSITIONS``); nothing leaves
  COMPLETED or CANCELLED;
- an order counts towards every figure unless its status is CANCELLED (cancelled orders
  are still listed in the purchase history);
- an order without ``due_date`` is due ``DEFAULT_PAYMENT_TERMS_DAYS`` after its order date;
- an order is paid when it has a ``paid_date``; it was paid on time when paid on or before
  its due date; an unpaid order is overdue once its due date is before today.
"""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field, replace
from decimal import ROUND_HALF_UP, Decimal

import sqlalchemy as sa

PENDING, CONFIRMED, SHIPPED, COMPLETED, CANCELLED = "PENDING", "CONFIRMED", "SHIPPED", "COMPLETED", "CANCELLED"
ORDER_STATUSES = (PENDING, CONFIRMED, SHIPPED, COMPLETED, CANCELLED)
CLOSED_STATUSES = (COMPLETED, CANCELLED)
# Forward only (steps may be skipped: an ERP may report an order first when it shipped);
# CANCELLED from any open status; nothing leaves COMPLETED or CANCELLED.
TRANSITIONS: dict[str, tuple[str, ...]] = {
    PENDING: (CONFIRMED, SHIPPED, COMPLETED, CANCELLED),
    CONFIRMED: (SHIPPED, COMPLETED, CANCELLED),
    SHIPPED: (COMPLETED, CANCELLED),
    COMPLETED: (),
    CANCELLED: (),
}
STATUS_LABELS = {PENDING: "待确认", CONFIRMED: "已确认", SHIPPED: "已发货", COMPLETED: "已完成", CANCELLED: "已取消"}
PAYMENT_STATUSES = ("UNPAID", "PARTIAL", "PAID")
PAYMENT_FIELDS = ("payment_status", "paid_date")
DEFAULT_STATUS = COMPLETED    # an order recorded after the fact, as seed 001's history shows
DEFAULT_PAYMENT_TERMS_DAYS = 30
MAX_BATCH = 1000
DAYS_PER_MONTH = Decimal(30)
CLV_HORIZON_MONTHS = Decimal(12)
TOP_PRODUCTS = 5

CENT = Decimal("0.01")
QTY = Decimal("0.001")
# Bounds of what an order may say: far inside the columns (NUMERIC(18,2), NUMERIC(18,3)) and
# the per-customer sums, so that no valid order can overflow anything it is added to.
MAX_MONEY = Decimal(10) ** 12          # per unit price, line, order total
MAX_QUANTITY = Decimal(10) ** 9
MAX_LINES = 500
EARLIEST_DATE = dt.date(2000, 1, 1)
LATEST_DATE = dt.date(2099, 12, 31)


def round2(value) -> Decimal:
    return Decimal(value).quantize(CENT, rounding=ROUND_HALF_UP)


# --- the lifecycle ----------------------------------------------------------------------------

def is_open(status: str) -> bool:
    """Open until COMPLETED or CANCELLED (customer-service refuses to delete a customer with
    an open order)."""
    return status not in CLOSED_STATUSES


def counts_towards_figures(status: str) -> bool:
    return status != CANCELLED


def may_become(current: str, new: str) -> bool:
    return new == current or new in TRANSITIONS[current]


class OrderRejected(ValueError):
    """An order that breaks a rule: ``errors`` maps field -> [messages]."""

    def __init__(self, errors: dict[str, list[str]]):
        super().__init__("; ".join(f"{k}: {', '.join(v)}" for k, v in errors.items()))
        self.errors = errors


class OrderChangeRefused(ValueError):
    """A change the lifecycle does not allow (409): ``code`` says which rule."""

    def __init__(self, code: str, message: str, field_name: str):
        super().__init__(message)
        self.code, self.message, self.field = code, message, field_name


@dataclass(frozen=True)
class OrderLine:
    product_name: str
    quantity: Decimal
    unit_price: Decimal
    subtotal: Decimal


@dataclass(frozen=True)
class Override:
    """An explicit decision to record an order despite overridable refusals (seed 001's
    overdue and high-risk rules), recorded with the operator who made it."""
    rules: tuple[str, ...]
    reason: str
    operator_id: str
    operator_name: str
    at: dt.datetime


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
    override: Override | None = None

    @property
    def counts(self) -> bool:
        return counts_towards_figures(self.status)

    @property
    def open(self) -> bool:
        return is_open(self.status)

    @property
    def payment_days(self) -> int | None:
        """Days from order to payment (``None`` while unpaid)."""
        return None if self.paid_date is None else (self.paid_date - self.order_date).days

    @property
    def late_days(self) -> int | None:
        """Days the payment came after the due date (≤ 0: on time; ``None`` while unpaid)."""
        return None if self.paid_date is None else (self.paid_date - self.due_date).days

    def with_override(self, override: Override | None) -> "Order":
        return replace(self, override=override)


@dataclass(frozen=True)
class RecordedOrder:
    """An order as stored: its facts, its row id (the event's ``aggregate_id``), version,
    where it came from and when."""
    order: Order
    pk: int
    version: int
    source: str = "api"
    created_at: dt.datetime | None = None
    updated_at: dt.datetime | None = None


def _check_number(errors: dict, name: str, value: Decimal | None, *, step: Decimal, maximum: Decimal,
                  positive: bool = False) -> None:
    """Range first (a 4,000-digit number must not reach ``quantize``), then precision."""
    if value is None:
        return
    low_ok = value > 0 if positive else value >= 0
    if not value.is_finite() or not low_ok or value > maximum:
        errors.setdefault(name, []).append(f"应{'大于' if positive else '不小于'} 0 且不超过 {maximum}")
    elif value != value.quantize(step):
        errors.setdefault(name, []).append(f"最多保留 {-step.as_tuple().exponent} 位小数")


def _check_date(errors: dict, name: str, value: dt.date | None) -> None:
    if value is not None and not EARLIEST_DATE <= value <= LATEST_DATE:
        errors.setdefault(name, []).append(f"日期应在 {EARLIEST_DATE} 到 {LATEST_DATE} 之间")


def build_order(*, order_id: str, customer_id: int, order_date: dt.date, status: str,
                payment_status: str, items: list[dict], total_amount: Decimal | None = None,
                due_date: dt.date | None = None, paid_date: dt.date | None = None) -> Order:
    """An ``Order`` with its defaults filled in, or ``OrderRejected`` naming every field
    that is wrong (amounts and dates out of bounds, more decimals than a cent, a line whose
    subtotal is not quantity × unit price, payment dates before the order).

    Defaults: a line's ``subtotal`` is quantity × unit price; ``total_amount`` is the sum of
    the subtotals (a given total may differ: discounts, freight); ``due_date`` is the order
    date + 30 days."""
    errors: dict[str, list[str]] = {}
    if status not in ORDER_STATUSES:
        errors.setdefault("status", []).append(f"订单状态必须是 {'/'.join(ORDER_STATUSES)} 之一")
    if payment_status not in PAYMENT_STATUSES:
        errors.setdefault("payment_status", []).append(f"付款状态必须是 {'/'.join(PAYMENT_STATUSES)} 之一")
    if len(items) > MAX_LINES:
        errors.setdefault("items", []).append(f"每个订单最多 {MAX_LINES} 条明细")
    for name, value in (("order_date", order_date), ("due_date", due_date), ("paid_date", paid_date)):
        _check_date(errors, name, value)
    _check_number(errors, "total_amount", total_amount, step=CENT, maximum=MAX_MONEY)
    lines = []
    for i, item in enumerate(items[:MAX_LINES]):
        quantity, price = Decimal(item["quantity"]), Decimal(item["unit_price"])
        given = None if item.get("subtotal") is None else Decimal(item["subtotal"])
        before = len(errors)
        _check_number(errors, f"items.{i}.quantity", quantity, step=QTY, maximum=MAX_QUANTITY, positive=True)
        _check_number(errors, f"items.{i}.unit_price", price, step=CENT, maximum=MAX_MONEY)
        _check_number(errors, f"items.{i}.subtotal", given, step=CENT, maximum=MAX_MONEY)
        if len(errors) > before:
            continue
        computed = round2(quantity * price)
        if given is None and computed > MAX_MONEY:
            errors.setdefault(f"items.{i}.subtotal", []).append(f"数量 × 单价 超过 {MAX_MONEY}")
        elif given is not None and abs(given - computed) > CENT:
            errors.setdefault(f"items.{i}.subtotal", []).append(f"小计应等于数量 × 单价（{computed}）")
        lines.append(OrderLine(str(item["product_name"]), quantity, price, given if given is not None else computed))
    if payment_status == "PAID" and paid_date is None:
        errors.setdefault("paid_date", []).append("已付款（PAID）的订单需要付款日期 paid_date")
    if paid_date is not None and order_date is not None and paid_date < order_date:
        errors.setdefault("paid_date", []).append("付款日期不能早于下单日期")
    if due_date is not None and order_date is not None and due_date < order_date:
        errors.setdefault("due_date", []).append("到期日期不能早于下单日期")
    total = total_amount if total_amount is not None else sum((line.subtotal for line in lines), Decimal(0))
    if total_amount is None and not errors and total > MAX_MONEY:
        errors.setdefault("total_amount", []).append(f"明细小计之和超过 {MAX_MONEY}")
    if errors:
        raise OrderRejected(errors)
    return Order(order_id=order_id, customer_id=int(customer_id), order_date=order_date,
                 total_amount=round2(total), status=status, payment_status=payment_status,
                 due_date=due_date or order_date + dt.timedelta(days=DEFAULT_PAYMENT_TERMS_DAYS),
                 paid_date=paid_date, items=tuple(lines))


def amend(order: Order, *, status: str | None = None, payment_status: str | None = None,
          paid_date: dt.date | None = None) -> Order:
    """The order with a new status and/or its payment recorded (a ``paid_date`` alone means
    PAID), or ``OrderRejected`` naming the field. Whether the lifecycle allows the change is
    ``check_change``'s to say."""
    errors: dict[str, list[str]] = {}
    status = status or order.status
    if paid_date is not None and payment_status is None:
        payment_status = "PAID"
    payment_status = payment_status or order.payment_status
    paid = paid_date if paid_date is not None else order.paid_date
    if status not in ORDER_STATUSES:
        errors.setdefault("status", []).append(f"订单状态必须是 {'/'.join(ORDER_STATUSES)} 之一")
    if payment_status not in PAYMENT_STATUSES:
        errors.setdefault("payment_status", []).append(f"付款状态必须是 {'/'.join(PAYMENT_STATUSES)} 之一")
    _check_date(errors, "paid_date", paid_date)
    if payment_status == "PAID" and paid is None:
        errors.setdefault("paid_date", []).append("已付款（PAID）的订单需要付款日期 paid_date")
    if paid is not None and paid < order.order_date:
        errors.setdefault("paid_date", []).append("付款日期不能早于下单日期")
    if errors:
        raise OrderRejected(errors)
    return replace(order, status=status, payment_status=payment_status, paid_date=paid)


def changed_fields(before: Order, after: Order) -> list[str]:
    """The order's fields that differ (``override`` is the recording's, not a change)."""
    names = ("customer_id", "order_date", "total_amount", "status", "payment_status", "due_date", "paid_date",
             "items")
    return [name for name in names if getattr(before, name) != getattr(after, name)]


def check_change(before: Order, after: Order) -> list[str]:
    """The fields a change of a recorded order changes, or ``OrderChangeRefused``:
    - an order belongs to one customer for good;
    - its status moves along ``TRANSITIONS`` only;
    - once COMPLETED or CANCELLED only its payment (payment_status, paid_date) may still
      be recorded."""
    changed = changed_fields(before, after)
    if "customer_id" in changed:
        raise OrderChangeRefused("ORDER_CUSTOMER_CHANGED", f"订单 {before.order_id} 属于客户 {before.customer_id}，不能改为其他客户",
                                 "customer_id")
    if not may_become(before.status, after.status):
        allowed = "、".join(TRANSITIONS[before.status]) or "无（已结束的订单不能再改变状态）"
        raise OrderChangeRefused(
            "ORDER_STATUS_TRANSITION",
            f"订单 {before.order_id} 的状态不能从 {before.status} 改为 {after.status}；允许的下一状态：{allowed}",
            "status")
    if not before.open:
        fixed = [name for name in changed if name not in PAYMENT_FIELDS]
        if fixed:
            raise OrderChangeRefused(
                "ORDER_CLOSED",
                f"订单 {before.order_id} 已{STATUS_LABELS[before.status]}，只能再记录付款（payment_status、paid_date），"
                f"不能修改 {', '.join(fixed)}", fixed[0])
    return changed


# --- per-customer figures (seed 001 §5.1) ------------------------------------------------

@dataclass(frozen=True)
class OrderTotals:
    """What the figures of one customer need, over its counted (not cancelled) orders."""
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


def _unpaid_overdue(order: Order, today: dt.date) -> bool:
    return order.paid_date is None and order.due_date < today


def order_totals(orders: list[Order], today: dt.date) -> OrderTotals:
    """``OrderTotals`` of one customer's orders (cancelled ones left out)."""
    counted = [o for o in orders if o.counts]
    if not counted:
        return OrderTotals()
    paid = [o for o in counted if o.paid_date is not None]
    overdue = [o for o in counted if _unpaid_overdue(o, today)]
    return OrderTotals(
        total_orders=len(counted), total_revenue=sum((o.total_amount for o in counted), Decimal(0)),
        first_order_date=min(o.order_date for o in counted), last_order_date=max(o.order_date for o in counted),
        paid_orders=len(paid), total_payment_days=sum(o.payment_days for o in paid),
        on_time_paid_orders=sum(1 for o in paid if o.late_days <= 0),
        max_late_days=max((o.late_days for o in paid), default=None),
        unpaid_overdue_orders=len(overdue),
        oldest_overdue_due_date=min((o.due_date for o in overdue), default=None))


def order_totals_sql(o, today: dt.date) -> list[sa.ColumnElement]:
    """``order_totals`` as the aggregate columns of one grouped query over the orders table
    ``o`` (its ``counted``, ``payment_days`` and ``late_days`` are stored at write time from
    ``Order.counts``, ``.payment_days`` and ``.late_days``); filter it by ``o.counted``."""
    overdue = sa.and_(o.paid_date.is_(None), o.due_date < today)
    return [
        sa.func.count().label("total_orders"),
        sa.func.coalesce(sa.func.sum(o.total_amount), 0).label("total_revenue"),
        sa.func.min(o.order_date).label("first_order_date"),
        sa.func.max(o.order_date).label("last_order_date"),
        sa.func.count(o.paid_date).label("paid_orders"),
        sa.func.coalesce(sa.func.sum(o.payment_days), 0).label("total_payment_days"),
        sa.func.coalesce(sa.func.sum(sa.case((o.late_days <= 0, 1), else_=0)), 0).label("on_time_paid_orders"),
        sa.func.max(o.late_days).label("max_late_days"),
        sa.func.coalesce(sa.func.sum(sa.case((overdue, 1), else_=0)), 0).label("unpaid_overdue_orders"),
        sa.func.min(sa.case((overdue, o.due_date), else_=None)).label("oldest_overdue_due_date"),
    ]


def days_since_first_order(first_order_date: dt.date | None, today: dt.date) -> int | None:
    return None if first_order_date is None else max(0, (today - first_order_date).days)


# SQL forms divide at this scale: 30 decimals, more than the 28 significant digits of
# Python's Decimal context, so a rounded part lands on the same cent.
EXACT = sa.Numeric(60, 30)


def days_since_first_order_sql(first_order_date, today: dt.date) -> sa.ColumnElement:
    """``days_since_first_order`` (NULL without orders); PostgreSQL's date - date."""
    return sa.func.greatest(sa.literal(today, sa.Date) - first_order_date, 0)


def order_frequency_sql(total_orders, days_since_first) -> sa.ColumnElement:
    """``order_frequency`` (NULL without orders)."""
    months = sa.func.greatest(sa.cast(days_since_first, EXACT) / DAYS_PER_MONTH, 1)
    return sa.case((total_orders > 0, sa.cast(total_orders, EXACT) / months), else_=sa.null())


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
