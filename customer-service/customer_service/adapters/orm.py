"""Tables of customer-service's own database and their mapping onto the plain domain
classes (SQLAlchemy 2 imperative mapping: the domain knows nothing of SQLAlchemy).

This is the one customer model shared by the three API surfaces (seeds 000-004)."""
from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.orm import registry, relationship

from crm_common.db import BigId, UtcDateTime, consumer_tables, outbox_table, utcnow

from ..domain import model

metadata = sa.MetaData(naming_convention={
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
})
Money = sa.Numeric(18, 2)
LIVE = "deleted_at IS NULL"
# Written by the unit of work as the database's now() (the transaction's start: keyset pages
# of incremental sync rely on it) and read back in the same statement (RETURNING).
STAMPED = {"server_default": sa.FetchedValue(), "server_onupdate": sa.FetchedValue()}

companies = sa.Table(
    "companies", metadata,
    sa.Column("id", BigId, primary_key=True, autoincrement=True),
    sa.Column("factory_id", sa.String(64), nullable=False),
    sa.Column("business_domain", sa.String(64), nullable=True),
    sa.Column("company_code", sa.String(64), nullable=True),
    sa.Column("name", sa.String(200), nullable=False),
    sa.Column("source", sa.String(32), nullable=True),
    sa.Column("source_ref_id", sa.String(128), nullable=True),
    sa.Column("business_license_number", sa.String(64), nullable=True),
    sa.Column("industry_type", sa.String(64), nullable=True),
    sa.Column("address", sa.String(500), nullable=True),
    sa.Column("contact_name", sa.String(64), nullable=True),
    sa.Column("contact_phone", sa.String(32), nullable=True),
    sa.Column("version", sa.Integer, nullable=False, default=1),
    sa.Column("created_at", UtcDateTime, nullable=False, **STAMPED),
    sa.Column("updated_at", UtcDateTime, nullable=False, **STAMPED),
    sa.Column("created_by", sa.String(64), nullable=True),
    sa.Index("uq_companies_factory_code", "factory_id", "company_code", unique=True,
             postgresql_where=sa.text("company_code IS NOT NULL"), sqlite_where=sa.text("company_code IS NOT NULL")),
    sa.Index("uq_companies_factory_source_ref", "factory_id", "source", "source_ref_id", unique=True,
             postgresql_where=sa.text("source_ref_id IS NOT NULL"), sqlite_where=sa.text("source_ref_id IS NOT NULL")),
    sa.Index("ix_companies_factory_updated", "factory_id", "updated_at", "id"),  # incremental sync
)

