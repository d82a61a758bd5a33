"""Customer rules analytics needs, as plain functions (no database, no web).

The credit rules (type labels, credit, overdue debt, the 信用风险等级 levels) are the shared
library's ``crm_common.credit``, the same ones customer-service applies; this module adds
what only analytics needs. tests/unit/test_customer_rules.py pins them here too."""
from __future__ import annotations

from crm_common.credit import (  # noqa: F401
    CUSTOMER_TYPES,
    RISK_LEVELS,
    available_credit,
    credit_utilization,
    debt_due_at,
    exceeds_credit_limit,
    is_overdue,
    overdue_days,
    risk_level,
)

OTHER_LABEL = "其他"


def type_label(code: str | None) -> str:
    """企业/个人/经销商/零售; a missing or unknown type counts as 其他."""
    return CUSTOMER_TYPES.get(code or "", OTHER_LABEL)


def industry_label(industry: str | None) -> str:
    """The industry as stored; customers without one are counted under 其他."""
    industry = (industry or "").strip()
    return industry or OTHER_LABEL


def is_at_risk(rating: int, overdue: bool) -> bool:
    """风险客户 of seed 001 §5.4: 1-2 stars, or debt past its payment terms."""
    return rating <= 2 or overdue
