"""``ExternalCustomerGateway`` (seed 003): reads the third party's customers and companies
from their MySQL/MariaDB (``EXTERNAL_MYSQL_URL``), and cannot write there.

Read only twice over: the deployment gives it a user with ``SELECT`` only (README), and
every connection this engine opens runs ``SET SESSION TRANSACTION READ ONLY`` before it is
used, so that even a user with more rights writes nothing through it. Business-domain
control never queries this database: it only feeds the import."""
from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy import event as sa_event
from sqlalchemy.engine import Engine

from ..domain.external_import import (
    CHANGE_STAMP,
    COMPANY_COLUMNS,
    COMPANY_TABLE,
    CUSTOMER_COLUMNS,
    CUSTOMER_TABLE,
    ExternalRecord,
    Watermark,
    record_from_row,
)

_MYSQL_SCHEMES = ("mysql", "mariadb", "mysql+pymysql", "mariadb+pymysql")


def normalize_mysql_url(url: str) -> str:
    """Every MySQL URL form ends in the driver the service ships (PyMySQL, pure Python)."""
    scheme, sep, rest = url.partition("://")
    if not sep or scheme not in _MYSQL_SCHEMES:
        raise ValueError("EXTERNAL_MYSQL_URL must be a mysql:// (or mariadb://) URL")
    return f"mysql+pymysql://{rest}"


def make_read_only_engine(url: str, *, pool_size: int = 2, connect_timeout: int = 5) -> Engine:
    engine = sa.create_engine(normalize_mysql_url(url), pool_size=pool_size, max_overflow=2, pool_pre_ping=True,
                              pool_recycle=1800,
                              connect_args={"connect_timeout": connect_timeout, "read_timeout": 60,
                                            "charset": "utf8mb4"})

    @sa_event.listens_for(engine, "connect")
    def _read_only(dbapi_conn, _record):
        cur = dbapi_conn.cursor()
        cur.execute("SET SESSION TRANSACTION READ ONLY")
        cur.close()

    return engine


def _columns(table: sa.Table, columns: dict[str, str], prefix: str) -> list:
    return [table.c[name].label(f"{prefix}.{name}") for name in columns]


class ExternalCustomerGateway:
    """The third party's customers changed after a watermark, in ``(updated_at, id)`` order."""

    def __init__(self, engine: Engine, *, customer_table: str = CUSTOMER_TABLE, company_table: str = COMPANY_TABLE):
        self.engine = engine
        meta = sa.MetaData()
        self.customers = sa.Table(customer_table, meta, *(sa.Column(name) for name in
                                                          {*CUSTOMER_COLUMNS, CHANGE_STAMP, "company_id"}))
        self.companies = sa.Table(company_table, meta, *(sa.Column(name) for name in COMPANY_COLUMNS))

    @classmethod
    def from_url(cls, url: str, **kwargs) -> "ExternalCustomerGateway":
        return cls(make_read_only_engine(url), **kwargs)

    def _after(self, after: Watermark | None):
        c = self.customers.c
        if after is None:
            return sa.true()
        stamp = c[CHANGE_STAMP]
        return sa.or_(stamp > after.updated_at, sa.and_(stamp == after.updated_at, c.id > after.remote_id))

    def changed_since(self, after: Watermark | None, limit: int = 200) -> list[ExternalRecord]:
        c, co = self.customers.c, self.companies.c
        stmt = (sa.select(*_columns(self.customers, {**CUSTOMER_COLUMNS, CHANGE_STAMP: ""}, "customer"),
                          *_columns(self.companies, COMPANY_COLUMNS, "company"))
                .select_from(self.customers.outerjoin(self.companies, co.id == c.company_id))
                .where(self._after(after))
                .order_by(c[CHANGE_STAMP], c.id).limit(limit))
        with self.engine.connect() as conn:
            rows = conn.execute(stmt).mappings().all()
        return [record_from_row(row) for row in rows]

    def count_behind(self, after: Watermark | None) -> int:
        """Customers changed after the watermark (not imported yet)."""
        stmt = sa.select(sa.func.count()).select_from(self.customers).where(self._after(after))
        with self.engine.connect() as conn:
            return int(conn.execute(stmt).scalar_one())

    def ping(self) -> tuple[bool, str]:
        try:
            with self.engine.connect() as conn:
                conn.execute(sa.text("SELECT 1"))
            return True, "ok"
        except Exception as exc:  # noqa: BLE001
            return False, type(exc).__name__

    def dispose(self) -> None:
        self.engine.dispose()
