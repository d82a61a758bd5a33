"""Rebuilding the read model from the owners' current state (``analytics-service rebuild``).

1. Read every page of each owner's snapshot (no transaction open meanwhile).
2. In one transaction, holding applied_versions exclusively (the consumer waits):
   - each snapshot row replaces the read-model row and becomes the aggregate's applied
     version, unless the consumer applied a strictly newer version meanwhile (kept);
   - read-model rows absent from the snapshot go, unless the consumer applied them after
     the rebuild began.
   Older events still in flight are then ignored by the version check.
Orders are owned here and are not touched. A source that fails aborts the whole rebuild.
"""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Callable, Iterable

import sqlalchemy as sa
from sqlalchemy.orm import Session

from crm_common import logs
from crm_common.db import utcnow

from ..adapters import orm
from .projection import customer_row, viewing_row

log = logs.get_logger("analytics.rebuild")
CHUNK = 2000


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


def _chunks(items: list, size: int = CHUNK):
    for start in range(0, len(items), size):
        yield items[start:start + size]


def rebuild(session_factory: Callable[[], Session], chosen: list[Source], *, consumer: str) -> dict:
    started = utcnow()
    fetched: dict[str, list[dict]] = {}
    for source in chosen:
        rows = []
        for page in source.pages():
            rows.extend(source.to_row(item, int(item.get("version") or 0)) for item in page)
        fetched[source.name] = rows
        log.info("snapshot_fetched", source=source.name, rows=len(rows))
    report = {}
    session = session_factory()
    try:
        with session.begin():
            if session.get_bind().dialect.name == "postgresql":
                session.execute(sa.text("LOCK TABLE applied_versions IN EXCLUSIVE MODE"))
            for source in chosen:
                report[source.name] = _replace(session, source, fetched[source.name], consumer, started)
    finally:
        session.close()
    log.info("rebuild_done", **{k: v for k, v in report.items()})
    return report


def _replace(session: Session, source: Source, rows: list[dict], consumer: str, started: dt.datetime) -> dict:
    av = orm.applied_versions.c
    table = source.table
    applied = {r.aggregate_id: (r.version, r.updated_at) for r in session.execute(
        sa.select(av.aggregate_id, av.version, av.updated_at)
        .where(av.consumer == consumer, av.aggregate_type == source.aggregate_type))}
    snapshot_ids = {str(row["id"]) for row in rows}
    write = [row for row in rows if applied.get(str(row["id"]), (-1, None))[0] <= row["version"]]
    kept = len(rows) - len(write)
    # Rows the owner no longer has, unless the consumer brought them in during the rebuild.
    existing = {str(i) for i in session.scalars(sa.select(table.c.id))}
    gone = [i for i in existing - snapshot_ids if not (i in applied and applied[i][1] >= started)]
    id_type = table.c.id.type.python_type
    for chunk in _chunks(gone):
        session.execute(sa.delete(table).where(table.c.id.in_([id_type(i) for i in chunk])))
    for chunk in _chunks(write):
        session.execute(sa.delete(table).where(table.c.id.in_([row["id"] for row in chunk])))
        session.execute(sa.insert(table), chunk)
    now = utcnow()
    stale = [str(row["id"]) for row in write if str(row["id"]) in applied]
    for chunk in _chunks(stale):
        session.execute(sa.delete(orm.applied_versions).where(
            av.consumer == consumer, av.aggregate_type == source.aggregate_type, av.aggregate_id.in_(chunk)))
    versions = [{"consumer": consumer, "aggregate_type": source.aggregate_type, "aggregate_id": str(row["id"]),
                 "version": row["version"], "occurred_at": None, "updated_at": now} for row in write]
    for chunk in _chunks(versions):
        session.execute(sa.insert(orm.applied_versions), chunk)
    return {"snapshot": len(rows), "written": len(write), "kept_newer": kept, "removed": len(gone)}
