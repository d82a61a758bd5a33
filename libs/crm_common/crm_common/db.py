"""SQLAlchemy 2 engine and sessions, the outbox and consumer bookkeeping tables, and the
unit of work that every write goes through (it rolls back unless ``commit()`` is called,
and writes outbox rows in the same transaction as the change)."""
from __future__ import annotations

import datetime as dt
import functools
import math
import re
from typing import Callable, Iterable

import sqlalchemy as sa
from sqlalchemy import event as sa_event
from sqlalchemy.engine import Engine
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from .config import normalize_database_url
from .events import json_dumps

# BIGINT on PostgreSQL, INTEGER (rowid alias, so autoincrement works) on SQLite.
BigId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def utcnow() -> dt.datetime:
    return dt.datetime.now(dt.timezone.utc)


def transaction_now(session: Session) -> dt.datetime:
    """The start of ``session``'s transaction on the database's clock (PostgreSQL ``now()``,
    the same for every statement of the transaction; it begins one if none is open): the
    ``updated_at`` that exact keyset pages need (``crm_common.paging``). SQLite has no such
    clock and one writer at a time: the process's UTC time."""
    if session.get_bind().dialect.name != "postgresql":
        return utcnow()
    return session.execute(sa.select(sa.func.now())).scalar_one().astimezone(dt.timezone.utc)


class UtcDateTime(sa.types.TypeDecorator):
    """Timezone-aware UTC datetimes on every backend (SQLite drops the zone)."""
    impl = sa.DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value, dialect):
        if value is not None and value.tzinfo is None:
            value = value.replace(tzinfo=dt.timezone.utc)
        return value

    def process_result_value(self, value, dialect):
        if value is not None:
            value = value.replace(tzinfo=dt.timezone.utc) if value.tzinfo is None else value.astimezone(dt.timezone.utc)
        return value


def make_engine(url: str, *, pool_size: int = 5, max_overflow: int = 10, echo: bool = False) -> Engine:
    url = normalize_database_url(url)
    if url.startswith("sqlite"):
        engine = sa.create_engine(url, echo=echo, connect_args={"check_same_thread": False, "timeout": 30})

        @sa_event.listens_for(engine, "connect")
        def _sqlite_pragmas(dbapi_conn, _record):  # pragma: no cover - exercised by smoke test
            cur = dbapi_conn.cursor()
            cur.execute("PRAGMA journal_mode=WAL")
            cur.execute("PRAGMA foreign_keys=ON")
            cur.execute("PRAGMA busy_timeout=30000")
            cur.close()
        return engine
    return sa.create_engine(url, echo=echo, pool_size=pool_size, max_overflow=max_overflow,
                            pool_pre_ping=True, pool_recycle=1800,
                            connect_args={"connect_timeout": 5})


def make_session_factory(engine: Engine) -> sessionmaker:
    return sessionmaker(bind=engine, expire_on_commit=False, autoflush=True)


def database_ready(engine: Engine) -> tuple[bool, str]:
    try:
        with engine.connect() as conn:
            conn.execute(sa.text("SELECT 1"))
        return True, "ok"
    except Exception as exc:  # noqa: BLE001 - readiness reports any failure
        return False, type(exc).__name__


# --- outbox and consumer tables (every service adds them to its own metadata) ---------

def outbox_table(metadata: sa.MetaData) -> sa.Table:
    return sa.Table(
        "outbox", metadata,
        sa.Column("id", BigId, primary_key=True, autoincrement=True),
        sa.Column("event_id", sa.String(36), nullable=False, unique=True),
        sa.Column("event_type", sa.String(64), nullable=False),
        sa.Column("aggregate_type", sa.String(64), nullable=False),
        sa.Column("aggregate_id", sa.String(64), nullable=False),
        sa.Column("aggregate_version", sa.BigInteger, nullable=False),
        sa.Column("payload", sa.Text, nullable=False),
        sa.Column("created_at", UtcDateTime, nullable=False, default=utcnow),
        sa.Column("published_at", UtcDateTime, nullable=True),
        sa.Column("attempts", sa.Integer, nullable=False, default=0),
        sa.Index("ix_outbox_unpublished", "id", postgresql_where=sa.text("published_at IS NULL"),
                 sqlite_where=sa.text("published_at IS NULL")),
    )


