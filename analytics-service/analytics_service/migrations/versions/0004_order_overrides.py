"""order overrides: the rules an order was recorded past, why, by whom, when

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-30 02:00:00
"""
import sqlalchemy as sa
from alembic import op

import crm_common.db

revision = '0004'
down_revision = '0003'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('orders') as batch:
        batch.add_column(sa.Column('override_rules', sa.String(length=200), nullable=True))
        batch.add_column(sa.Column('override_reason', sa.String(length=500), nullable=True))
        batch.add_column(sa.Column('override_by', sa.String(length=128), nullable=True))
        batch.add_column(sa.Column('override_by_name', sa.String(length=128), nullable=True))
        batch.add_column(sa.Column('override_at', crm_common.db.UtcDateTime(timezone=True), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('orders') as batch:
        for column in ('override_at', 'override_by_name', 'override_by', 'override_reason', 'override_rules'):
            batch.drop_column(column)
