"""May this customer get a new order? Seed 001's rules, decided by the customer's owner.

customer-service owns the customer and its state, so it answers the question
(``GET /api/v1/customers/{id}/order-eligibility``): each rule that refuses names itself —
``CUSTOMER_INACTIVE`` (§3.1 停用后不能创建新订单, never overridable), ``CUSTOMER_OVERDUE``
(§4.2 如果isOverdue，限制新订单创建) and ``CUSTOMER_HIGH_RISK`` (信用风险等级: 高风险客户 限制新订单),
the last two overridable. This module decides what that answer means for one new order:
refused by every rule still standing, or accepted — with the override that lifted the
overridable refusals, recorded with its operator.
"""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from .orders import Override

CUSTOMER_INACTIVE, CUSTOMER_OVERDUE, CUSTOMER_HIGH_RISK = "CUSTOMER_INACTIVE", "CUSTOMER_OVERDUE", "CUSTOMER_HIGH_RISK"
RULES = (CUSTOMER_INACTIVE, CUSTOMER_OVERDUE, CUSTOMER_HIGH_RISK)
OVERRIDABLE = (CUSTOMER_OVERDUE, CUSTOMER_HIGH_RISK)
# The owner said "not eligible" without naming a rule we know: refused, not overridable.
CUSTOMER_INELIGIBLE = "CUSTOMER_INELIGIBLE"


@dataclass(frozen=True)
class Refusal:
    rule: str
    message: str
    overridable: bool


@dataclass(frozen=True)
class Eligibility:
    """The owner's answer, as it gave it."""
    customer_id: int
    eligible: bool
    refusals: tuple[Refusal, ...] = ()
    status: str | None = None
    is_overdue: bool | None = None
    overdue_days: int | None = None
    risk_level: str | None = None
    open_orders: int | None = None
    last_order_date: dt.date | None = None


@dataclass(frozen=True)
class OverrideRequest:
    """What the caller asked to override, and why (``override`` in the order's body)."""
    rules: frozenset[str]
    reason: str


@dataclass(frozen=True)
class Decision:
    refusals: tuple[Refusal, ...]      # the refusals still standing: empty means accepted
    override: Override | None          # set when an override lifted at least one refusal

    @property
    def accepted(self) -> bool:
        return not self.refusals


def decide(eligibility: Eligibility, requested: OverrideRequest | None, *, operator_id: str,
           operator_name: str, now: dt.datetime) -> Decision:
    """Every refusal stands unless it is overridable and the caller named its rule in the
    override; the override is recorded only when it lifted something."""
    refusals = eligibility.refusals
    if not eligibility.eligible and not refusals:
        refusals = (Refusal(CUSTOMER_INELIGIBLE, f"客户 {eligibility.customer_id} 当前不能创建新订单", False),)
    named = requested.rules if requested else frozenset()
    lifted = tuple(r.rule for r in refusals if r.overridable and r.rule in named)
    standing = tuple(r for r in refusals if r.rule not in lifted)
    if standing or not lifted:
        return Decision(standing, None)
    return Decision((), Override(rules=lifted, reason=requested.reason, operator_id=operator_id,
                                 operator_name=operator_name, at=now))


def refusal_message(customer_id: int, refusals: tuple[Refusal, ...]) -> str:
    """One sentence naming every rule that refused, and how an overridable one is lifted."""
    parts = [f"{r.rule}：{r.message}" for r in refusals]
    text = f"客户 {customer_id} 不能创建新订单：" + "；".join(parts)
    overridable = [r.rule for r in refusals if r.overridable]
    if overridable and len(overridable) == len(refusals):
        text += f"（如确需下单，请在 override.rules 中注明 {', '.join(overridable)} 并填写 override.reason）"
    return text