customers = sa.Table(
    "customers", metadata,
    sa.Column("id", BigId, primary_key=True, autoincrement=True),
    sa.Column("factory_id", sa.String(64), nullable=False),
    sa.Column("business_domain", sa.String(64), nullable=False, default="DEFAULT"),
    sa.Column("customer_code", sa.String(50), nullable=False),
    sa.Column("name", sa.String(100), nullable=True),  # external (seed 002) customers may have none
    sa.Column("type", sa.String(20), nullable=True),  # company/individual/dealer/retail
    sa.Column("value_level", sa.String(20), nullable=True),
    sa.Column("status", sa.String(20), nullable=False, default="active"),
    sa.Column("business_license_number", sa.String(64), nullable=True),
    sa.Column("industry_type", sa.String(64), nullable=True),
    sa.Column("company_size", sa.String(20), nullable=True),
    sa.Column("primary_contact_name", sa.String(64), nullable=True),
    sa.Column("primary_contact_phone", sa.String(32), nullable=True),
    sa.Column("email", sa.String(254), nullable=True),
    sa.Column("address", sa.String(500), nullable=True),
    sa.Column("tax_number", sa.String(64), nullable=True),
    sa.Column("credit_limit", Money, nullable=False, default=0),
    sa.Column("current_balance", Money, nullable=False, default=0),
    sa.Column("payment_terms", sa.Integer, nullable=False, default=30),
    sa.Column("rating", sa.SmallInteger, nullable=False, default=3),
    sa.Column("rating_notes", sa.String(500), nullable=True),
    sa.Column("notes", sa.Text, nullable=True),
    sa.Column("source", sa.String(32), nullable=False, default="manual"),
    sa.Column("source_ref_id", sa.String(128), nullable=True),
    sa.Column("company_id", BigId, sa.ForeignKey("companies.id"), nullable=True),
    # seed 002: external integrator fields
    sa.Column("external_user_id", sa.String(128), nullable=True),
    sa.Column("bot_id", sa.String(128), nullable=True),
    sa.Column("nickname", sa.String(100), nullable=True),
    sa.Column("backup_phone", sa.String(32), nullable=True),
    sa.Column("wechat", sa.String(64), nullable=True),
    sa.Column("lead_status", sa.SmallInteger, nullable=True),
    sa.Column("community", sa.String(200), nullable=True),
    sa.Column("business_type", sa.String(20), nullable=True),
    sa.Column("room_type", sa.String(20), nullable=True),
    sa.Column("room_tags", sa.Text, nullable=True),
    sa.Column("move_in_date", sa.Date, nullable=True),
    sa.Column("lease_period", sa.Integer, nullable=True),
    sa.Column("price_range", sa.String(50), nullable=True),
    sa.Column("source_channel", sa.String(20), nullable=True),
    sa.Column("creator", sa.String(100), nullable=True),
    sa.Column("internal_notes", sa.Text, nullable=True),
    sa.Column("viewing_count", sa.Integer, nullable=False, default=0),
    sa.Column("total_commission", Money, nullable=False, default=0),
    # money over time (seed 001 §4, §7.2)
    sa.Column("debt_since", UtcDateTime, nullable=True),
    sa.Column("last_payment_date", sa.Date, nullable=True),
    # audit and concurrency
    sa.Column("version", sa.Integer, nullable=False),
    sa.Column("created_at", UtcDateTime, nullable=False, **STAMPED),
    sa.Column("created_by", sa.String(64), nullable=True),
    sa.Column("created_by_name", sa.String(100), nullable=True),
    sa.Column("updated_at", UtcDateTime, nullable=False, **STAMPED),
    sa.Column("updated_by", sa.String(64), nullable=True),
    sa.Column("updated_by_name", sa.String(100), nullable=True),
    sa.Column("status_changed_at", UtcDateTime, nullable=True),
    sa.Column("status_changed_by", sa.String(64), nullable=True),
    sa.Column("status_changed_by_name", sa.String(100), nullable=True),
    sa.Column("deleted_at", UtcDateTime, nullable=True),
    sa.Column("deleted_by", sa.String(64), nullable=True),
    sa.CheckConstraint("credit_limit >= 0", name="credit_limit_non_negative"),
    sa.CheckConstraint("rating BETWEEN 1 AND 5", name="rating_range"),
    # Identity rules of CONTRACT §4, enforced by the database.
    sa.Index("uq_customers_factory_code", "factory_id", "customer_code", unique=True),
    sa.Index("uq_customers_factory_name_live", "factory_id", "name", unique=True,
             postgresql_where=sa.text("deleted_at IS NULL AND external_user_id IS NULL"),
             sqlite_where=sa.text("deleted_at IS NULL AND external_user_id IS NULL")),
    sa.Index("uq_customers_factory_user_id", "factory_id", "external_user_id", unique=True,
             postgresql_where=sa.text("external_user_id IS NOT NULL"),
             sqlite_where=sa.text("external_user_id IS NOT NULL")),
    sa.Index("ix_customers_factory_created", "factory_id", "created_at"),
    sa.Index("ix_customers_factory_domain", "factory_id", "business_domain"),
    sa.Index("ix_customers_factory_type", "factory_id", "type"),
    sa.Index("ix_customers_factory_industry", "factory_id", "industry_type"),
    sa.Index("ix_customers_factory_rating", "factory_id", "rating"),
    sa.Index("ix_customers_factory_status", "factory_id", "status"),
    sa.Index("ix_customers_company", "company_id"),
    # incremental sync (CONTRACT §4): keyset pages in (updated_at, id) order per tenant
    sa.Index("ix_customers_factory_updated", "factory_id", "updated_at", "id"),
    # seed 001 lists of live customers: newest first / by name (also the index-only count),
    # and the debtors of §7.2 (a small partial index: few customers owe money).
    sa.Index("ix_customers_factory_live_created", "factory_id", "created_at", "id",
             postgresql_where=sa.text(LIVE), sqlite_where=sa.text(LIVE)),
    sa.Index("ix_customers_factory_live_name", "factory_id", "name", "id",
             postgresql_where=sa.text(LIVE), sqlite_where=sa.text(LIVE)),
    sa.Index("ix_customers_factory_debtors", "factory_id", "current_balance",
             postgresql_where=sa.text("deleted_at IS NULL AND current_balance < 0"),
             sqlite_where=sa.text("deleted_at IS NULL AND current_balance < 0")),
    # Keyword search (ILIKE '%kw%' on name, code, contact; seed 001 §2.2): trigram indexes,
    # which serve ILIKE as well as LIKE; PostgreSQL only (pg_trgm, created by the migration
    # where the server offers it).
    *(sa.Index(f"ix_customers_{column}_trgm", column, postgresql_using="gin",
               postgresql_ops={column: "gin_trgm_ops"}).ddl_if(dialect="postgresql")
      for column in ("name", "customer_code", "primary_contact_name")),
)
sa.event.listen(customers, "before_create",
                sa.DDL("CREATE EXTENSION IF NOT EXISTS pg_trgm").execute_if(dialect="postgresql"))

