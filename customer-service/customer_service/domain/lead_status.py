"""Lead status of an external (seed 002) customer and how viewings move it. Pure rules.

    1 跟进中  2 客户不再回复  3 已约带看  4 已成交未结佣  5 已成交已结佣
"""
from __future__ import annotations

from decimal import Decimal
from typing import Iterable

FOLLOWING_UP, NO_REPLY, VIEWING_BOOKED, DEAL_UNPAID, DEAL_PAID = 1, 2, 3, 4, 5
LEAD_STATUSES = {
    FOLLOWING_UP: "跟进中",
    NO_REPLY: "客户不再回复",
    VIEWING_BOOKED: "已约带看",
    DEAL_UNPAID: "已成交未结佣",
    DEAL_PAID: "已成交已结佣",
}
DEFAULT_LEAD_STATUS = FOLLOWING_UP

# Viewing-record values that move a customer (seed 002 带看状态 / 带看反馈).
VIEWING_CONFIRMED = 2  # viewing_status 已确认
DEAL = 1               # viewing_feedback 已成交


def status_after_viewing(current: int | None, *, viewing_status: int | None,
                         viewing_feedback: int | None) -> int | None:
    """The lead status one viewing record moves its customer to, or ``None`` for no move.

    A deal moves the customer to 已成交未结佣 unless it is already 已成交已结佣 (a settled
    commission never goes back); a confirmed viewing moves 跟进中 or 不再回复 to 已约带看.
    Nothing ever moves a customer backwards, so the outcome does not depend on the order
    in which the records of one customer arrive."""
    current = current or DEFAULT_LEAD_STATUS
    if viewing_feedback == DEAL:
        return None if current in (DEAL_UNPAID, DEAL_PAID) else DEAL_UNPAID
    if viewing_status == VIEWING_CONFIRMED and current in (FOLLOWING_UP, NO_REPLY):
        return VIEWING_BOOKED
    return None


def viewing_totals(commissions: Iterable) -> tuple[int, Decimal]:
    """(带看次数, 总佣金) from the latest commission of each of a customer's records."""
    values = [Decimal(str(c or 0)) for c in commissions]
    return len(values), sum(values, Decimal(0))
