#!/usr/bin/env python3
"""`make check-connections` (and the end of `make init`): can this environment reach every
store the set needs? Seed 003: PostgreSQL (each service's database), Redis, RabbitMQ and,
when configured, the third party's MySQL (read only).

One line per check, with the time it took; exit 1 when a required one fails:

  ok    postgresql customer   4.1 ms  postgresql+psycopg2://postgres@127.0.0.1:5432/crm_customer
  FAIL  rabbitmq             2003.0 ms  amqp://guest@127.0.0.1:5673/%2F  AMQPConnectionError
  skip  mysql (external)        -       EXTERNAL_MYSQL_URL not set: the import from the third party is off

Required: every service's database (its *_DATABASE_URL, else its SQLite file under var/) and
RabbitMQ (AMQP_URL). Redis (REDIS_URL) and the external MySQL (EXTERNAL_MYSQL_URL) are required
when set and skipped when not. Passwords never appear in the output."""
from __future__ import annotations

import argparse
import os
import sys
import time
from dataclasses import dataclass
from typing import Callable

import sqlalchemy as sa

from crm_common.config import SERVICES, Settings

TIMEOUT = 5  # seconds, per check


@dataclass
class Check:
    name: str
    target: str                               # what was checked (no password)
    probe: Callable[[], str | None] | None    # returns a detail, raises when unreachable; None: skipped
    skipped_because: str = ""


@dataclass
class Result:
    check: Check
    status: str                               # ok / FAIL / skip
    millis: float | None
    detail: str = ""


def hide_password(url: str) -> str:
    """``scheme://user:secret@host/...`` -> ``scheme://user@host/...``."""
    scheme, sep, rest = url.partition("://")
    authority, slash, path = rest.partition("/")
    if "@" in authority:
        credentials, _, host = authority.rpartition("@")
        authority = f"{credentials.split(':', 1)[0]}@{host}"
    return f"{scheme}{sep}{authority}{slash}{path}"


def sql_probe(url: str) -> Callable[[], str | None]:
    def probe():
        args = {} if url.startswith("sqlite") else {"connect_timeout": TIMEOUT}
        engine = sa.create_engine(url, poolclass=sa.pool.NullPool, connect_args=args)
        try:
            with engine.connect() as conn:
                conn.execute(sa.text("SELECT 1"))
        finally:
            engine.dispose()
        return None
    return probe


def redis_probe(url: str) -> Callable[[], str | None]:
    def probe():
        import redis
        client = redis.Redis.from_url(url, socket_timeout=TIMEOUT, socket_connect_timeout=TIMEOUT)
        try:
            client.ping()
        finally:
            client.close()
        return None
    return probe


def rabbitmq_probe(url: str) -> Callable[[], str | None]:
    def probe():
        import pika

        from crm_common.broker import connection_parameters
        pika.BlockingConnection(connection_parameters(url, timeout=TIMEOUT)).close()
        return None
    return probe


def mysql_probe(url: str) -> Callable[[], str | None]:
    """The third party's MySQL as the import reads it: a read-only session, the two mapped
    tables there; says so when the user could write (the sessions stay read only anyway)."""
    def probe():
        from customer_service.adapters.external_mysql import make_read_only_engine
        from customer_service.domain.external_import import COMPANY_TABLE, CUSTOMER_TABLE
        settings = Settings.from_env("customer")
        tables = (settings.get("EXTERNAL_MYSQL_CUSTOMER_TABLE", CUSTOMER_TABLE),
                  settings.get("EXTERNAL_MYSQL_COMPANY_TABLE", COMPANY_TABLE))
        engine = make_read_only_engine(url, pool_size=1, connect_timeout=TIMEOUT)
        try:
            with engine.connect() as conn:
                conn.execute(sa.text("SELECT 1"))
                read_only = session_read_only(conn)
                missing = [t for t in tables if conn.execute(sa.text("SHOW TABLES LIKE :t"), {"t": t}).first() is None]
                grants = " ".join(str(row[0]) for row in conn.execute(sa.text("SHOW GRANTS FOR CURRENT_USER()")))
        finally:
            engine.dispose()
        if not read_only:
            raise RuntimeError("session is not read only")
        if missing:
            raise RuntimeError(f"tables missing: {', '.join(missing)}")
        writes = any(word in grants.upper() for word in ("ALL PRIVILEGES", "INSERT", "UPDATE", "DELETE"))
        return "read-only session; WARNING: the user may write (give it SELECT only)" if writes \
            else "read-only session, SELECT-only user"
    return probe


def session_read_only(conn) -> bool:
    """MySQL 8 and MariaDB 11.1+ name it transaction_read_only, older MariaDB tx_read_only."""
    for variable in ("transaction_read_only", "tx_read_only"):
        try:
            return bool(conn.execute(sa.text(f"SELECT @@session.{variable}")).scalar())
        except sa.exc.OperationalError:
            conn.rollback()
    return False


def checks(env: dict[str, str]) -> list[Check]:
    found = []
    for service in SERVICES:
        url = Settings.from_env(service, env).database_url
        kind = "sqlite" if url.startswith("sqlite") else "postgresql"
        found.append(Check(f"{kind} {service}", hide_password(url), sql_probe(url)))
    redis_url = env.get("REDIS_URL")
    found.append(Check("redis", hide_password(redis_url), redis_probe(redis_url)) if redis_url else
                 Check("redis", "", None, "REDIS_URL not set: the customer read cache is off"))
    amqp = Settings.from_env("customer", env).amqp_url
    found.append(Check("rabbitmq", hide_password(amqp), rabbitmq_probe(amqp)))
    mysql = env.get("EXTERNAL_MYSQL_URL")
    found.append(Check("mysql (external)", hide_password(mysql), mysql_probe(mysql)) if mysql else
                 Check("mysql (external)", "", None, "EXTERNAL_MYSQL_URL not set: the import from the third party is off"))
    return found


def run(check: Check) -> Result:
    if check.probe is None:
        return Result(check, "skip", None, check.skipped_because)
    began = time.perf_counter()
    try:
        detail = check.probe() or ""
        status = "ok"
    except Exception as exc:  # noqa: BLE001 - any failure is the answer
        message = str(exc).splitlines()[0][:160] if str(exc) else ""
        detail, status = f"{type(exc).__name__}: {message}".rstrip(": "), "FAIL"
    return Result(check, status, (time.perf_counter() - began) * 1000, detail)


def main(argv: list[str] | None = None) -> int:
    argparse.ArgumentParser(description=__doc__.split("\n\n")[0]).parse_args(argv)
    results = [run(check) for check in checks(dict(os.environ))]
    width = max(len(r.check.name) for r in results)
    for r in results:
        took = f"{r.millis:8.1f} ms" if r.millis is not None else f"{'-':>8}   "
        print(f"{r.status:<5} {r.check.name:<{width}} {took}  {r.check.target}  {r.detail}".rstrip(), flush=True)
    failed = [r.check.name for r in results if r.status == "FAIL"]
    skipped = sum(r.status == "skip" for r in results)
    print(f"{len(results) - len(failed) - skipped} ok, {skipped} skipped, {len(failed)} failed"
          + (f": {', '.join(failed)}" if failed else ""))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
