"""Each viewing record's latest contribution to its customer (seed 002 统计信息自动计算)."""
from __future__ import annotations

from decimal import Decimal

import sqlalchemy as sa
from sqlalchemy.orm import Session

from crm_common.db import upsert

from . import orm

v = orm.viewing_facts.c


class ViewingRepository:
    def __init__(self, session: Session):
        self.session = session

    def customer_of(self, record_id: str) -> int | None:
        """The customer the record counted for so far (``None``: a new record)."""
        return self.session.scalar(sa.select(v.customer_id).where(v.viewing_record_id == record_id))

    def save(self, record_id: str, *, customer_id: int, factory_id: str, commission: Decimal,
             viewing_status: int | None, viewing_feedback: int | None, version: int, now) -> None:
        values = {"customer_id": customer_id, "factory_id": factory_id, "commission": commission,
                  "viewing_status": viewing_status, "viewing_feedback": viewing_feedback, "version": version,
                  "updated_at": now}
        upsert(self.session, orm.viewing_facts, {"viewing_record_id": record_id, **values},
               index_elements=[v.viewing_record_id], set_=values)

    def commissions_of(self, customer_id: int) -> list[Decimal]:
        return list(self.session.scalars(sa.select(v.commission).where(v.customer_id == customer_id)))
