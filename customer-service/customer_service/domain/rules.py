"""Business rules of customers as plain functions (no database, no web): credit, risk,
status transitions, identity codes, contact formats. Unit tests live in tests/unit."""
from __future__ import annotations

import datetime as dt
import re
import uuid
from decimal import Decimal

from crm_common.formats import is_mobile_phone, is_phone  # noqa: F401 - re-exported rules

# --- enumerations (stored codes; the tenant API shows the Chinese labels) -------------

CUSTOMER_TYPES = {"company": "企业", "individual": "个人", "dealer": "经销商", "retail": "零售"}
TYPE_BY_LABEL = {label: code for code, label in CUSTOMER_TYPES.items()}
VALUE_LEVELS = ("vip", "important", "normal", "low")
COMPANY_SIZES = ("micro", "small", "medium", "large")
STATUSES = ("potential", "active", "inactive", "frozen", "blacklisted")
STATUS_LABELS = {"potential": "潜在", "active": "启用", "inactive": "停用", "frozen": "冻结",
                 "blacklisted": "黑名单"}

# Customer status state machine (seed 003): which status may follow which.
STATUS_TRANSITIONS: dict[str, frozenset[str]] = {
    "potential": frozenset({"active", "inactive", "blacklisted"}),
    "active": frozenset({"inactive", "frozen", "blacklisted"}),
    "inactive": frozenset({"active", "blacklisted"}),
    "frozen": frozenset({"active", "inactive", "blacklisted"}),
    "blacklisted": frozenset({"inactive"}),
}



class TransitionNotAllowed(ValueError):
    pass


def check_status_transition(current: str, target: str) -> None:
    if target not in STATUS_TRANSITIONS:
        raise TransitionNotAllowed(f"未知状态 {target}")
    if current == target:
        return
    if target not in STATUS_TRANSITIONS.get(current, frozenset()):
        raise TransitionNotAllowed(f"客户状态不能从 {current} 变更为 {target}")


def status_for_activation(current: str, is_active: bool) -> str | None:
    """Seed 001 §3.1 switches ``isActive``; on the status state machine that means moving
    to ``active``, or to ``inactive`` from ``active``. A customer who is already not active
    (inactive, potential, frozen, blacklisted) stays as is when deactivated, so that
    停用 never lifts a freeze or a blacklisting. ``None``: nothing to change."""
    if is_active:
        return None if current == "active" else "active"
    return "inactive" if current == "active" else None


def generate_customer_code(source: str | None, today: dt.date, unique: str | None = None) -> str:
    """SourcePrefixStrategy of seed 003: source prefix + date + a unique suffix."""
    prefix = re.sub(r"[^A-Z0-9]", "", (source or "CUS").upper())[:8] or "CUS"
    suffix = (unique or uuid.uuid4().hex[:10]).upper()
    return f"{prefix}-{today:%Y%m%d}-{suffix}"[:50]


# --- money ---------------------------------------------------------------------------------

def available_credit(credit_limit: Decimal, current_balance: Decimal) -> Decimal:
    """可用额度 = 信用额度 - abs(当前余额) (seed 001)."""
    return Decimal(credit_limit) - abs(Decimal(current_balance))


def debt(current_balance: Decimal) -> Decimal:
    """What the customer owes (negative balance means debt)."""
    balance = Decimal(current_balance)
    return -balance if balance < 0 else Decimal(0)


def credit_utilization(credit_limit: Decimal, current_balance: Decimal) -> Decimal | None:
    """abs(currentBalance) / creditLimit × 100, in percent; ``None`` without a limit."""
    limit = Decimal(credit_limit)
    if limit <= 0:
        return None
    return (abs(Decimal(current_balance)) / limit * 100).quantize(Decimal("0.01"))


def exceeds_credit_limit(credit_limit: Decimal, current_balance: Decimal) -> bool:
    """Warning condition of seed 001 §4.1: currentBalance < -creditLimit."""
    return Decimal(current_balance) < -Decimal(credit_limit)


def overdue_days(current_balance: Decimal, debt_since: dt.datetime | None, payment_terms: int,
                 now: dt.datetime) -> int:
    """Days past the payment terms of the current debt (0 when not overdue)."""
    if Decimal(current_balance) >= 0 or debt_since is None:
        return 0
    due = debt_since + dt.timedelta(days=int(payment_terms or 0))
    return max(0, (now - due).days)


def is_overdue(current_balance: Decimal, debt_since: dt.datetime | None, payment_terms: int,
               now: dt.datetime) -> bool:
    if Decimal(current_balance) >= 0 or debt_since is None:
        return False
    return now > debt_since + dt.timedelta(days=int(payment_terms or 0))


# Credit risk levels of seed 001's 信用风险等级 table.
RISK_LEVELS = {
    "EXCELLENT": {"label": "优质客户", "color": "green"},
    "NORMAL": {"label": "正常客户", "color": "yellow"},
    "RISK": {"label": "风险客户", "color": "orange"},
    "HIGH_RISK": {"label": "高风险客户", "color": "red"},
}


def risk_level(rating: int, credit_limit: Decimal, current_balance: Decimal, days_overdue: int) -> str:
    """High risk: over the credit limit or more than 30 days overdue. Risk: 1-2 stars or
    utilisation above 70% or overdue. Excellent: 5 stars, utilisation below 30%, never
    overdue. Otherwise normal."""
    utilization = credit_utilization(credit_limit, current_balance)
    owes = Decimal(current_balance) < 0
    if (owes and exceeds_credit_limit(credit_limit, current_balance)) or days_overdue > 30:
        return "HIGH_RISK"
    if rating <= 2 or (utilization is not None and utilization > 70) or days_overdue > 0:
        return "RISK"
    if rating == 5 and (utilization is None or utilization < 30):
        return "EXCELLENT"
    return "NORMAL"
