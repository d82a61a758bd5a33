"""keyset indexes for incremental sync (CONTRACT §4, issue 16)

A page of ``updated_since`` / ``cursor`` reads one tenant's rows in (updated_at, id) order
(the history in (synced_at, id) order) straight from an index and stops after the page:
no page sorts the table.

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-30 12:00:00
"""
from alembic import op

revision = '0005'
down_revision = '0004'
branch_labels = None
depends_on = None

INDEXES = (
    ('ix_projects_factory_id_updated_at_id', 'projects', ['factory_id', 'updated_at', 'id']),
    ('ix_contracts_factory_id_updated_at_id', 'contracts', ['factory_id', 'updated_at', 'id']),
    ('ix_sync_history_factory_id_synced_at_id', 'sync_history', ['factory_id', 'synced_at', 'id']),
)


def upgrade() -> None:
    for name, table, columns in INDEXES:
        op.create_index(name, table, columns, unique=False)


def downgrade() -> None:
    for name, table, _columns in INDEXES:
        op.drop_index(name, table_name=table)
