"""external_sync_runs: runs of the import from the third party's MySQL (issue 21)

Revision ID: 0003
Revises: 0002
"""
import sqlalchemy as sa
from alembic import op

import crm_common.db

revision = '0003'
down_revision = '0002'
branch_labels = None
depends_on = None

BIG_ID = sa.BigInteger().with_variant(sa.Integer(), 'sqlite')


def upgrade() -> None:
    op.create_table(
        'external_sync_runs',
        sa.Column('id', BIG_ID, autoincrement=True, nullable=False),
        sa.Column('factory_id', sa.String(length=64), nullable=False),
        sa.Column('source', sa.String(length=32), nullable=False),
        sa.Column('state', sa.String(length=16), nullable=False),
        sa.Column('trigger', sa.String(length=16), nullable=False),
        sa.Column('read_count', sa.Integer(), nullable=False),
        sa.Column('created_count', sa.Integer(), nullable=False),
        sa.Column('updated_count', sa.Integer(), nullable=False),
        sa.Column('unchanged_count', sa.Integer(), nullable=False),
        sa.Column('failed_count', sa.Integer(), nullable=False),
        sa.Column('start_watermark', sa.String(length=80), nullable=True),
        sa.Column('watermark', sa.String(length=80), nullable=True),
        sa.Column('error_message', sa.Text(), nullable=True),
        sa.Column('operator_id', sa.String(length=64), nullable=True),
        sa.Column('started_at', crm_common.db.UtcDateTime(timezone=True), nullable=False),
        sa.Column('finished_at', crm_common.db.UtcDateTime(timezone=True), nullable=True),
        sa.Column('updated_at', crm_common.db.UtcDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_external_sync_runs')),
    )
    op.create_index('ix_external_sync_runs_source', 'external_sync_runs', ['factory_id', 'source', 'id'],
                    unique=False)


def downgrade() -> None:
    op.drop_index('ix_external_sync_runs_source', table_name='external_sync_runs')
    op.drop_table('external_sync_runs')