customer_groups = sa.Table(
    "customer_groups", metadata,
    sa.Column("id", BigId, primary_key=True, autoincrement=True),
    sa.Column("factory_id", sa.String(64), nullable=False),
    sa.Column("business_domain", sa.String(64), nullable=False),
    sa.Column("name", sa.String(100), nullable=False),
    sa.Column("description", sa.String(500), nullable=True),
    sa.Column("max_member", sa.Integer, nullable=True),
    sa.Column("version", sa.Integer, nullable=False, default=1),
    sa.Column("created_at", UtcDateTime, nullable=False, **STAMPED),
    sa.Column("updated_at", UtcDateTime, nullable=False, **STAMPED),
    sa.Column("created_by", sa.String(64), nullable=True),
    sa.Column("deleted_at", UtcDateTime, nullable=True),
    sa.Index("uq_customer_groups_factory_name_live", "factory_id", "name", unique=True,
             postgresql_where=sa.text(LIVE), sqlite_where=sa.text(LIVE)),
    sa.Index("ix_customer_groups_factory_updated", "factory_id", "updated_at", "id"),  # incremental sync
)

customer_group_members = sa.Table(
    "customer_group_members", metadata,
    sa.Column("group_id", BigId, sa.ForeignKey("customer_groups.id", ondelete="CASCADE"), primary_key=True),
    sa.Column("customer_id", BigId, sa.ForeignKey("customers.id", ondelete="CASCADE"), primary_key=True),
    sa.Column("added_at", UtcDateTime, nullable=False, default=utcnow),
    sa.Column("added_by", sa.String(64), nullable=True),
    sa.Index("idx_group_member_customer", "customer_id"),
)

external_sync = sa.Table(
    "external_sync", metadata,
    sa.Column("id", BigId, primary_key=True, autoincrement=True),
    sa.Column("factory_id", sa.String(64), nullable=False),
    sa.Column("entity_type", sa.String(32), nullable=False),
    sa.Column("entity_id", sa.String(64), nullable=True),
    sa.Column("source", sa.String(32), nullable=False),
    sa.Column("remote_id", sa.String(128), nullable=True),
    sa.Column("sync_status", sa.String(16), nullable=False),
    sa.Column("error_message", sa.Text, nullable=True),
    sa.Column("payload", sa.Text, nullable=True),
    sa.Column("trace_id", sa.String(128), nullable=True),
    sa.Column("operator_id", sa.String(64), nullable=True),
    sa.Column("created_at", UtcDateTime, nullable=False, default=utcnow),
    sa.Column("updated_at", UtcDateTime, nullable=False, default=utcnow, onupdate=utcnow),
    sa.Index("ix_external_sync_entity", "factory_id", "entity_type", "entity_id"),
    sa.Index("ix_external_sync_remote", "factory_id", "source", "remote_id"),
)

