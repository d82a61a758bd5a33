"""The customer's audit trail: status history, rating history, credit limit changes and
balance transactions (``domain.history``), written in batches and read newest first."""
from __future__ import annotations

import dataclasses
from collections import defaultdict
from typing import Iterable

import sqlalchemy as sa
from sqlalchemy.orm import Session

from crm_common.paging import offset_page

from ..domain import history
from . import orm

# entry type -> (table, column holding the time)
TABLES = {
    history.StatusChange: (orm.customer_status_history, "changed_at"),
    history.RatingChange: (orm.rating_history, "changed_at"),
    history.CreditLimitChange: (orm.credit_limit_changes, "changed_at"),
    history.BalanceChange: (orm.balance_transactions, "created_at"),
}
BY_KIND = {"status": history.StatusChange, "rating": history.RatingChange,
           "credit_limit": history.CreditLimitChange, "balance": history.BalanceChange}


def _row(entry: history.Change, time_column: str) -> dict:
    row = dataclasses.asdict(entry)
    row[time_column] = row.pop("at")
    return row


class HistoryRepository:
    def __init__(self, session: Session):
        self.session = session

    def add(self, entries: Iterable[history.Change]) -> None:
        """One multi-row INSERT per kind of entry."""
        by_type: dict[type, list[dict]] = defaultdict(list)
        for entry in entries:
            table, time_column = TABLES[type(entry)]
            by_type[type(entry)].append(_row(entry, time_column))
        for kind, rows in by_type.items():
            self.session.execute(sa.insert(TABLES[kind][0]), rows)

    def page(self, kind: str, customer_id: int, *, page: int, page_size: int) -> tuple[list[history.Change], int]:
        """One customer's entries of ``kind``, newest first."""
        entry_type = BY_KIND[kind]
        table, time_column = TABLES[entry_type]
        stmt = (sa.select(table).where(table.c.customer_id == customer_id)
                .order_by(table.c[time_column].desc(), table.c.id.desc()))
        rows, total = offset_page(self.session, stmt, page, page_size, scalars=False,
                                  count=sa.select(sa.func.count()).select_from(table)
                                  .where(table.c.customer_id == customer_id))
        names = {f.name for f in dataclasses.fields(entry_type)}
        entries = []
        for row in rows:
            values = dict(row._mapping)
            values["at"] = values.pop(time_column)
            entries.append(entry_type(**{k: v for k, v in values.items() if k in names}))
        return entries, total