def consumer_tables(metadata: sa.MetaData) -> tuple[sa.Table, sa.Table]:
    """``processed_events``: each applied ``event_id`` (dedupe); ``applied_versions``: the
    newest ``aggregate_version`` applied per aggregate (ordering)."""
    processed = sa.Table(
        "processed_events", metadata,
        sa.Column("consumer", sa.String(100), primary_key=True),
        sa.Column("event_id", sa.String(36), primary_key=True),
        sa.Column("event_type", sa.String(64), nullable=False),
        sa.Column("aggregate_id", sa.String(64), nullable=True),
        sa.Column("aggregate_version", sa.BigInteger, nullable=True),
        sa.Column("applied", sa.Boolean, nullable=False, default=True),
        sa.Column("processed_at", UtcDateTime, nullable=False, default=utcnow),
    )
    versions = sa.Table(
        "applied_versions", metadata,
        sa.Column("consumer", sa.String(100), primary_key=True),
        sa.Column("aggregate_type", sa.String(64), primary_key=True),
        sa.Column("aggregate_id", sa.String(64), primary_key=True),
        sa.Column("version", sa.BigInteger, nullable=False),
        sa.Column("occurred_at", sa.String(40), nullable=True),
        sa.Column("updated_at", UtcDateTime, nullable=False, default=utcnow, onupdate=utcnow),
    )
    return processed, versions


# --- unit of work ------------------------------------------------------------------------

@functools.lru_cache(maxsize=None)
def _outbox_insert(outbox: sa.Table) -> sa.Insert:
    return sa.insert(outbox)


def _outbox_row(event: dict) -> dict:
    return {"event_id": event["event_id"], "event_type": event["event_type"],
            "aggregate_type": event["aggregate_type"], "aggregate_id": str(event["aggregate_id"]),
            "aggregate_version": event["aggregate_version"], "payload": json_dumps(event),
            "created_at": utcnow(), "attempts": 0}


class UnitOfWork:
    """One business transaction. Usage::

        with uow:
            ...change things through uow.session / repositories...
            uow.add_event(make_event(...))   # outbox row, same transaction
            uow.commit()

    Leaving the block without ``commit()`` rolls everything back, events included.
    Outbox rows are inserted at once, so a savepoint that rolls back drops its events too.
    """

    outbox: sa.Table | None = None

    def __init__(self, session_factory: Callable[[], Session] | None, outbox: sa.Table | None = None):
        self.session_factory = session_factory
        if outbox is not None:
            self.outbox = outbox
        self.session: Session | None = None
        self.committed = False
        self._joined = False

    @classmethod
    def joining(cls, session: Session, **kwargs) -> "UnitOfWork":
        """A unit of work inside a transaction that someone else owns: an event consumer's,
        which also records the event id and version and commits (then acks) itself. The
        same handlers, repositories and outbox as for a request; ``commit()`` here only
        flushes, and leaving the ``with`` block neither commits nor rolls back."""
        uow = cls(None, **kwargs)
        uow._joined = True
        uow.session = session
        uow.bind(session)
        return uow

    def bind(self, session: Session) -> None:
        """Set up what lives on the session (repositories); subclasses extend it."""

    def __enter__(self):
        if self._joined:
            return self
        self.session = self.session_factory()
        self.committed = False
        self.bind(self.session)
        return self

    def __exit__(self, exc_type, exc, tb):
        if self._joined:
            return
        try:
            if not self.committed:
                # Detach first so that what a read loaded stays readable after the
                # rollback (rollback would expire it); nothing is written either way.
                self.session.expunge_all()
                self.session.rollback()
        finally:
            self.session.close()

    def add_event(self, event: dict) -> None:
        if self.outbox is None:
            raise RuntimeError("this unit of work has no outbox table")
        # One INSERT statement per outbox table, values as parameters: building a new
        # statement with .values() per event cost more CPU than running it (make bench).
        self.session.execute(_outbox_insert(self.outbox), _outbox_row(event))

    def add_events(self, events: list[dict]) -> None:
        """Several events, in this order, in one multi-row INSERT (batches: a round trip
        per event cost a bulk create of 100 customers more than its customers' INSERT)."""
        if self.outbox is None:
            raise RuntimeError("this unit of work has no outbox table")
        if events:
            self.session.execute(_outbox_insert(self.outbox), [_outbox_row(event) for event in events])

    def savepoint(self):
        """``with uow.savepoint(): ...`` for a piece that may fail alone (bulk records)."""
        return self.session.begin_nested()

    def flush(self) -> None:
        self.session.flush()

    def commit(self) -> None:
        if self._joined:
            self.session.flush()  # the owner of the transaction commits it
        else:
            self.session.commit()
        self.committed = True

    def rollback(self) -> None:
        self.session.rollback()


