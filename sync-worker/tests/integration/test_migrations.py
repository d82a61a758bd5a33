"""The migrations on PostgreSQL: they build exactly the tables the code maps, and the
business-domain revision gives existing rows their customer's domain."""
from __future__ import annotations

import datetime as dt

import sqlalchemy as sa
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.config import Config
from alembic.migration import MigrationContext

from crm_testing import create_database, drop_database
from sync_worker.adapters.orm import metadata
from sync_worker.cli import SERVICE_DIR


def _alembic(url: str) -> Config:
    cfg = Config(str(SERVICE_DIR / "alembic.ini"))
    cfg.set_main_option("script_location", str(SERVICE_DIR / "migrations"))
    cfg.attributes["database_url"] = url
    return cfg


def test_head_matches_the_tables_the_code_maps(pg_url):
    engine = sa.create_engine(pg_url, poolclass=sa.pool.NullPool)
    with engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn, opts={"compare_type": True}), metadata)
    engine.dispose()
    assert diff == []


def test_existing_rows_take_their_customers_domain():
    url = create_database("crm_sync_mig")
    engine = sa.create_engine(url, poolclass=sa.pool.NullPool)
    now = dt.datetime(2026, 1, 1, tzinfo=dt.timezone.utc)
    audit = {"created_at": now, "updated_at": now, "version": 1}
    try:
        command.upgrade(_alembic(url), "0003")
        with engine.begin() as conn:
            conn.execute(sa.text(
                "INSERT INTO customer_snapshots (customer_id, factory_id, business_domain, version, deleted, "
                "source, updated_at) VALUES (1, 'F', 'D1', 1, false, 'event', :t), "
                "(2, 'F', NULL, 1, false, 'event', :t)"), {"t": now})
            conn.execute(sa.text(
                "INSERT INTO projects (factory_id, name, customer_id, created_at, updated_at, version) "
                "VALUES ('F', 'a', 1, :created_at, :updated_at, :version), ('F', 'b', 2, :created_at, :updated_at, "
                ":version), ('F', 'c', 3, :created_at, :updated_at, :version)"), audit)
        command.upgrade(_alembic(url), "head")
        with engine.connect() as conn:
            rows = dict(conn.execute(sa.text("SELECT name, business_domain FROM projects")).all())
        assert rows == {"a": "D1", "b": None, "c": None}  # unknown stays unknown: every-domain callers only
        command.downgrade(_alembic(url), "0003")
    finally:
        engine.dispose()
        drop_database(url)
