"""Tables of webhook-service's own database (SQLAlchemy Core; the repositories turn rows
into the domain's dataclasses)."""
from __future__ import annotations

import sqlalchemy as sa

from crm_common.db import BigId, UtcDateTime, consumer_tables, utcnow

metadata = sa.MetaData(naming_convention={
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
})

# event_id dedupe only: webhooks forward every version of an aggregate, so the consumer
# keeps no applied_versions table (ordering is the delivery worker's job).
processed_events = consumer_tables(sa.MetaData())[0].to_metadata(metadata)

_PENDING = sa.text("state = 'pending'")

subscriptions = sa.Table(
    "subscriptions", metadata,
    sa.Column("id", BigId, primary_key=True, autoincrement=True),
    sa.Column("factory_id", sa.String(64), nullable=False),
    sa.Column("url", sa.String(2048), nullable=False),
    sa.Column("events", sa.JSON, nullable=False),
    sa.Column("description", sa.String(500), nullable=True),
    # The creating token's business domains (all_domains: its scope was "*").
    sa.Column("all_domains", sa.Boolean, nullable=False),
    sa.Column("domains", sa.JSON, nullable=False),
    # The HMAC key, as issued: signing needs it back, so it cannot be hashed (README: secrets).
    sa.Column("secret", sa.String(128), nullable=False),
    sa.Column("active", sa.Boolean, nullable=False, default=True),
    sa.Column("deactivated_at", UtcDateTime, nullable=True),
    sa.Column("deactivated_reason", sa.String(500), nullable=True),
    sa.Column("failed_attempts", sa.Integer, nullable=False, default=0),
    sa.Column("failed_deliveries", sa.Integer, nullable=False, default=0),
    sa.Column("paused_until", UtcDateTime, nullable=True),
    sa.Column("created_at", UtcDateTime, nullable=False, default=utcnow),
    sa.Column("created_by", sa.String(64), nullable=True),
    sa.Column("created_by_name", sa.String(100), nullable=True),
    sa.Column("updated_at", UtcDateTime, nullable=False, default=utcnow),
    sa.Column("updated_by", sa.String(64), nullable=True),
    sa.Column("version", sa.Integer, nullable=False, default=1),
    sa.Column("deleted_at", UtcDateTime, nullable=True),
    sa.Index("ix_subscriptions_factory_id_id", "factory_id", "id"),
)

# Each event that some subscription receives (or may, once its customer's domain is
# known), stored once whatever the number of its deliveries; ``payload`` is the exact body.
events = sa.Table(
    "events", metadata,
    sa.Column("event_id", sa.String(36), primary_key=True),
    sa.Column("factory_id", sa.String(64), nullable=False),
    sa.Column("event_type", sa.String(64), nullable=False),
    sa.Column("aggregate_type", sa.String(64), nullable=False),
    sa.Column("aggregate_id", sa.String(64), nullable=False),
    sa.Column("aggregate_version", sa.BigInteger, nullable=False),
    sa.Column("customer_id", sa.String(64), nullable=True),
    sa.Column("business_domain", sa.String(64), nullable=True),
    # Held for domain-scoped subscriptions until a customer event tells the customer's domain.
    sa.Column("awaiting_domain", sa.Boolean, nullable=False, default=False),
    sa.Column("occurred_at", UtcDateTime, nullable=True),
    sa.Column("payload", sa.Text, nullable=False),
    sa.Column("received_at", UtcDateTime, nullable=False, default=utcnow),
    sa.Index("ix_events_awaiting_domain", "factory_id", "customer_id",
             postgresql_where=sa.text("awaiting_domain"), sqlite_where=sa.text("awaiting_domain")),
)

deliveries = sa.Table(
    "deliveries", metadata,
    sa.Column("id", BigId, primary_key=True, autoincrement=True),
    sa.Column("subscription_id", BigId, sa.ForeignKey("subscriptions.id"), nullable=False),
    sa.Column("factory_id", sa.String(64), nullable=False),
    sa.Column("event_id", sa.String(36), sa.ForeignKey("events.event_id"), nullable=False),
    sa.Column("event_type", sa.String(64), nullable=False),
    sa.Column("aggregate_type", sa.String(64), nullable=False),
    sa.Column("aggregate_id", sa.String(64), nullable=False),
    sa.Column("aggregate_version", sa.BigInteger, nullable=False),
    sa.Column("state", sa.String(16), nullable=False),  # pending / delivered / failed
    sa.Column("attempts", sa.Integer, nullable=False, default=0),
    sa.Column("next_attempt_at", UtcDateTime, nullable=True),  # set while pending
    # The claim of the worker sending it now; expired leases are claimed again (crash).
    sa.Column("lease_token", sa.String(36), nullable=True),
    sa.Column("lease_expires_at", UtcDateTime, nullable=True),
    sa.Column("last_attempt_at", UtcDateTime, nullable=True),
    sa.Column("last_status_code", sa.Integer, nullable=True),
    sa.Column("last_error", sa.String(500), nullable=True),
    sa.Column("last_duration_ms", sa.Integer, nullable=True),
    sa.Column("delivered_at", UtcDateTime, nullable=True),
    sa.Column("created_at", UtcDateTime, nullable=False, default=utcnow),
    sa.Column("redelivery_of", BigId, nullable=True),  # a manual redelivery: the delivery it repeats
    # Due work of one subscription, oldest first (the claim).
    sa.Index("ix_deliveries_due", "subscription_id", "next_attempt_at", "id",
             postgresql_where=_PENDING, sqlite_where=_PENDING),
    # Which subscriptions have due work (the claim's first step).
    sa.Index("ix_deliveries_pending_next_attempt_at", "next_attempt_at",
             postgresql_where=_PENDING, sqlite_where=_PENDING),
    # An earlier version of the same aggregate still pending holds the later ones back.
    sa.Index("ix_deliveries_order", "subscription_id", "aggregate_type", "aggregate_id", "aggregate_version",
             postgresql_where=_PENDING, sqlite_where=_PENDING),
    sa.Index("ix_deliveries_subscription_id_id", "subscription_id", "id"),
    # One delivery per event and subscription (manual redeliveries aside).
    sa.Index("uq_deliveries_subscription_id_event_id", "subscription_id", "event_id", unique=True,
             postgresql_where=sa.text("redelivery_of IS NULL"), sqlite_where=sa.text("redelivery_of IS NULL")),
)

# The business domain of each customer, from the customer events consumed (viewing and
# order events name only the customer).
customer_domains = sa.Table(
    "customer_domains", metadata,
    sa.Column("factory_id", sa.String(64), primary_key=True),
    sa.Column("customer_id", sa.String(64), primary_key=True),
    sa.Column("business_domain", sa.String(64), nullable=True),
    sa.Column("version", sa.BigInteger, nullable=False),
    sa.Column("updated_at", UtcDateTime, nullable=False, default=utcnow),
)