# --- upsert, once for every dialect ------------------------------------------------------------

def _insert_for(session_or_conn) -> Callable[[sa.Table], sa.Insert]:
    dialect = session_or_conn.get_bind().dialect.name if isinstance(session_or_conn, Session) \
        else session_or_conn.dialect.name
    if dialect == "postgresql":
        from sqlalchemy.dialects.postgresql import insert
    elif dialect == "sqlite":
        from sqlalchemy.dialects.sqlite import insert
    else:  # pragma: no cover - the services run on PostgreSQL, development on SQLite
        raise RuntimeError(f"unsupported dialect {dialect}")
    return insert


def insert_ignore(session, table: sa.Table, values: dict | list[dict], index_elements=None) -> int:
    """INSERT ... ON CONFLICT DO NOTHING; returns the rows inserted (0: already there). A
    list of rows is sent as one executemany (see ``upsert``)."""
    many = isinstance(values, list)
    stmt = _insert_for(session)(table)
    stmt = stmt if many else stmt.values(values)
    stmt = stmt.on_conflict_do_nothing(index_elements=index_elements) if index_elements \
        else stmt.on_conflict_do_nothing()
    return _execute(session, table, stmt, values if many else None)


def upsert(session, table: sa.Table, values: dict | list[dict], *, index_elements: list,
           set_: dict | Callable | None = None, update: Iterable[str] | None = None, where=None) -> int:
    """INSERT ... ON CONFLICT (index_elements) DO UPDATE. ``update`` names columns taken from
    the proposed row (``excluded``); ``set_`` gives explicit expressions, or is
    ``set_(table, excluded)`` returning them (e.g. ``x = table.x + excluded.x`` to add);
    ``where(table, excluded)`` can make the update conditional (e.g. only a newer version).
    Returns the rows inserted or updated."""
    many = isinstance(values, list)
    # A list is one executemany of a statement compiled once (``_execute``); a multi-row
    # VALUES would be compiled anew for every call, its cost growing with rows × columns
    # (measured: two thirds of the CPU of a 200-event batch of analytics' consumer).
    stmt = _insert_for(session)(table)
    stmt = stmt if many else stmt.values(values)
    assignments = {name: stmt.excluded[name] for name in (update or ())}
    assignments.update((set_(table, stmt.excluded) if callable(set_) else set_) or {})
    kwargs = {"index_elements": index_elements, "set_": assignments}
    if where is not None:
        kwargs["where"] = where(table, stmt.excluded)
    return _execute(session, table, stmt.on_conflict_do_update(**kwargs), values if many else None)


def _execute(session, table: sa.Table, stmt, rows: list[dict] | None) -> int:
    """The rows an INSERT ... ON CONFLICT wrote. A list goes as one executemany that
    RETURNING lets SQLAlchemy batch into multi-row VALUES pages ("insertmanyvalues"; without
    RETURNING an ON CONFLICT statement would be sent row by row), and the rows it returns
    are the rows written."""
    if rows is None:
        return session.execute(stmt).rowcount
    if not rows:
        return 0
    return len(session.execute(stmt.returning(*table.primary_key.columns), rows).all())


# --- paging ------------------------------------------------------------------------------

def paginate(session: Session, stmt, *, page: int, page_size: int) -> dict:
    """CONTRACT §4 page of an ordered ``select``: ``items`` (its scalars), ``total``,
    ``page``, ``page_size``, ``total_pages``."""
    total = session.execute(sa.select(sa.func.count()).select_from(stmt.order_by(None).subquery())).scalar_one()
    items = list(session.scalars(stmt.limit(page_size).offset((page - 1) * page_size)))
    return {"items": items, "total": total, "page": page, "page_size": page_size,
            "total_pages": math.ceil(total / page_size) if total else 0}


# --- integrity errors ----------------------------------------------------------------------

_SQLITE_UNIQUE = re.compile(r"UNIQUE constraint failed: (.+)$")


def unique_violation(exc: IntegrityError) -> str | None:
    """Name of the violated unique constraint/index, or on SQLite the column list
    (``customers.factory_id,customers.name``); ``None`` when it is not a uniqueness error."""
    orig = getattr(exc, "orig", None)
    diag = getattr(orig, "diag", None)
    pgcode = getattr(orig, "pgcode", None)
    if pgcode is not None:
        if pgcode != "23505":
            return None
        return getattr(diag, "constraint_name", None) or "unknown"
    match = _SQLITE_UNIQUE.search(str(orig))
    if match:
        return ",".join(part.strip() for part in match.group(1).split(","))
    return None
