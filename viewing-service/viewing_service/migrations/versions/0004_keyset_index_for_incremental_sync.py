"""keyset index for incremental sync of viewing records (CONTRACT §4, issue 16)

``GET /api/external/viewing-records?updated_since=&cursor=`` reads one tenant's records in
(updated_at, id) order straight from this index and stops after the page.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-30 13:00:00
"""
from alembic import op

revision = '0004'
down_revision = '0003'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index('ix_viewing_records_factory_id_updated_at_id', 'viewing_records',
                    ['factory_id', 'updated_at', 'id'], unique=False)


def downgrade() -> None:
    op.drop_index('ix_viewing_records_factory_id_updated_at_id', table_name='viewing_records')
