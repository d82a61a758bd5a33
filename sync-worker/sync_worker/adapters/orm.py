"""Tables of sync-worker's own database and the mapping of ``Project`` and ``Contract``
onto them (SQLAlchemy 2 imperative mapping: the domain knows nothing of SQLAlchemy)."""
from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.orm import registry

from crm_common.db import BigId, UtcDateTime, consumer_tables, utcnow

from ..domain import model

metadata = sa.MetaData(naming_convention={
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
})

# sync-worker publishes nothing (no outbox); it consumes customer events exactly once.
processed_events, applied_versions = consumer_tables(metadata)


def _audit_columns() -> list[sa.Column]:
    return [
        sa.Column("created_at", UtcDateTime, nullable=False, default=utcnow),
        sa.Column("created_by", sa.String(64), nullable=True),
        sa.Column("created_by_name", sa.String(100), nullable=True),
        sa.Column("updated_at", UtcDateTime, nullable=False, default=utcnow),
        sa.Column("updated_by", sa.String(64), nullable=True),
        sa.Column("updated_by_name", sa.String(100), nullable=True),
        # When the customer fields were last copied from the customer (event, manual, contract).
        sa.Column("customer_synced_at", UtcDateTime, nullable=True),
        sa.Column("version", sa.Integer, nullable=False, default=1),
    ]


projects = sa.Table(
    "projects", metadata,
    sa.Column("id", BigId, primary_key=True, autoincrement=True),
    sa.Column("factory_id", sa.String(64), nullable=False),
    sa.Column("name", sa.String(200), nullable=False),
    sa.Column("customer_id", sa.BigInteger, nullable=False),
    sa.Column("customer_name", sa.String(100), nullable=True),
    sa.Column("customer_contact", sa.String(64), nullable=True),
    sa.Column("customer_phone", sa.String(32), nullable=True),
    sa.Column("business_domain", sa.String(64), nullable=True),  # the customer's
    *_audit_columns(),
    sa.Index("ix_projects_factory_id_customer_id", "factory_id", "customer_id"),
    sa.Index("ix_projects_factory_id_updated_at_id", "factory_id", "updated_at", "id"),  # keyset pages
)

contracts = sa.Table(
    "contracts", metadata,
    sa.Column("id", BigId, primary_key=True, autoincrement=True),
    sa.Column("factory_id", sa.String(64), nullable=False),
    sa.Column("contract_no", sa.String(64), nullable=False),
    sa.Column("customer_id", sa.BigInteger, nullable=False),
    sa.Column("project_id", BigId, sa.ForeignKey("projects.id"), nullable=True),
    sa.Column("customer_name", sa.String(100), nullable=True),
    sa.Column("contact_person", sa.String(64), nullable=True),
    sa.Column("contact_phone", sa.String(32), nullable=True),
    sa.Column("business_domain", sa.String(64), nullable=True),  # the customer's
    *_audit_columns(),
    sa.UniqueConstraint("factory_id", "contract_no"),
    sa.Index("ix_contracts_factory_id_customer_id", "factory_id", "customer_id"),
    sa.Index("ix_contracts_project_id", "project_id"),
    sa.Index("ix_contracts_factory_id_updated_at_id", "factory_id", "updated_at", "id"),  # keyset pages
)

# The latest known state of each customer, from its events (or from customer-service when
# a request needed a customer no event had told us about yet).
customer_snapshots = sa.Table(
    "customer_snapshots", metadata,
    sa.Column("customer_id", sa.BigInteger, primary_key=True, autoincrement=False),
    sa.Column("factory_id", sa.String(64), nullable=False),
    sa.Column("business_domain", sa.String(64), nullable=True),
    sa.Column("name", sa.String(100), nullable=True),
    sa.Column("contact", sa.String(64), nullable=True),
    sa.Column("phone", sa.String(32), nullable=True),
    sa.Column("version", sa.BigInteger, nullable=False),
    sa.Column("deleted", sa.Boolean, nullable=False, default=False),
    sa.Column("source", sa.String(32), nullable=False),  # "event" or "customer-service"
    sa.Column("event_id", sa.String(36), nullable=True),
    sa.Column("updated_at", UtcDateTime, nullable=False, default=utcnow),
    sa.Index("ix_customer_snapshots_factory_id", "factory_id"),
)

# Seed 004 §7.2: every synchronisation, when, what changed, which rows.
sync_history = sa.Table(
    "sync_history", metadata,
    sa.Column("id", BigId, primary_key=True, autoincrement=True),
    sa.Column("factory_id", sa.String(64), nullable=False),
    sa.Column("customer_id", sa.BigInteger, nullable=False),
    sa.Column("business_domain", sa.String(64), nullable=True),  # the customer's
    sa.Column("trigger", sa.String(16), nullable=False),  # event / manual / contract
    sa.Column("outcome", sa.String(16), nullable=False),  # success / skipped / failed
    sa.Column("event_id", sa.String(36), nullable=True),
    sa.Column("customer_version", sa.BigInteger, nullable=True),
    sa.Column("event_occurred_at", UtcDateTime, nullable=True),
    sa.Column("trace_id", sa.String(128), nullable=True),
    sa.Column("operator_id", sa.String(64), nullable=True),
    sa.Column("operator_name", sa.String(100), nullable=True),
    sa.Column("synced_at", UtcDateTime, nullable=False, default=utcnow),
    sa.Column("changed_fields", sa.JSON, nullable=False),   # customer fields that changed
    sa.Column("project_fields", sa.JSON, nullable=False),   # project fields written
    sa.Column("contract_fields", sa.JSON, nullable=False),  # contract fields written
    sa.Column("project_ids", sa.JSON, nullable=False),
    sa.Column("contract_ids", sa.JSON, nullable=False),
    sa.Column("project_count", sa.Integer, nullable=False, default=0),
    sa.Column("contract_count", sa.Integer, nullable=False, default=0),
    sa.Column("error", sa.Text, nullable=True),
    sa.Index("ix_sync_history_factory_id_customer_id", "factory_id", "customer_id", "id"),
    sa.Index("ix_sync_history_factory_id_synced_at_id", "factory_id", "synced_at", "id"),  # keyset pages
    # An applied event is recorded once; failed attempts may repeat.
    sa.Index("uq_sync_history_event_id_applied", "event_id", unique=True,
             postgresql_where=sa.text("event_id IS NOT NULL AND outcome <> 'failed'"),
             sqlite_where=sa.text("event_id IS NOT NULL AND outcome <> 'failed'")),
)

mapper_registry = registry()
_mapped = False


def start_mappers() -> None:
    """Map the domain classes once per process."""
    global _mapped
    if _mapped:
        return
    mapper_registry.map_imperatively(model.Project, projects, version_id_col=projects.c.version)
    mapper_registry.map_imperatively(model.Contract, contracts, version_id_col=contracts.c.version)
    _mapped = True
