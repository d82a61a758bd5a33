"""order facts per customer (issue 15) and keyset indexes for incremental sync (issue 16)

Revision ID: 0002
Revises: 0001
"""
import sqlalchemy as sa
from alembic import op

import crm_common.db

revision = '0002'
down_revision = '0001'
branch_labels = None
depends_on = None

BIG_ID = sa.BigInteger().with_variant(sa.Integer(), 'sqlite')


def upgrade() -> None:
    op.create_table(
        'order_facts',
        sa.Column('factory_id', sa.String(length=64), nullable=False),
        sa.Column('order_id', sa.String(length=128), nullable=False),
        sa.Column('customer_id', BIG_ID, nullable=False),
        sa.Column('status', sa.String(length=20), nullable=False),
        sa.Column('order_date', sa.Date(), nullable=False),
        sa.Column('total_amount', sa.Numeric(precision=18, scale=2), nullable=False),
        sa.Column('version', sa.BigInteger(), nullable=False),
        sa.Column('updated_at', crm_common.db.UtcDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(['customer_id'], ['customers.id'], name=op.f('fk_order_facts_customer_id_customers')),
        sa.PrimaryKeyConstraint('factory_id', 'order_id', name=op.f('pk_order_facts')),
    )
    op.create_index(op.f('ix_order_facts_customer_id'), 'order_facts', ['customer_id'], unique=False)
    op.create_table(
        'customer_orders',
        sa.Column('customer_id', BIG_ID, nullable=False),
        sa.Column('factory_id', sa.String(length=64), nullable=False),
        sa.Column('open_orders', sa.Integer(), nullable=False),
        sa.Column('total_orders', sa.Integer(), nullable=False),
        sa.Column('total_revenue', sa.Numeric(precision=20, scale=2), nullable=False),
        sa.Column('first_order_date', sa.Date(), nullable=True),
        sa.Column('last_order_date', sa.Date(), nullable=True),
        sa.Column('updated_at', crm_common.db.UtcDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(['customer_id'], ['customers.id'], name=op.f('fk_customer_orders_customer_id_customers')),
        sa.PrimaryKeyConstraint('customer_id', name=op.f('pk_customer_orders')),
    )
    # Incremental sync: keyset pages in (updated_at, id) order per tenant.
    op.create_index('ix_customers_factory_updated', 'customers', ['factory_id', 'updated_at', 'id'], unique=False)
    op.create_index('ix_companies_factory_updated', 'companies', ['factory_id', 'updated_at', 'id'], unique=False)
    op.create_index('ix_customer_groups_factory_updated', 'customer_groups', ['factory_id', 'updated_at', 'id'],
                    unique=False)


def downgrade() -> None:
    op.drop_index('ix_customer_groups_factory_updated', table_name='customer_groups')
    op.drop_index('ix_companies_factory_updated', table_name='companies')
    op.drop_index('ix_customers_factory_updated', table_name='customers')
    op.drop_table('customer_orders')
    op.drop_index(op.f('ix_order_facts_customer_id'), table_name='order_facts')
    op.drop_table('order_facts')
