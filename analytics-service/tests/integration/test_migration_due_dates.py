"""Migration 0006 on a database that already has customers and orders: each customer's due
day (seed 001 §7.2) is computed once, by ``crm_common.credit``, from the last counted order
date when there is one, else from the day the debt began (in APP_TIMEZONE); and back down."""
from __future__ import annotations

import datetime as dt

import sqlalchemy as sa
from alembic import command
from alembic.config import Config

from analytics_service.cli import SERVICE_DIR
from crm_testing import create_database, drop_database


def _config(url: str) -> Config:
    cfg = Config(str(SERVICE_DIR / "alembic.ini"))
    cfg.set_main_option("script_location", str(SERVICE_DIR / "migrations"))
    cfg.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    cfg.attributes["database_url"] = url
    return cfg


def test_0006_computes_the_due_day_of_the_customers_already_there(monkeypatch):
    monkeypatch.setenv("APP_TIMEZONE", "Asia/Shanghai")
    url = create_database("crm_analytics_mig")
    engine = sa.create_engine(url)
    try:
        command.upgrade(_config(url), "0005")
        began = dt.datetime(2026, 11, 1, 20, 0, tzinfo=dt.timezone.utc)    # 2 Nov in Shanghai
        with engine.begin() as conn:
            for cid, balance in ((1, -10), (2, -10), (3, 5)):
                conn.execute(sa.text(
                    "INSERT INTO customers (id, factory_id, rating, credit_limit, current_balance, payment_terms, "
                    "debt_since, viewing_count, total_commission, version, applied_at) "
                    "VALUES (:id, 'F1', 3, 0, :b, 30, :since, 0, 0, 1, now())"),
                    {"id": cid, "b": balance, "since": began if balance < 0 else None})
            conn.execute(sa.text(
                "INSERT INTO customer_order_totals (factory_id, customer_id, total_orders, total_revenue, "
                "first_order_date, last_order_date) VALUES ('F1', 2, 1, 100, '2026-10-01', '2026-10-01')"))
        command.upgrade(_config(url), "head")
        with engine.connect() as conn:
            due = dict(conn.execute(sa.text("SELECT id, debt_due_date FROM customers ORDER BY id")).all())
        assert due == {1: dt.date(2026, 12, 2), 2: dt.date(2026, 10, 31), 3: None}
        command.downgrade(_config(url), "0005")
    finally:
        engine.dispose()
        drop_database(url)
