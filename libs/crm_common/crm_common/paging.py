"""Paging, once for every list (CONTRACT §4).

Two modes, chosen by the query:

- **offset pages** (``page`` from 1, ``page_size`` ≤ 100): ``{"items", "total", "page",
  "page_size", "total_pages"}``;
- **incremental sync** (``updated_since`` and/or ``cursor``): keyset pages ordered by
  (``updated_at``, ``id``): ``{"items", "page_size", "next_cursor"}``, ``next_cursor`` null on
  the last page. Soft-deleted rows are included (the caller marks them ``deleted: true``).

Why a keyset page is exact while others write: ``updated_at`` is the writing
transaction's start time on the database's clock (``now()``), and a page never includes a
row at or after the start of the oldest transaction still open in that database (the
*change horizon*). Every row before the horizon is committed for good, so a later page
cannot receive a row that sorts before the cursor: a client that keeps the cursor misses
no change and sees no row twice. Rows at or after the horizon come on a later page or the
next ``updated_since`` pass.
"""
from __future__ import annotations

import base64
import binascii
import datetime as dt
import json
import math
from dataclasses import dataclass
from typing import Any, Callable, Iterable, Sequence

import marshmallow as ma
import sqlalchemy as sa
from sqlalchemy.orm import Session

from .errors import ValidationError

MAX_PAGE_SIZE = 100
DEFAULT_PAGE_SIZE = 20


# --- offset pages ---------------------------------------------------------------------------

def page_body(items: Sequence, total: int, page: int, page_size: int) -> dict:
    """The CONTRACT §4 page around ``items``."""
    return {"items": list(items), "total": int(total), "page": page, "page_size": page_size,
            "total_pages": math.ceil(total / page_size) if total else 0}


def offset_page(session: Session, stmt: sa.Select, page: int, page_size: int, *,
                count: sa.Select | None = None, scalars: bool = True) -> tuple[list, int]:
    """(rows of ``page``, total) of ``stmt`` (already ordered). ``count`` overrides the
    default ``SELECT count(*) FROM (stmt)`` (e.g. a count without the joins)."""
    if count is None:
        count = sa.select(sa.func.count()).select_from(stmt.order_by(None).subquery())
    total = session.execute(count).scalar_one()
    paged = stmt.limit(page_size).offset((page - 1) * page_size)
    rows = session.execute(paged).scalars().all() if scalars else session.execute(paged).all()
    return list(rows), int(total)


# --- keyset pages (incremental sync) -------------------------------------------------------------

@dataclass(frozen=True)
class Cursor:
    updated_at: dt.datetime
    id: int

    def encode(self) -> str:
        raw = json.dumps([self.updated_at.astimezone(dt.timezone.utc).isoformat(), self.id],
                         separators=(",", ":")).encode()
        return base64.urlsafe_b64encode(raw).decode().rstrip("=")

    @classmethod
    def decode(cls, text: str, field: str = "cursor") -> "Cursor":
        """The cursor a previous page handed out; anything else is a 400 naming the field."""
        try:
            raw = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
            stamp, ident = json.loads(raw)
            moment = dt.datetime.fromisoformat(stamp)
            if moment.tzinfo is None or isinstance(ident, bool) or not isinstance(ident, int):
                raise ValueError
            return cls(moment, ident)
        except (ValueError, TypeError, binascii.Error, UnicodeDecodeError):
            raise ValidationError("游标无效：请使用上一页返回的 next_cursor",
                                  errors={field: ["游标无效：请使用上一页返回的 next_cursor"]}) from None


def change_horizon(session: Session) -> dt.datetime | None:
    """Start of the oldest transaction open in this database (other than ours), on the
    database's clock; ``None`` when none is open (or on SQLite, which has one writer)."""
    if session.get_bind().dialect.name != "postgresql":
        return None
    # Client sessions only: an autovacuum worker's transaction writes no rows of ours and
    # may run for minutes, holding every page back.
    oldest, now = session.execute(sa.text(
        "SELECT min(xact_start), now() FROM pg_stat_activity "
        "WHERE datname = current_database() AND pid <> pg_backend_pid() AND xact_start IS NOT NULL "
        "AND backend_type = 'client backend'")).one()
    return oldest if oldest is not None else now


