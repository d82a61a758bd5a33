"""business domain of projects, contracts and sync history (issue 13: domain scope)

Each row belongs to its customer's business domain; existing rows take it from the
customer's snapshot (rows of a customer whose domain is unknown stay NULL: visible only to
callers of every domain).

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-30 10:00:00
"""
import sqlalchemy as sa
from alembic import op

revision = '0004'
down_revision = '0003'
branch_labels = None
depends_on = None

TABLES = ('projects', 'contracts', 'sync_history')


def upgrade() -> None:
    for table in TABLES:
        op.add_column(table, sa.Column('business_domain', sa.String(length=64), nullable=True))
        op.execute(f"UPDATE {table} SET business_domain = (SELECT s.business_domain FROM customer_snapshots s "
                   f"WHERE s.customer_id = {table}.customer_id)")


def downgrade() -> None:
    for table in TABLES:
        with op.batch_alter_table(table) as batch:
            batch.drop_column('business_domain')
