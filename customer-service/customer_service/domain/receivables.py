"""Ageing of what a customer owes (seed 001 §7.2 有欠款的客户): which part of the debt is
past its payment terms and for how long. Pure functions, no database.

The ledger is the customer's balance changes (``new - old``): a negative change is a new
charge, a positive one a payment. Payments settle the oldest charges first, so the debt
still open consists of the most recent charges; the part of it charged more than
``payment_terms`` days ago is overdue."""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from decimal import Decimal
from typing import Iterable

ZERO = Decimal(0)


@dataclass(frozen=True)
class BalanceChange:
    at: dt.datetime
    amount: Decimal  # new balance - old balance; negative = charged, positive = paid


@dataclass(frozen=True)
class OverduePosition:
    amount: Decimal               # 逾期金额: open debt charged more than payment_terms days ago
    days: int                     # 逾期天数: since the oldest open charge fell due
    oldest_open_charge: dt.datetime | None


def overdue_position(current_balance: Decimal, changes: Iterable[BalanceChange], payment_terms: int,
                     now: dt.datetime, debt_since: dt.datetime | None = None) -> OverduePosition:
    """FIFO ageing of the open debt. Debt the ledger cannot explain (it began before the
    ledger, e.g. an opening balance) is dated ``debt_since``; without that it is not aged."""
    open_debt = -Decimal(current_balance) if Decimal(current_balance) < 0 else ZERO
    if open_debt == 0:
        return OverduePosition(ZERO, 0, None)
    terms = dt.timedelta(days=int(payment_terms or 0))
    overdue, oldest = ZERO, None
    remaining = open_debt
    for change in sorted(changes, key=lambda c: c.at, reverse=True):  # newest first
        if remaining <= 0:
            break
        if change.amount >= 0:
            continue
        part = min(remaining, -Decimal(change.amount))
        remaining -= part
        oldest = change.at
        if change.at + terms < now:
            overdue += part
    if remaining > 0 and debt_since is not None:
        oldest = debt_since if oldest is None else min(oldest, debt_since)
        if debt_since + terms < now:
            overdue += remaining
    days = max(0, (now - (oldest + terms)).days) if oldest is not None and overdue > 0 else 0
    return OverduePosition(overdue, days, oldest)