def keyset_page(session: Session, stmt: sa.Select, *, updated_at: sa.ColumnElement, id_: sa.ColumnElement,
                page_size: int, updated_since: dt.datetime | None = None, cursor: Cursor | None = None,
                scalars: bool = True, key: Callable[[Any], tuple[dt.datetime, int]] | None = None
                ) -> tuple[list, str | None]:
    """(rows, next_cursor) of ``stmt`` (filtered, not ordered) in (updated_at, id) order,
    after ``cursor`` (exclusive) or from ``updated_since`` (inclusive), before the change
    horizon. ``key(row)`` gives a row's (updated_at, id) (default: attributes of those
    names)."""
    if cursor is not None:
        stmt = stmt.where(sa.tuple_(updated_at, id_) > sa.tuple_(sa.literal(cursor.updated_at), sa.literal(cursor.id)))
    if updated_since is not None:
        stmt = stmt.where(updated_at >= updated_since)
    horizon = change_horizon(session)
    if horizon is not None:
        stmt = stmt.where(updated_at < horizon)
    stmt = stmt.order_by(updated_at, id_).limit(page_size + 1)
    rows = list(session.execute(stmt).scalars().all() if scalars else session.execute(stmt).all())
    if len(rows) <= page_size:
        return rows, None
    rows = rows[:page_size]
    last = rows[-1]
    stamp, ident = key(last) if key else (last.updated_at, last.id)
    return rows, Cursor(stamp, int(ident)).encode()


def keyset_body(items: Iterable, page_size: int, next_cursor: str | None) -> dict:
    return {"items": list(items), "page_size": page_size, "next_cursor": next_cursor}


# --- query arguments and response schemas ------------------------------------------------------

class PageQuerySchema(ma.Schema):
    """``page``/``page_size`` plus the incremental-sync arguments; mix into a list's query
    schema. ``incremental`` in the loaded dict says which mode was asked for."""
    page = ma.fields.Integer(load_default=1, validate=ma.validate.Range(min=1, max=1_000_000),
                             metadata={"description": "Page number, from 1 (offset mode)"})
    page_size = ma.fields.Integer(load_default=DEFAULT_PAGE_SIZE, validate=ma.validate.Range(min=1, max=MAX_PAGE_SIZE),
                                  metadata={"description": f"Items per page (≤ {MAX_PAGE_SIZE})"})
    updated_since = ma.fields.AwareDateTime(
        load_default=None, default_timezone=dt.timezone.utc,
        metadata={"description": "Incremental sync: records changed at or after this instant "
                                 "(ISO 8601), deleted ones included, oldest change first; "
                                 "switches to keyset pages (`next_cursor`)",
                  "example": "2026-11-21T08:00:00Z"})
    cursor = ma.fields.String(load_default=None, validate=ma.validate.Length(max=200),
                              metadata={"description": "Incremental sync: `data.next_cursor` of the previous page"})

    @ma.post_load
    def mode(self, data, **_):
        data["incremental"] = data.get("updated_since") is not None or data.get("cursor") is not None
        if data.get("cursor") is not None:
            data["cursor"] = Cursor.decode(data["cursor"])
        return data


_PAGE_SCHEMAS: dict[tuple[type, str], type[ma.Schema]] = {}


def page_schema(item_schema: type[ma.Schema], name: str | None = None) -> type[ma.Schema]:
    """The schema of a page of ``item_schema`` in either mode (one declaration per item
    type): offset fields and ``next_cursor`` are each present in their mode only."""
    name = name or item_schema.__name__.removesuffix("Schema") + "PageSchema"
    key = (item_schema, name)
    if key not in _PAGE_SCHEMAS:
        _PAGE_SCHEMAS[key] = type(name, (ma.Schema,), {
            "items": ma.fields.List(ma.fields.Nested(item_schema), required=True),
            "total": ma.fields.Integer(metadata={"description": "Offset mode: matching records"}),
            "page": ma.fields.Integer(metadata={"description": "Offset mode"}),
            "page_size": ma.fields.Integer(required=True),
            "total_pages": ma.fields.Integer(metadata={"description": "Offset mode"}),
            "next_cursor": ma.fields.String(allow_none=True, metadata={
                "description": "Incremental mode: pass as `cursor` for the next page; null on the last page"}),
        })
    return _PAGE_SCHEMAS[key]
