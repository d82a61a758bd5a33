"""projects, contracts, customer snapshots and sync history

Generated with alembic autogenerate against PostgreSQL, then reviewed: contract numbers are
unique per factory; a sync history row per applied event (partial unique index on event_id,
failed attempts excepted); customer ids are customer-service's, so no foreign key.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-21 19:42:33.518983
"""
import sqlalchemy as sa
from alembic import op

import crm_common.db

revision = '0002'
down_revision = '0001'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('customer_snapshots',
    sa.Column('customer_id', sa.BigInteger(), autoincrement=False, nullable=False),
    sa.Column('factory_id', sa.String(length=64), nullable=False),
    sa.Column('business_domain', sa.String(length=64), nullable=True),
    sa.Column('name', sa.String(length=100), nullable=True),
    sa.Column('contact', sa.String(length=64), nullable=True),
    sa.Column('phone', sa.String(length=32), nullable=True),
    sa.Column('version', sa.BigInteger(), nullable=False),
    sa.Column('deleted', sa.Boolean(), nullable=False),
    sa.Column('source', sa.String(length=32), nullable=False),
    sa.Column('event_id', sa.String(length=36), nullable=True),
    sa.Column('updated_at', crm_common.db.UtcDateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('customer_id', name=op.f('pk_customer_snapshots'))
    )
    op.create_index('ix_customer_snapshots_factory_id', 'customer_snapshots', ['factory_id'], unique=False)
    op.create_table('projects',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
    sa.Column('factory_id', sa.String(length=64), nullable=False),
    sa.Column('name', sa.String(length=200), nullable=False),
    sa.Column('customer_id', sa.BigInteger(), nullable=False),
    sa.Column('customer_name', sa.String(length=100), nullable=True),
    sa.Column('customer_contact', sa.String(length=64), nullable=True),
    sa.Column('customer_phone', sa.String(length=32), nullable=True),
    sa.Column('created_at', crm_common.db.UtcDateTime(timezone=True), nullable=False),
    sa.Column('created_by', sa.String(length=64), nullable=True),
    sa.Column('created_by_name', sa.String(length=100), nullable=True),
    sa.Column('updated_at', crm_common.db.UtcDateTime(timezone=True), nullable=False),
    sa.Column('updated_by', sa.String(length=64), nullable=True),
    sa.Column('updated_by_name', sa.String(length=100), nullable=True),
    sa.Column('customer_synced_at', crm_common.db.UtcDateTime(timezone=True), nullable=True),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_projects'))
    )
    op.create_index('ix_projects_factory_id_customer_id', 'projects', ['factory_id', 'customer_id'], unique=False)
    op.create_table('sync_history',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
    sa.Column('factory_id', sa.String(length=64), nullable=False),
    sa.Column('customer_id', sa.BigInteger(), nullable=False),
    sa.Column('trigger', sa.String(length=16), nullable=False),
    sa.Column('outcome', sa.String(length=16), nullable=False),
    sa.Column('event_id', sa.String(length=36), nullable=True),
    sa.Column('customer_version', sa.BigInteger(), nullable=True),
    sa.Column('event_occurred_at', crm_common.db.UtcDateTime(timezone=True), nullable=True),
    sa.Column('trace_id', sa.String(length=128), nullable=True),
    sa.Column('operator_id', sa.String(length=64), nullable=True),
    sa.Column('operator_name', sa.String(length=100), nullable=True),
    sa.Column('synced_at', crm_common.db.UtcDateTime(timezone=True), nullable=False),
    sa.Column('changed_fields', sa.JSON(), nullable=False),
    sa.Column('project_fields', sa.JSON(), nullable=False),
    sa.Column('contract_fields', sa.JSON(), nullable=False),
    sa.Column('project_ids', sa.JSON(), nullable=False),
    sa.Column('contract_ids', sa.JSON(), nullable=False),
    sa.Column('project_count', sa.Integer(), nullable=False),
    sa.Column('contract_count', sa.Integer(), nullable=False),
    sa.Column('error', sa.Text(), nullable=True),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_sync_history'))
    )
    op.create_index('ix_sync_history_factory_id_customer_id', 'sync_history', ['factory_id', 'customer_id', 'id'], unique=False)
    op.create_index('uq_sync_history_event_id_applied', 'sync_history', ['event_id'], unique=True, postgresql_where=sa.text("event_id IS NOT NULL AND outcome <> 'failed'"), sqlite_where=sa.text("event_id IS NOT NULL AND outcome <> 'failed'"))
    op.create_table('contracts',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
    sa.Column('factory_id', sa.String(length=64), nullable=False),
    sa.Column('contract_no', sa.String(length=64), nullable=False),
    sa.Column('customer_id', sa.BigInteger(), nullable=False),
    sa.Column('project_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=True),
    sa.Column('customer_name', sa.String(length=100), nullable=True),
    sa.Column('contact_person', sa.String(length=64), nullable=True),
    sa.Column('contact_phone', sa.String(length=32), nullable=True),
    sa.Column('created_at', crm_common.db.UtcDateTime(timezone=True), nullable=False),
    sa.Column('created_by', sa.String(length=64), nullable=True),
    sa.Column('created_by_name', sa.String(length=100), nullable=True),
    sa.Column('updated_at', crm_common.db.UtcDateTime(timezone=True), nullable=False),
    sa.Column('updated_by', sa.String(length=64), nullable=True),
    sa.Column('updated_by_name', sa.String(length=100), nullable=True),
    sa.Column('customer_synced_at', crm_common.db.UtcDateTime(timezone=True), nullable=True),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['project_id'], ['projects.id'], name=op.f('fk_contracts_project_id_projects')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_contracts')),
    sa.UniqueConstraint('factory_id', 'contract_no', name=op.f('uq_contracts_factory_id_contract_no'))
    )
    op.create_index('ix_contracts_factory_id_customer_id', 'contracts', ['factory_id', 'customer_id'], unique=False)
    op.create_index('ix_contracts_project_id', 'contracts', ['project_id'], unique=False)


def downgrade() -> None:
    op.drop_index('ix_contracts_project_id', table_name='contracts')
    op.drop_index('ix_contracts_factory_id_customer_id', table_name='contracts')
    op.drop_table('contracts')
    op.drop_index('uq_sync_history_event_id_applied', table_name='sync_history', postgresql_where=sa.text("event_id IS NOT NULL AND outcome <> 'failed'"), sqlite_where=sa.text("event_id IS NOT NULL AND outcome <> 'failed'"))
    op.drop_index('ix_sync_history_factory_id_customer_id', table_name='sync_history')
    op.drop_table('sync_history')
    op.drop_index('ix_projects_factory_id_customer_id', table_name='projects')
    op.drop_table('projects')
    op.drop_index('ix_customer_snapshots_factory_id', table_name='customer_snapshots')
    op.drop_table('customer_snapshots')
