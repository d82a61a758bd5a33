"""Business rules of customers as plain functions (no database, no web): status transitions,
identity codes, and (from ``crm_common.credit``, shared with analytics) credit, overdue and
risk. Unit tests live in tests/unit."""
from __future__ import annotations

import datetime as dt
import re
import uuid

from crm_common.auth import DomainScope
from crm_common.credit import (  # noqa: F401 - the credit rules, re-exported for the domain
    CUSTOMER_TYPES,
    RISK_LEVELS,
    available_credit,
    available_credit_sql,
    credit_utilization,
    debt,
    exceeds_credit_limit,
    overdue_amount,
    overdue_days,
    risk_level,
)
from crm_common.formats import is_mobile_phone, is_phone  # noqa: F401 - re-exported rules

# --- enumerations (stored codes; the tenant API shows the Chinese labels) -------------

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


def transition_allowed(current: str, target: str) -> bool:
    """Staying is always allowed; a move only along ``STATUS_TRANSITIONS``."""
    if target not in STATUS_TRANSITIONS:
        return False
    return current == target or target in STATUS_TRANSITIONS.get(current, frozenset())


def status_for_activation(current: str, is_active: bool) -> str | None:
    """Seed 001 §3.1 switches ``isActive``; on the status state machine that means moving
    to ``active``, or to ``inactive`` from ``active``. A customer who is already not active
    (inactive, potential, frozen, blacklisted) stays as is when deactivated, so that
    停用 never lifts a freeze or a blacklisting. ``None``: nothing to change."""
    if is_active:
        return None if current == "active" else "active"
    return "inactive" if current == "active" else None


def default_domain(scope: DomainScope) -> str:
    """A new record's business domain when none is given: the caller's only one, else DEFAULT."""
    if not scope.everything and len(scope.codes) == 1:
        return next(iter(scope.codes))
    return "DEFAULT"


def generate_customer_code(source: str | None, today: dt.date, unique: str | None = None) -> str:
    """SourcePrefixStrategy of seed 003: source prefix + date + a unique suffix."""
    prefix = re.sub(r"[^A-Z0-9]", "", (source or "CUS").upper())[:8] or "CUS"
    suffix = (unique or uuid.uuid4().hex[:10]).upper()
    return f"{prefix}-{today:%Y%m%d}-{suffix}"[:50]
