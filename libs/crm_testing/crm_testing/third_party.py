"""A stand-in for the third party's MySQL (issue 21) on the local MariaDB: a database per
test run, created and dropped, filled with a deterministic fixture of customers and
companies in the shape ``customer_service.domain.external_import`` maps (README "External
MySQL import"), some of them invalid on purpose."""
from __future__ import annotations

import contextlib
import datetime as dt
import os
import uuid
from dataclasses import dataclass

import sqlalchemy as sa

MYSQL_ADMIN_URL = os.environ.get("TEST_MYSQL_ADMIN_URL", "mysql+pymysql://root@127.0.0.1:3306/mysql")
BASE_TIME = dt.datetime(2026, 1, 1, 8, 0, 0)

SCHEMA = [
    """CREATE TABLE companies (
        id INT PRIMARY KEY,
        company_code VARCHAR(64) NULL,
        company_name VARCHAR(300) NULL,
        license_no VARCHAR(64) NULL,
        industry VARCHAR(64) NULL,
        address VARCHAR(500) NULL,
        contact_name VARCHAR(64) NULL,
        contact_phone VARCHAR(32) NULL,
        updated_at DATETIME(6) NOT NULL
    ) DEFAULT CHARSET=utf8mb4""",
    """CREATE TABLE customers (
        id INT PRIMARY KEY,
        customer_name VARCHAR(300) NULL,
        contact_person VARCHAR(64) NULL,
        mobile VARCHAR(32) NULL,
        email VARCHAR(254) NULL,
        address VARCHAR(500) NULL,
        tax_no VARCHAR(64) NULL,
        remark TEXT NULL,
        company_id INT NULL,
        updated_at DATETIME(6) NOT NULL,
        KEY ix_customers_updated (updated_at, id)
    ) DEFAULT CHARSET=utf8mb4""",
]


def _admin_engine():
    return sa.create_engine(MYSQL_ADMIN_URL, isolation_level="AUTOCOMMIT", poolclass=sa.pool.NullPool)


@contextlib.contextmanager
def mysql_database(prefix: str = "crm_third_party"):
    """A fresh MariaDB database (its ``mysql://`` URL for ``EXTERNAL_MYSQL_URL``), dropped afterwards."""
    name = f"{prefix}_{uuid.uuid4().hex[:10]}"
    engine = _admin_engine()
    with engine.connect() as conn:
        conn.execute(sa.text(f"CREATE DATABASE `{name}` DEFAULT CHARACTER SET utf8mb4"))
    url = MYSQL_ADMIN_URL.rsplit("/", 1)[0].replace("mysql+pymysql://", "mysql://") + "/" + name
    try:
        yield url
    finally:
        with engine.connect() as conn:
            conn.execute(sa.text(f"DROP DATABASE IF EXISTS `{name}`"))
        engine.dispose()


def writer(url: str) -> sa.Engine:
    """A read-write engine on the fixture database (the third party's own writes)."""
    return sa.create_engine(url.replace("mysql://", "mysql+pymysql://", 1) + "?charset=utf8mb4",
                            poolclass=sa.pool.NullPool)


@dataclass(frozen=True)
class Fixture:
    customers: int
    companies: int
    invalid: frozenset[int]          # customer ids that break the rules
    invalid_company: int             # a company without a name (its customers fail)

    @property
    def valid(self) -> list[int]:
        return [i for i in range(1, self.customers + 1) if i not in self.invalid]

    def company_of(self, customer_id: int) -> int | None:
        return None if customer_id % 7 == 0 else customer_id % self.companies + 1


def fill(url: str, customers: int = 300, companies: int = 40) -> Fixture:
    """``companies`` companies (odd ids carry a company_code, even ones only their id) and
    ``customers`` customers sharing them; every 7th customer has no company. Invalid on
    purpose: every 25th customer has no name, every 31st a bad phone, every 37th a bad
    email, and the customers of the last company (which has no name). Three customers
    share each ``updated_at`` so that the watermark's keyset needs its id."""
    engine = writer(url)
    fixture_invalid_company = companies
    invalid = set()
    company_rows = [{"id": i, "company_code": f"TPC{i:03d}" if i % 2 else None,
                     "company_name": None if i == fixture_invalid_company else f"三方公司{i:03d}",
                     "license_no": f"91310000{i:010d}", "industry": "地产", "address": f"上海市{i}号",
                     "contact_name": f"联系人{i}", "contact_phone": f"021-{60000000 + i}",
                     "updated_at": BASE_TIME} for i in range(1, companies + 1)]
    fx = Fixture(customers, companies, frozenset(), fixture_invalid_company)
    customer_rows = []
    for i in range(1, customers + 1):
        company = fx.company_of(i)
        row = {"id": i, "customer_name": f"三方客户{i:04d}", "contact_person": f"张{i}",
               "mobile": f"138{i:08d}", "email": f"c{i}@example.com", "address": f"北京市{i}号",
               "tax_no": f"TAX{i:06d}", "remark": None, "company_id": company,
               "updated_at": BASE_TIME + dt.timedelta(seconds=i // 3)}
        if i % 25 == 0:
            row["customer_name"] = "  "
        if i % 31 == 0:
            row["mobile"] = "not-a-phone"
        if i % 37 == 0:
            row["email"] = "bad-email"
        if i % 25 == 0 or i % 31 == 0 or i % 37 == 0 or company == fixture_invalid_company:
            invalid.add(i)
        customer_rows.append(row)
    with engine.begin() as conn:
        for statement in SCHEMA:
            conn.execute(sa.text(statement))
        conn.execute(sa.text("INSERT INTO companies VALUES (:id, :company_code, :company_name, :license_no, "
                             ":industry, :address, :contact_name, :contact_phone, :updated_at)"), company_rows)
        conn.execute(sa.text("INSERT INTO customers VALUES (:id, :customer_name, :contact_person, :mobile, :email, "
                             ":address, :tax_no, :remark, :company_id, :updated_at)"), customer_rows)
    engine.dispose()
    return Fixture(customers, companies, frozenset(invalid), fixture_invalid_company)


def touch(url: str, customer_id: int, when: dt.datetime | None = None, **values) -> None:
    """The third party changes a customer (and its ``updated_at``)."""
    engine = writer(url)
    values["updated_at"] = when or dt.datetime(2026, 6, 1) + dt.timedelta(microseconds=customer_id)
    sets = ", ".join(f"{k} = :{k}" for k in values)
    with engine.begin() as conn:
        conn.execute(sa.text(f"UPDATE customers SET {sets} WHERE id = :id"), {**values, "id": customer_id})
    engine.dispose()
