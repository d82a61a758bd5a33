"""客户细分策略 (RFM) of seed 001 as pure functions.

- R (Recency): days since the last counted order — fewer is better;
- F (Frequency): number of counted orders;
- M (Monetary): revenue of the counted orders.

Each value is cut into 高/中/低 within the tenant by its mid-rank percentile among the
customers that have orders: p = (customers with a worse value + half of those with the
same value, itself included) / n. p > 2/3 → 高 (score 3), p < 1/3 → 低 (score 1),
otherwise 中 (score 2). Ties always share a level; a lone customer is 中 on all three.

Segments (first match wins):
  重要价值客户 R高 F高 M高 · 重要保持客户 R低 F高 M高 · 重要发展客户 R高 F低 M高 ·
  流失预警客户 R低 F低 M低 · 一般客户: every other combination.
"""
from __future__ import annotations

from bisect import bisect_left, bisect_right
from dataclasses import dataclass
from decimal import Decimal
from fractions import Fraction
from typing import Sequence

import sqlalchemy as sa

HIGH, MEDIUM, LOW = 3, 2, 1
LEVEL_NAMES = {HIGH: "高", MEDIUM: "中", LOW: "低"}
SEGMENTS = ("重要价值客户", "重要保持客户", "重要发展客户", "一般客户", "流失预警客户")
_RULES = (
    ((HIGH, HIGH, HIGH), "重要价值客户"),
    ((LOW, HIGH, HIGH), "重要保持客户"),
    ((HIGH, LOW, HIGH), "重要发展客户"),
    ((LOW, LOW, LOW), "流失预警客户"),
)


def levels(values: Sequence[Decimal | int], higher_is_better: bool = True) -> list[int]:
    """The 高/中/低 score (3/2/1) of each value among all of them, by mid-rank percentile
    p = (below + equal / 2) / n."""
    n = len(values)
    keyed = [v if higher_is_better else -v for v in values]
    ordered = sorted(keyed)
    out = []
    for v in keyed:
        below = bisect_left(ordered, v)
        equal = bisect_right(ordered, v) - below
        p = Fraction(2 * below + equal, 2 * n)
        out.append(HIGH if p > Fraction(2, 3) else LOW if p < Fraction(1, 3) else MEDIUM)
    return out


def level_sql(value, n, higher_is_better: bool = True) -> sa.ColumnElement:
    """``levels`` as a window expression over the rows of one query (``n``: their count, e.g.
    ``count(*) OVER ()``): 2 × (below + equal / 2) = (rank - 1) + rows at or below, ties
    included (the default RANGE frame), compared in integers as 3 × that with 4n and 2n."""
    key = value if higher_is_better else value.desc()
    twice = (sa.func.rank().over(order_by=key) - 1) + sa.func.count().over(order_by=key)
    return sa.case((3 * twice > 4 * n, HIGH), (3 * twice < 2 * n, LOW), else_=MEDIUM)


def segment_sql(r, f, m) -> sa.ColumnElement:
    """``segment`` over three score columns."""
    return sa.case(*[(sa.and_(r == pr, f == pf, m == pm), name) for (pr, pf, pm), name in _RULES],
                   else_="一般客户")


def segment_order_sql(name) -> sa.ColumnElement:
    """The position of a segment column's value in ``SEGMENTS`` (the order lists show them in)."""
    return sa.case(*[(name == s, i) for i, s in enumerate(SEGMENTS)], else_=len(SEGMENTS))


def segment(r: int, f: int, m: int) -> str:
    for pattern, name in _RULES:
        if (r, f, m) == pattern:
            return name
    return "一般客户"


@dataclass(frozen=True)
class RfmInput:
    customer_id: int
    recency_days: int
    frequency: int
    monetary: Decimal


@dataclass(frozen=True)
class RfmResult:
    customer_id: int
    recency_days: int
    frequency: int
    monetary: Decimal
    r_score: int
    f_score: int
    m_score: int
    segment: str


def segment_customers(rows: Sequence[RfmInput]) -> list[RfmResult]:
    r = levels([row.recency_days for row in rows], higher_is_better=False)
    f = levels([row.frequency for row in rows])
    m = levels([row.monetary for row in rows])
    return [RfmResult(row.customer_id, row.recency_days, row.frequency, row.monetary,
                      r[i], f[i], m[i], segment(r[i], f[i], m[i])) for i, row in enumerate(rows)]


def segment_counts(results: Sequence[RfmResult]) -> dict[str, int]:
    counts = {name: 0 for name in SEGMENTS}
    for result in results:
        counts[result.segment] += 1
    return counts
