"""Rules of seed 002's statistics (§4), as plain functions.

- ``viewing_count``: viewing records whose ``viewing_time`` falls in the period, whatever
  their status (every appointment made counts; a cancelled one too);
- ``total_commission``: the sum of those records' ``commission``;
- ``completed_unpaid_count`` / ``completed_paid_count``: live customers whose status is
  4 已成交未结佣 / 5 已成交已结佣. Without a date filter: all such customers of the tenant;
  with one: those among them that have at least one viewing record in the period.
- The period is inclusive calendar dates of ``viewing_time`` in APP_TIMEZONE.
"""
from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

COMPLETED_UNPAID = 4   # 已成交未结佣
COMPLETED_PAID = 5     # 已成交已结佣
# The periods a statistics query may name (calendar arithmetic stays far from the ends of
# Python's date range).
EARLIEST_DATE = dt.date(1970, 1, 1)
LATEST_DATE = dt.date(2099, 12, 31)


def period_bounds(date_from: dt.date | None, date_to: dt.date | None,
                  timezone: str) -> tuple[dt.datetime | None, dt.datetime | None]:
    """UTC [start, end) of the inclusive local calendar dates ``date_from``..``date_to``."""
    zone = ZoneInfo(timezone)
    start = end = None
    if date_from is not None:
        start = dt.datetime.combine(date_from, dt.time(), zone).astimezone(dt.timezone.utc)
    if date_to is not None:
        end = dt.datetime.combine(date_to + dt.timedelta(days=1), dt.time(), zone).astimezone(dt.timezone.utc)
    return start, end


def local_today(timezone: str, now: dt.datetime | None = None) -> dt.date:
    now = now or dt.datetime.now(dt.timezone.utc)
    return now.astimezone(ZoneInfo(timezone)).date()


def month_start(timezone: str, now: dt.datetime | None = None) -> dt.datetime:
    """UTC instant at which the current calendar month began in ``timezone``."""
    today = local_today(timezone, now)
    return dt.datetime.combine(today.replace(day=1), dt.time(), ZoneInfo(timezone)).astimezone(dt.timezone.utc)
