"""customer summaries per tenant (overall statistics and distributions without a scan),
indexes for the clock-dependent counts, wider per-customer revenue

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-30 03:00:00
"""
import sqlalchemy as sa
from alembic import op

revision = '0005'
down_revision = '0004'
branch_labels = None
depends_on = None

LIVE = sa.text("deleted_at IS NULL")
LIVE_DEBTORS = sa.text("deleted_at IS NULL AND rating > 2 AND debt_due_at IS NOT NULL")


def upgrade() -> None:
    op.create_table('customer_summaries',
    sa.Column('factory_id', sa.String(length=64), nullable=False),
    sa.Column('business_domain', sa.String(length=64), nullable=False),
    sa.Column('type', sa.String(length=20), nullable=False),
    sa.Column('industry_type', sa.String(length=64), nullable=False),
    sa.Column('rating', sa.SmallInteger(), autoincrement=False, nullable=False),
    sa.Column('customers', sa.Integer(), nullable=False),
    sa.Column('active', sa.Integer(), nullable=False),
    sa.Column('with_outstanding', sa.Integer(), nullable=False),
    sa.Column('with_credit_limit', sa.Integer(), nullable=False),
    sa.Column('credit_limit', sa.Numeric(precision=28, scale=2), nullable=False),
    sa.Column('current_balance', sa.Numeric(precision=28, scale=2), nullable=False),
    sa.Column('available_credit', sa.Numeric(precision=28, scale=2), nullable=False),
    sa.Column('utilization_sum', sa.Numeric(precision=30, scale=12), nullable=False),
    sa.PrimaryKeyConstraint('factory_id', 'business_domain', 'type', 'industry_type', 'rating',
                            name=op.f('pk_customer_summaries'))
    )
    op.create_index('ix_customers_live_factory_created', 'customers', ['factory_id', 'created_at'], unique=False,
                    postgresql_where=LIVE, sqlite_where=LIVE, postgresql_include=['business_domain'])
    op.create_index('ix_customers_live_factory_debt_due', 'customers', ['factory_id', 'debt_due_at'], unique=False,
                    postgresql_where=LIVE_DEBTORS, sqlite_where=LIVE_DEBTORS, postgresql_include=['business_domain'])
    with op.batch_alter_table('customer_order_totals') as batch:
        batch.alter_column('total_revenue', type_=sa.Numeric(precision=28, scale=2),
                           existing_type=sa.Numeric(precision=18, scale=2), existing_nullable=False)
    # The customers already projected: their sums once (domain.customers.customer_figures_sql
    # as of this revision).
    op.execute("""
        INSERT INTO customer_summaries (factory_id, business_domain, type, industry_type, rating, customers, active,
                                        with_outstanding, with_credit_limit, credit_limit, current_balance,
                                        available_credit, utilization_sum)
        SELECT factory_id, coalesce(business_domain, ''), coalesce(type, ''), coalesce(industry_type, ''), rating,
               count(*), sum(CASE WHEN status = 'active' THEN 1 ELSE 0 END),
               sum(CASE WHEN current_balance < 0 THEN 1 ELSE 0 END), sum(CASE WHEN credit_limit > 0 THEN 1 ELSE 0 END),
               sum(credit_limit), sum(current_balance), sum(credit_limit - abs(current_balance)),
               sum(CASE WHEN credit_limit > 0 THEN round(CAST(abs(current_balance) AS NUMERIC(38, 16)) / credit_limit, 12)
                        ELSE 0 END)
        FROM customers WHERE deleted_at IS NULL
        GROUP BY factory_id, coalesce(business_domain, ''), coalesce(type, ''), coalesce(industry_type, ''), rating
    """)


def downgrade() -> None:
    with op.batch_alter_table('customer_order_totals') as batch:
        batch.alter_column('total_revenue', type_=sa.Numeric(precision=18, scale=2),
                           existing_type=sa.Numeric(precision=28, scale=2), existing_nullable=False)
    op.drop_index('ix_customers_live_factory_debt_due', table_name='customers')
    op.drop_index('ix_customers_live_factory_created', table_name='customers')
    op.drop_table('customer_summaries')
