"""Tables of analytics-service's own database.

- ``customers`` and ``viewing_records``: the read model, projected from customer-service's
  and viewing-service's events (or rebuilt from their snapshots); deleted customers stay,
  with ``deleted_at``, so that versions keep ordering events.
- ``orders`` and ``order_items``: order facts, owned here (``/api/v1/analytics/orders`` and
  other producers' order events), with the override an order was recorded under;
  ``customer_order_totals`` sums them per customer.
- ``customer_summaries``: per tenant, the sums overall statistics and the distributions
  read, kept in step with ``customers`` by the consumer.
- ``event_sources``: the newest event applied per producer (freshness).
- outbox and consumer bookkeeping (``processed_events``, ``applied_versions``).
"""
from __future__ import annotations

import sqlalchemy as sa

from crm_common.db import BigId, UtcDateTime, consumer_tables, outbox_table, utcnow

metadata = sa.MetaData(naming_convention={
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
})
Money = sa.Numeric(18, 2)
Quantity = sa.Numeric(18, 3)
Sum = sa.Numeric(28, 2)            # sums over many rows: room far beyond any one row's bound
LIVE = sa.text("deleted_at IS NULL")
LIVE_DEBTORS = sa.text("deleted_at IS NULL AND rating > 2 AND debt_due_date IS NOT NULL")

outbox = outbox_table(metadata)
processed_events, applied_versions = consumer_tables(metadata)

customers = sa.Table(
    "customers", metadata,
    sa.Column("id", sa.BigInteger, primary_key=True, autoincrement=False),  # customer-service's id
    sa.Column("factory_id", sa.String(64), nullable=False),
    sa.Column("business_domain", sa.String(64), nullable=True),
    sa.Column("name", sa.String(100), nullable=True),
    sa.Column("customer_code", sa.String(50), nullable=True),
    sa.Column("type", sa.String(20), nullable=True),
    sa.Column("industry_type", sa.String(64), nullable=True),
    sa.Column("status", sa.String(20), nullable=True),
    sa.Column("rating", sa.SmallInteger, nullable=False, default=3),
    sa.Column("credit_limit", Money, nullable=False, default=0),
    sa.Column("current_balance", Money, nullable=False, default=0),
    sa.Column("payment_terms", sa.Integer, nullable=False, default=30),
    sa.Column("debt_since", UtcDateTime, nullable=True),
    sa.Column("debt_due_at", UtcDateTime, nullable=True),  # debt_since + payment_terms (an instant)
    # The day the debt falls due, seed 001 §7.2 (crm_common.credit.debt_due_date): the last
    # counted (not cancelled) order's date, else the day the debt began (in APP_TIMEZONE),
    # plus payment terms; NULL without a debt. Kept in step by customer events and by every
    # order write (ReadModel.due_dates), so that "overdue" is `debt_due_date < today`.
    sa.Column("debt_due_date", sa.Date, nullable=True),
    sa.Column("lead_status", sa.SmallInteger, nullable=True),
    sa.Column("viewing_count", sa.Integer, nullable=False, default=0),
    sa.Column("total_commission", Money, nullable=False, default=0),
    sa.Column("created_at", UtcDateTime, nullable=True),
    sa.Column("deleted_at", UtcDateTime, nullable=True),
    sa.Column("version", sa.BigInteger, nullable=False),
    sa.Column("applied_at", UtcDateTime, nullable=False, default=utcnow),
    sa.Index("ix_customers_live_factory", "factory_id", "rating",
             postgresql_where=LIVE, sqlite_where=LIVE),
    sa.Index("ix_customers_live_factory_lead_status", "factory_id", "lead_status",
             postgresql_where=LIVE, sqlite_where=LIVE),
    # The two figures of §5.4 that depend on the clock, counted from an index (index-only on
    # PostgreSQL) instead of kept: new this month, and overdue debt (3-5 stars; 1-2 star
    # customers are at risk anyway and counted from the summary).
    sa.Index("ix_customers_live_factory_created", "factory_id", "created_at",
             postgresql_where=LIVE, sqlite_where=LIVE, postgresql_include=["business_domain"]),
    sa.Index("ix_customers_live_factory_debt_due_date", "factory_id", "debt_due_date",
             postgresql_where=LIVE_DEBTORS, sqlite_where=LIVE_DEBTORS, postgresql_include=["business_domain"]),
)

# Per tenant, business domain, type, industry and rating: the sums of seed 001 §5.4 over the
# live customers of the read model (domain.customers.CustomerFigures), changed in the same
# transaction as the customers themselves (ReadModel.apply_customers), so that overall
# statistics and the distributions read a few hundred rows instead of scanning customers.
customer_summaries = sa.Table(
    "customer_summaries", metadata,
    sa.Column("factory_id", sa.String(64), primary_key=True),
    sa.Column("business_domain", sa.String(64), primary_key=True),   # "" when none
    sa.Column("type", sa.String(20), primary_key=True),              # "" when none
    sa.Column("industry_type", sa.String(64), primary_key=True),     # "" when none
    sa.Column("rating", sa.SmallInteger, primary_key=True, autoincrement=False),
    sa.Column("customers", sa.Integer, nullable=False, default=0),
    sa.Column("active", sa.Integer, nullable=False, default=0),
    sa.Column("with_outstanding", sa.Integer, nullable=False, default=0),
    sa.Column("with_credit_limit", sa.Integer, nullable=False, default=0),
    sa.Column("credit_limit", Sum, nullable=False, default=0),
    sa.Column("current_balance", Sum, nullable=False, default=0),
    sa.Column("available_credit", Sum, nullable=False, default=0),
    sa.Column("utilization_sum", sa.Numeric(30, 12), nullable=False, default=0),
)