# Issue 21: one row per run of the import from the third party's MySQL; ``watermark`` is
# committed as the run goes (``updated_at|id`` of the last record done), so that the next
# run of the source (or a rerun after a crash) starts after it.
external_sync_runs = sa.Table(
    "external_sync_runs", metadata,
    sa.Column("id", BigId, primary_key=True, autoincrement=True),
    sa.Column("factory_id", sa.String(64), nullable=False),
    sa.Column("source", sa.String(32), nullable=False),
    sa.Column("state", sa.String(16), nullable=False),
    sa.Column("trigger", sa.String(16), nullable=False),
    sa.Column("read_count", sa.Integer, nullable=False, default=0),
    sa.Column("created_count", sa.Integer, nullable=False, default=0),
    sa.Column("updated_count", sa.Integer, nullable=False, default=0),
    sa.Column("unchanged_count", sa.Integer, nullable=False, default=0),
    sa.Column("failed_count", sa.Integer, nullable=False, default=0),
    sa.Column("start_watermark", sa.String(80), nullable=True),
    sa.Column("watermark", sa.String(80), nullable=True),
    sa.Column("error_message", sa.Text, nullable=True),
    sa.Column("operator_id", sa.String(64), nullable=True),
    sa.Column("started_at", UtcDateTime, nullable=False, default=utcnow),
    sa.Column("finished_at", UtcDateTime, nullable=True),
    sa.Column("updated_at", UtcDateTime, nullable=False, default=utcnow, onupdate=utcnow),
    sa.Index("ix_external_sync_runs_source", "factory_id", "source", "id"),
)

customer_status_history = sa.Table(
    "customer_status_history", metadata,
    sa.Column("id", BigId, primary_key=True, autoincrement=True),
    sa.Column("customer_id", BigId, sa.ForeignKey("customers.id"), nullable=False, index=True),
    sa.Column("factory_id", sa.String(64), nullable=False),
    sa.Column("from_status", sa.String(20), nullable=True),
    sa.Column("to_status", sa.String(20), nullable=False),
    sa.Column("reason", sa.String(500), nullable=True),
    sa.Column("operator_id", sa.String(64), nullable=True),
    sa.Column("operator_name", sa.String(100), nullable=True),
    sa.Column("trace_id", sa.String(128), nullable=True),
    sa.Column("changed_at", UtcDateTime, nullable=False, default=utcnow),
)

rating_history = sa.Table(
    "rating_history", metadata,
    sa.Column("id", BigId, primary_key=True, autoincrement=True),
    sa.Column("customer_id", BigId, sa.ForeignKey("customers.id"), nullable=False, index=True),
    sa.Column("factory_id", sa.String(64), nullable=False),
    sa.Column("old_rating", sa.SmallInteger, nullable=True),
    sa.Column("new_rating", sa.SmallInteger, nullable=False),
    sa.Column("notes", sa.String(500), nullable=True),
    sa.Column("operator_id", sa.String(64), nullable=True),
    sa.Column("operator_name", sa.String(100), nullable=True),
    sa.Column("trace_id", sa.String(128), nullable=True),
    sa.Column("changed_at", UtcDateTime, nullable=False, default=utcnow),
)

credit_limit_changes = sa.Table(
    "credit_limit_changes", metadata,
    sa.Column("id", BigId, primary_key=True, autoincrement=True),
    sa.Column("customer_id", BigId, sa.ForeignKey("customers.id"), nullable=False, index=True),
    sa.Column("factory_id", sa.String(64), nullable=False),
    sa.Column("old_limit", Money, nullable=False),
    sa.Column("new_limit", Money, nullable=False),
    sa.Column("balance_at_change", Money, nullable=False),
    sa.Column("exceeds_limit", sa.Boolean, nullable=False, default=False),
    sa.Column("operator_id", sa.String(64), nullable=True),
    sa.Column("operator_name", sa.String(100), nullable=True),
    sa.Column("trace_id", sa.String(128), nullable=True),
    sa.Column("changed_at", UtcDateTime, nullable=False, default=utcnow),
)

balance_transactions = sa.Table(
    "balance_transactions", metadata,
    sa.Column("id", BigId, primary_key=True, autoincrement=True),
    sa.Column("customer_id", BigId, sa.ForeignKey("customers.id"), nullable=False, index=True),
    sa.Column("factory_id", sa.String(64), nullable=False),
    sa.Column("old_balance", Money, nullable=False),
    sa.Column("new_balance", Money, nullable=False),
    sa.Column("amount", Money, nullable=False),
    sa.Column("kind", sa.String(20), nullable=False, default="adjustment"),
    sa.Column("note", sa.String(500), nullable=True),
    sa.Column("operator_id", sa.String(64), nullable=True),
    sa.Column("operator_name", sa.String(100), nullable=True),
    sa.Column("trace_id", sa.String(128), nullable=True),
    sa.Column("created_at", UtcDateTime, nullable=False, default=utcnow),
)

