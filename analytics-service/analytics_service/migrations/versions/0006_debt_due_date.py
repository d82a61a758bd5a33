"""debt_due_date on customers: the day the debt falls due by seed 001 §7.2 (the last counted
order's date, else the day the debt began, plus payment terms), indexed for the overdue
count; replaces the index on debt_due_at

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-30 05:00:00
"""
import datetime as dt
import os
from zoneinfo import ZoneInfo

import sqlalchemy as sa
from alembic import op

from crm_common import credit

revision = '0006'
down_revision = '0005'
branch_labels = None
depends_on = None

LIVE_DEBTORS_AT = sa.text("deleted_at IS NULL AND rating > 2 AND debt_due_at IS NOT NULL")
LIVE_DEBTORS = sa.text("deleted_at IS NULL AND rating > 2 AND debt_due_date IS NOT NULL")


def upgrade() -> None:
    with op.batch_alter_table('customers') as batch:
        batch.add_column(sa.Column('debt_due_date', sa.Date(), nullable=True))
    op.drop_index('ix_customers_live_factory_debt_due', table_name='customers')
    # The customers already projected, once, with the rule itself (APP_TIMEZONE as the
    # services read it; the consumer keeps the column in step from here on).
    tz = ZoneInfo(os.environ.get("APP_TIMEZONE") or "Asia/Shanghai")
    bind = op.get_bind()
    rows = bind.execute(sa.text(
        "SELECT c.id, c.current_balance, c.debt_since, c.payment_terms, t.last_order_date "
        "FROM customers c LEFT JOIN customer_order_totals t ON t.factory_id = c.factory_id AND t.customer_id = c.id "
        "WHERE c.current_balance < 0")).all()
    for row in rows:
        due = credit.debt_due_date(row.current_balance, _moment(row.debt_since), row.payment_terms,
                                   last_order_date=_date(row.last_order_date), tz=tz)
        bind.execute(sa.text("UPDATE customers SET debt_due_date = :due WHERE id = :id"), {"due": due, "id": row.id})
    op.create_index('ix_customers_live_factory_debt_due_date', 'customers', ['factory_id', 'debt_due_date'],
                    unique=False, postgresql_where=LIVE_DEBTORS, sqlite_where=LIVE_DEBTORS,
                    postgresql_include=['business_domain'])


def _moment(value):   # SQLite hands text back
    if value is None or isinstance(value, dt.datetime):
        return value
    return dt.datetime.fromisoformat(str(value))


def _date(value):
    if value is None or isinstance(value, dt.date):
        return value
    return dt.date.fromisoformat(str(value)[:10])


def downgrade() -> None:
    op.drop_index('ix_customers_live_factory_debt_due_date', table_name='customers')
    op.create_index('ix_customers_live_factory_debt_due', 'customers', ['factory_id', 'debt_due_at'], unique=False,
                    postgresql_where=LIVE_DEBTORS_AT, sqlite_where=LIVE_DEBTORS_AT,
                    postgresql_include=['business_domain'])
    with op.batch_alter_table('customers') as batch:
        batch.drop_column('debt_due_date')
