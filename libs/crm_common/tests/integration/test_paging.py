"""Keyset pages (crm_common.paging) on the real PostgreSQL: a row written by a transaction
that is still open is never skipped by a cursor that moved past its timestamp."""
from __future__ import annotations

import datetime as dt

import pytest
import sqlalchemy as sa
from sqlalchemy.orm import Session

from crm_common.db import make_engine, make_session_factory, transaction_now, upsert
from crm_common.errors import ValidationError
from crm_common.paging import Cursor, keyset_page, offset_page, page_body
from crm_testing import create_database, drop_database

metadata = sa.MetaData()
items = sa.Table("items", metadata, sa.Column("id", sa.Integer, primary_key=True),
                 sa.Column("name", sa.String(50)),
                 sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()))


@pytest.fixture(scope="module")
def engine():
    url = create_database("crm_paging")
    engine = make_engine(url)
    metadata.create_all(engine)
    yield engine
    engine.dispose()
    drop_database(url)


def write(session: Session, ident: int, name: str) -> None:
    upsert(session, items, {"id": ident, "name": name, "updated_at": sa.func.now()}, index_elements=["id"],
           set_={"name": name, "updated_at": sa.func.now()})


def page(engine, cursor=None, since=None, size=2):
    with make_session_factory(engine)() as session:
        rows, nxt = keyset_page(session, sa.select(items), updated_at=items.c.updated_at, id_=items.c.id,
                                page_size=size, cursor=Cursor.decode(cursor) if cursor else None,
                                updated_since=since, scalars=False)
        return [r.id for r in rows], nxt


def test_a_cursor_never_passes_a_write_that_is_still_in_flight(engine):
    factory = make_session_factory(engine)
    with factory() as s, s.begin():
        s.execute(sa.delete(items))
    slow = factory()
    slow.begin()
    write(slow, 100, "started first, commits last")      # updated_at = its transaction's start
    for ident in (1, 2, 3):                              # later transactions, committed at once
        with factory() as s, s.begin():
            write(s, ident, f"n{ident}")
    seen, cursor = [], None
    for _ in range(10):
        ids, cursor = page(engine, cursor)
        seen += ids
        if cursor is None:
            break
    assert seen == []  # every committed row starts after the open transaction: held back
    slow.commit()
    slow.close()
    seen, cursor = [], None
    for _ in range(10):
        ids, cursor = page(engine, cursor)
        seen += ids
        if cursor is None:
            break
    assert seen == [100, 1, 2, 3]  # in (updated_at, id) order, each exactly once


def test_updated_since_is_inclusive_and_offset_pages_count(engine):
    factory = make_session_factory(engine)
    with factory() as s, s.begin():
        s.execute(sa.delete(items))
        write(s, 7, "x")
    with factory() as s:
        stamp = s.execute(sa.select(items.c.updated_at)).scalar_one()
        rows, total = offset_page(s, sa.select(items).order_by(items.c.id), 1, 20, scalars=False)
    assert page(engine, since=stamp)[0] == [7]
    assert page(engine, since=stamp + dt.timedelta(microseconds=1))[0] == []
    assert page_body([r.id for r in rows], total, 1, 20) == {"items": [7], "total": 1, "page": 1,
                                                            "page_size": 20, "total_pages": 1}


def test_transaction_now_is_the_writing_transactions_start_on_the_database_clock(engine):
    factory = make_session_factory(engine)
    with factory() as s, s.begin():
        first = transaction_now(s)
        s.execute(sa.text("SELECT pg_sleep(0.01)"))
        write(s, 50, "stamped")
        stamped = s.execute(sa.select(items.c.updated_at).where(items.c.id == 50)).scalar_one()
        assert transaction_now(s) == first == stamped  # one instant for the whole transaction
        assert first.utcoffset() == dt.timedelta(0)
    with factory() as s, s.begin():
        assert transaction_now(s) > first


@pytest.mark.parametrize("bad", ["", "not-base64!", "W10", "WyIyMDI2LTAxLTAxIiwgMV0"])
def test_a_cursor_that_was_not_handed_out_is_a_400_naming_the_field(bad):
    with pytest.raises(ValidationError) as refused:
        Cursor.decode(bad)
    assert "cursor" in refused.value.errors
