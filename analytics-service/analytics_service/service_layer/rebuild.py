"""Rebuilding the read model from the owners' current state (``analytics-service rebuild``).

1. Read every page of each owner's snapshot (no transaction open meanwhile).
2. In one transaction, holding applied_versions exclusively (the consumer waits), replace
   each source's table (``ReadModel.replace``): snapshot rows win unless the consumer
   applied a strictly newer version meanwhile; rows the owner no longer has go, unless the
   consumer applied them after the rebuild began. Older events still in flight are then
   ignored by the version check.
Orders are owned here and are not touched; each customer's due day (``debt_due_date``) is
computed again from them (also how a changed APP_TIMEZONE reaches the stored days). A source that fails aborts the whole rebuild.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Iterable

import sqlalchemy as sa

from crm_common import logs
from crm_common.db import utcnow

from ..adapters import orm
from .projection import customer_row, viewing_row
from .unit_of_work import AnalyticsUnitOfWork

log = logs.get_logger("analytics.rebuild")


@dataclass(frozen=True)
class Source:
    name: str                      # "customers" | "viewing-records"
    table: sa.Table
    aggregate_type: str            # as the producer's events name it
    to_row: Callable[[dict, int], dict]
    pages: Callable[[], Iterable[list[dict]]]


def sources(customer_pages, viewing_pages) -> dict[str, Source]:
    return {
        "customers": Source("customers", orm.customers, "customer", customer_row, customer_pages),
        "viewing-records": Source("viewing-records", orm.viewing_records, "viewing_record", viewing_row,
                                  viewing_pages),
    }


def rebuild(uow: AnalyticsUnitOfWork, chosen: list[Source], *, consumer: str) -> dict:
    started = utcnow()
    fetched: dict[str, list[dict]] = {}
    for source in chosen:
        rows = []
        for page in source.pages():
            rows.extend(source.to_row(item, int(item.get("version") or 0)) for item in page)
        fetched[source.name] = rows
        log.info("snapshot_fetched", source=source.name, rows=len(rows))
    report = {}
    with uow:
        uow.read_model.lock_versions()
        for source in chosen:
            report[source.name] = uow.read_model.replace(source.table, source.aggregate_type, fetched[source.name],
                                                         consumer=consumer, started=started)
        if any(source.table is orm.customers for source in chosen):
            uow.read_model.recompute_summaries()
            report["due_dates_changed"] = uow.read_model.refresh_due_dates()
        uow.commit()
    log.info("rebuild_done", **report)
    return report
