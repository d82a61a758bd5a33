"""Orders as customer-service sees them (seed 001 §1.3, §3.1, §4.2, 信用风险等级), no
database. analytics-service owns the orders; its ``order.recorded`` / ``order.updated``
events tell this service, per order, its customer, date, status and amount. From those
facts each customer keeps an ``OrderSummary``; from the customer and its summary come the
answers to "may this customer be deleted?" and "may it get a new order?"."""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from decimal import Decimal
from typing import Iterable

from .model import CreditPosition, Customer, OrderSummary
from .rules import STATUS_LABELS

ORDER_STATUSES = ("PENDING", "CONFIRMED", "SHIPPED", "COMPLETED", "CANCELLED")
CLOSED = frozenset({"COMPLETED", "CANCELLED"})   # an order is open until one of these
CANCELLED = "CANCELLED"                          # counts in no figure (no revenue, no order)


@dataclass(frozen=True)
class OrderFact:
    """The latest known state of one order."""
    order_id: str
    customer_id: int
    status: str
    order_date: dt.date
    total_amount: Decimal


def is_open(status: str) -> bool:
    return status not in CLOSED


def summarise(customer_id: int, factory_id: str, facts: Iterable[OrderFact]) -> OrderSummary:
    """A customer's order figures from its orders: open ones, and count, revenue, first and
    last order date of those that were not cancelled."""
    facts = list(facts)
    counted = [f for f in facts if f.status != CANCELLED]
    dates = [f.order_date for f in counted]
    return OrderSummary(
        customer_id=customer_id, factory_id=factory_id,
        open_orders=sum(1 for f in facts if is_open(f.status)),
        total_orders=len(counted),
        total_revenue=sum((Decimal(f.total_amount) for f in counted), Decimal(0)),
        first_order_date=min(dates) if dates else None,
        last_order_date=max(dates) if dates else None)


# --- may this customer get a new order? -----------------------------------------------------

INACTIVE, OVERDUE, HIGH_RISK = "CUSTOMER_INACTIVE", "CUSTOMER_OVERDUE", "CUSTOMER_HIGH_RISK"


@dataclass(frozen=True)
class Refusal:
    rule: str
    message: str
    overridable: bool   # an order may still be recorded with an explicit, recorded override


@dataclass(frozen=True)
class Eligibility:
    customer: Customer
    position: CreditPosition
    refusals: tuple[Refusal, ...]

    @property
    def eligible(self) -> bool:
        return not self.refusals


def order_eligibility(customer: Customer, today: dt.date, tz: dt.tzinfo = dt.timezone.utc) -> Eligibility:
    """Seed 001: 停用后不能创建新订单 (any status but active: not overridable); 如果isOverdue，
    限制新订单创建 and 高风险客户 … 限制新订单 (overridable: finance may decide)."""
    position = customer.credit_position(today, tz)
    refusals = []
    if not customer.is_active:
        label = STATUS_LABELS.get(customer.status, customer.status)
        refusals.append(Refusal(INACTIVE, f"客户当前为{label}状态，不能创建新订单", overridable=False))
    if position.is_overdue:
        refusals.append(Refusal(OVERDUE, f"客户欠款已逾期 {position.overdue_days} 天，限制创建新订单", overridable=True))
    if position.risk_level == "HIGH_RISK":
        refusals.append(Refusal(HIGH_RISK, "高风险客户（超过信用额度或逾期超过 30 天），限制创建新订单", overridable=True))
    return Eligibility(customer, position, tuple(refusals))
