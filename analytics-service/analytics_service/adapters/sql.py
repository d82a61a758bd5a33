"""Dialect helpers: one upsert for PostgreSQL and SQLite (both speak ON CONFLICT)."""
from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.orm import Session


def insert_for(session: Session | sa.Connection):
    dialect = session.get_bind().dialect.name if isinstance(session, Session) else session.dialect.name
    if dialect == "postgresql":
        from sqlalchemy.dialects.postgresql import insert
    elif dialect == "sqlite":
        from sqlalchemy.dialects.sqlite import insert
    else:  # pragma: no cover
        raise RuntimeError(f"unsupported dialect {dialect}")
    return insert


def upsert(session: Session, table: sa.Table, rows: dict | list[dict], keys: list[str], *,
           newer_only: str | None = None) -> None:
    """INSERT ... ON CONFLICT (keys) DO UPDATE every other column. ``newer_only`` names a
    version column: an existing row is replaced only by a strictly higher version."""
    if not rows:
        return
    insert = insert_for(session)
    stmt = insert(table).values(rows)
    first = rows if isinstance(rows, dict) else rows[0]
    update = {name: stmt.excluded[name] for name in first if name not in keys}
    where = None
    if newer_only is not None:
        where = table.c[newer_only] < stmt.excluded[newer_only]
    session.execute(stmt.on_conflict_do_update(index_elements=keys, set_=update, where=where))
