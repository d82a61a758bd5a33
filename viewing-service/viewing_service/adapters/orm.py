"""Tables of viewing-service's own database and their mapping onto the plain domain
classes (SQLAlchemy 2 imperative mapping: the domain knows nothing of SQLAlchemy)."""
from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.orm import registry

from crm_common.db import BigId, UtcDateTime, consumer_tables, outbox_table, utcnow

from ..domain import model

metadata = sa.MetaData(naming_convention={
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
})

# seed 002 带看记录: one row per (tenant, userId, property address — or name without one)
viewing_records = sa.Table(
    "viewing_records", metadata,
    sa.Column("id", BigId, primary_key=True, autoincrement=True),
    sa.Column("factory_id", sa.String(64), nullable=False),
    sa.Column("user_id", sa.String(128), nullable=False),
    sa.Column("identity_key", sa.String(520), nullable=False),  # domain.model.record_identity
    sa.Column("customer_id", sa.BigInteger, nullable=False),  # customer-service's id (no FK: other db)
    sa.Column("customer_name", sa.String(100), nullable=True),  # snapshot at the viewing
    sa.Column("customer_phone", sa.String(32), nullable=True),  # snapshot at the viewing
    sa.Column("bot_id", sa.String(128), nullable=True),
    sa.Column("viewing_time", UtcDateTime, nullable=False),
    sa.Column("property_name", sa.String(200), nullable=False),
    sa.Column("property_address", sa.String(500), nullable=True),
    sa.Column("room_type", sa.String(20), nullable=False),
    sa.Column("room_tag", sa.String(100), nullable=True),
    sa.Column("viewer_name", sa.String(100), nullable=False),
    sa.Column("viewing_status", sa.SmallInteger, nullable=False),
    sa.Column("commission", sa.Numeric(18, 2), nullable=False),
    sa.Column("viewing_feedback", sa.SmallInteger, nullable=True),
    sa.Column("business_type", sa.String(20), nullable=False),
    sa.Column("notes", sa.Text, nullable=True),
    # the property (given, or filled in by the external property service)
    sa.Column("housing_id", sa.BigInteger, nullable=True),
    sa.Column("house_area_id", sa.BigInteger, nullable=True),
    sa.Column("house_area_name", sa.String(100), nullable=True),
    sa.Column("city_id", sa.BigInteger, nullable=True),
    sa.Column("city_name", sa.String(100), nullable=True),
    sa.Column("property_addr_id", sa.BigInteger, nullable=True),
    sa.Column("unit_type", sa.String(50), nullable=True),
    sa.Column("longitude", sa.String(32), nullable=True),
    sa.Column("latitude", sa.String(32), nullable=True),
    sa.Column("room_id", sa.BigInteger, nullable=True),
    sa.Column("advisor_id", sa.BigInteger, nullable=True),
    sa.Column("advisor_name", sa.String(100), nullable=True),
    sa.Column("company_name", sa.String(200), nullable=True),
    sa.Column("company_abbreviation", sa.String(100), nullable=True),
    sa.Column("house_type_id", sa.BigInteger, nullable=True),
    sa.Column("external_property_enriched", sa.Boolean, nullable=False, default=False),
    sa.Column("external_property_data", sa.JSON, nullable=True),
    # audit and concurrency
    sa.Column("version", sa.Integer, nullable=False),
    sa.Column("created_at", UtcDateTime, nullable=False, default=utcnow),
    sa.Column("created_by", sa.String(64), nullable=True),
    sa.Column("updated_at", UtcDateTime, nullable=False, default=utcnow),
    sa.Column("updated_by", sa.String(64), nullable=True),
    sa.CheckConstraint("commission >= 0", name="commission_non_negative"),
    sa.CheckConstraint("viewing_status BETWEEN 1 AND 4", name="viewing_status_range"),
    sa.Index("uq_viewing_records_identity", "factory_id", "user_id", "identity_key", unique=True),
    sa.Index("ix_viewing_records_user_time", "factory_id", "user_id", "viewing_time"),
    sa.Index("ix_viewing_records_factory_time", "factory_id", "viewing_time"),
    sa.Index("ix_viewing_records_customer", "customer_id"),
    sa.Index("ix_viewing_records_factory_id_updated_at_id", "factory_id", "updated_at", "id"),  # keyset pages
)

# The business domain of each customer the records belong to (CONTRACT §3 scope), from
# customer-service's customer.* events; ``version`` is the customer's, never going back.
customer_domains = sa.Table(
    "customer_domains", metadata,
    sa.Column("customer_id", sa.BigInteger, primary_key=True, autoincrement=False),
    sa.Column("factory_id", sa.String(64), nullable=False),
    sa.Column("business_domain", sa.String(64), nullable=True),
    sa.Column("version", sa.BigInteger, nullable=False),
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
    mapper_registry.map_imperatively(model.ViewingRecord, viewing_records,
                                     version_id_col=viewing_records.c.version)  # per-record version
    _mapped = True
