"""customer_domains: each customer's business domain, from customer events (issue 13)

A viewing record belongs to its customer; callers see it only inside the customer's
business domain. viewing-service learns the domain from the customer.* events it consumes
(queue viewing-service.customer-domains).

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-30 11:00:00
"""
import sqlalchemy as sa
from alembic import op

import crm_common.db

revision = '0003'
down_revision = '0002'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('customer_domains',
    sa.Column('customer_id', sa.BigInteger(), autoincrement=False, nullable=False),
    sa.Column('factory_id', sa.String(length=64), nullable=False),
    sa.Column('business_domain', sa.String(length=64), nullable=True),
    sa.Column('version', sa.BigInteger(), nullable=False),
    sa.Column('updated_at', crm_common.db.UtcDateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('customer_id', name=op.f('pk_customer_domains'))
    )


def downgrade() -> None:
    op.drop_table('customer_domains')