viewing_records = sa.Table(
    "viewing_records", metadata,
    sa.Column("id", sa.String(64), primary_key=True),  # viewing-service's id
    sa.Column("factory_id", sa.String(64), nullable=False),
    sa.Column("customer_id", sa.BigInteger, nullable=True),
    sa.Column("user_id", sa.String(128), nullable=True),
    sa.Column("viewing_time", UtcDateTime, nullable=True),
    sa.Column("viewing_status", sa.SmallInteger, nullable=True),
    sa.Column("viewing_feedback", sa.SmallInteger, nullable=True),
    sa.Column("commission", Money, nullable=False, default=0),
    sa.Column("property_name", sa.String(200), nullable=True),
    sa.Column("business_type", sa.String(20), nullable=True),
    sa.Column("version", sa.BigInteger, nullable=False),
    sa.Column("applied_at", UtcDateTime, nullable=False, default=utcnow),
    sa.Index("ix_viewing_records_factory_time", "factory_id", "viewing_time"),
    sa.Index("ix_viewing_records_factory_customer", "factory_id", "customer_id"),
)

orders = sa.Table(
    "orders", metadata,
    sa.Column("id", BigId, primary_key=True, autoincrement=True),
    sa.Column("factory_id", sa.String(64), nullable=False),
    sa.Column("order_id", sa.String(64), nullable=False),  # the caller's order number
    sa.Column("customer_id", sa.BigInteger, nullable=False),
    sa.Column("order_date", sa.Date, nullable=False),
    sa.Column("total_amount", Money, nullable=False),
    sa.Column("status", sa.String(20), nullable=False),
    sa.Column("payment_status", sa.String(20), nullable=False),
    sa.Column("due_date", sa.Date, nullable=False),
    sa.Column("paid_date", sa.Date, nullable=True),
    sa.Column("payment_days", sa.Integer, nullable=True),  # paid_date - order_date
    sa.Column("late_days", sa.Integer, nullable=True),     # paid_date - due_date (≤ 0 on time)
    sa.Column("counted", sa.Boolean, nullable=False, default=True),  # not cancelled
    sa.Column("source", sa.String(64), nullable=False, default="api"),
    # An override that let the order past overridable refusals (seed 001's overdue and
    # high-risk rules): which rules, why, who, when.
    sa.Column("override_rules", sa.String(200), nullable=True),  # comma-separated rule names
    sa.Column("override_reason", sa.String(500), nullable=True),
    sa.Column("override_by", sa.String(128), nullable=True),
    sa.Column("override_by_name", sa.String(128), nullable=True),
    sa.Column("override_at", UtcDateTime, nullable=True),
    sa.Column("version", sa.BigInteger, nullable=False, default=1),
    sa.Column("created_at", UtcDateTime, nullable=False, default=utcnow),
    sa.Column("updated_at", UtcDateTime, nullable=False, default=utcnow),
    sa.Index("uq_orders_factory_order_id", "factory_id", "order_id", unique=True),
    sa.Index("ix_orders_factory_customer_date", "factory_id", "customer_id", "order_date"),
)

order_items = sa.Table(
    "order_items", metadata,
    sa.Column("id", BigId, primary_key=True, autoincrement=True),
    sa.Column("order_pk", BigId, sa.ForeignKey("orders.id", ondelete="CASCADE"), nullable=False),
    sa.Column("factory_id", sa.String(64), nullable=False),
    sa.Column("customer_id", sa.BigInteger, nullable=False),
    sa.Column("line_no", sa.Integer, nullable=False),
    sa.Column("product_name", sa.String(200), nullable=False),
    sa.Column("quantity", Quantity, nullable=False),
    sa.Column("unit_price", Money, nullable=False),
    sa.Column("subtotal", Money, nullable=False),
    sa.Column("counted", sa.Boolean, nullable=False, default=True),  # its order is not cancelled
    sa.Index("ix_order_items_order", "order_pk"),
    sa.Index("ix_order_items_factory_customer", "factory_id", "customer_id"),
)

# Per customer, over counted orders: kept in step by every order write (VIP, summaries).
customer_order_totals = sa.Table(
    "customer_order_totals", metadata,
    sa.Column("factory_id", sa.String(64), primary_key=True),
    sa.Column("customer_id", sa.BigInteger, primary_key=True, autoincrement=False),
    sa.Column("total_orders", sa.Integer, nullable=False),
    sa.Column("total_revenue", Sum, nullable=False),
    sa.Column("first_order_date", sa.Date, nullable=False),
    sa.Column("last_order_date", sa.Date, nullable=False),
    sa.Index("ix_customer_order_totals_factory_revenue", "factory_id", "total_revenue"),
)

event_sources = sa.Table(
    "event_sources", metadata,
    sa.Column("producer", sa.String(64), primary_key=True),
    sa.Column("last_event_id", sa.String(36), nullable=True),
    sa.Column("last_event_type", sa.String(64), nullable=True),
    sa.Column("last_occurred_at", UtcDateTime, nullable=True),
    sa.Column("last_applied_at", UtcDateTime, nullable=True),
    sa.Column("events_applied", sa.BigInteger, nullable=False, default=0),
)