idempotency_keys = sa.Table(
    "idempotency_keys", metadata,
    sa.Column("id", BigId, primary_key=True, autoincrement=True),
    sa.Column("factory_id", sa.String(64), nullable=False),
    sa.Column("endpoint", sa.String(200), nullable=False),
    sa.Column("key", sa.String(128), nullable=False),
    sa.Column("principal_sub", sa.String(64), nullable=True),
    sa.Column("request_hash", sa.String(64), nullable=False),
    sa.Column("status_code", sa.Integer, nullable=True),
    sa.Column("response_body", sa.Text, nullable=True),
    sa.Column("created_at", UtcDateTime, nullable=False, default=utcnow),
    sa.Column("expires_at", UtcDateTime, nullable=False),
    sa.Index("uq_idempotency_keys_scope", "factory_id", "endpoint", "key", unique=True),
    sa.Index("ix_idempotency_keys_expires", "expires_at"),
)

# seed 002: each viewing record's latest contribution to its customer's counters
viewing_facts = sa.Table(
    "viewing_facts", metadata,
    sa.Column("viewing_record_id", sa.String(64), primary_key=True),
    sa.Column("customer_id", BigId, sa.ForeignKey("customers.id"), nullable=False, index=True),
    sa.Column("factory_id", sa.String(64), nullable=False),
    sa.Column("commission", Money, nullable=False, default=0),
    sa.Column("viewing_status", sa.SmallInteger, nullable=True),
    sa.Column("viewing_feedback", sa.SmallInteger, nullable=True),
    sa.Column("version", sa.BigInteger, nullable=False, default=0),
    sa.Column("updated_at", UtcDateTime, nullable=False, default=utcnow, onupdate=utcnow),
)

# Orders as analytics-service's order events describe them (latest state of each order),
# and per customer what customer-service needs of them (seed 001 §1.3, §7.2).
order_facts = sa.Table(
    "order_facts", metadata,
    sa.Column("factory_id", sa.String(64), primary_key=True),
    sa.Column("order_id", sa.String(128), primary_key=True),
    sa.Column("customer_id", BigId, sa.ForeignKey("customers.id"), nullable=False, index=True),
    sa.Column("status", sa.String(20), nullable=False),
    sa.Column("order_date", sa.Date, nullable=False),
    sa.Column("total_amount", Money, nullable=False),
    sa.Column("version", sa.BigInteger, nullable=False),
    sa.Column("updated_at", UtcDateTime, nullable=False, default=utcnow),
)

customer_orders = sa.Table(
    "customer_orders", metadata,
    sa.Column("customer_id", BigId, sa.ForeignKey("customers.id"), primary_key=True),
    sa.Column("factory_id", sa.String(64), nullable=False),
    sa.Column("open_orders", sa.Integer, nullable=False, default=0),
    sa.Column("total_orders", sa.Integer, nullable=False, default=0),
    sa.Column("total_revenue", sa.Numeric(20, 2), nullable=False, default=0),
    sa.Column("first_order_date", sa.Date, nullable=True),
    sa.Column("last_order_date", sa.Date, nullable=True),
    sa.Column("updated_at", UtcDateTime, nullable=False, default=utcnow),
)

outbox = outbox_table(metadata)
processed_events, applied_versions = consumer_tables(metadata)

mapper_registry = registry(metadata=metadata)
_mapped = False


def start_mappers() -> None:
    """Map the domain classes once per process."""
    global _mapped
    if _mapped:
        return
    mapper_registry.map_imperatively(model.Company, companies, eager_defaults=True)
    mapper_registry.map_imperatively(model.OrderSummary, customer_orders)
    mapper_registry.map_imperatively(
        model.Customer, customers, eager_defaults=True,  # the stamps come back with RETURNING
        version_id_col=customers.c.version,  # optimistic concurrency: stale writes fail
        properties={
            # selectin: the company of a page is loaded for its rows only, not joined before OFFSET
            "company": relationship(model.Company, lazy="selectin"),
            # one row per customer at most (written by the order consumer): joined in the same query
            "orders": relationship(model.OrderSummary, lazy="joined", uselist=False, viewonly=True),
        },
    )
    mapper_registry.map_imperatively(model.CustomerGroup, customer_groups, eager_defaults=True)
    _mapped = True
