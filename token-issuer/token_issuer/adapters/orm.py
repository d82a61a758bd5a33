"""Tables of the issuer's own database (ISSUER_DATABASE_URL) and the mapping of the domain
classes onto them (SQLAlchemy 2 imperative mapping: the domain knows nothing of SQLAlchemy)."""
from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.orm import registry

from crm_common.db import BigId, UtcDateTime, utcnow

from ..domain import model

metadata = sa.MetaData(naming_convention={
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
})

api_clients = sa.Table(
    "api_clients", metadata,
    sa.Column("id", BigId, primary_key=True, autoincrement=True),
    sa.Column("client_id", sa.String(64), nullable=False, unique=True),
    sa.Column("name", sa.String(100), nullable=False),
    sa.Column("roles", sa.JSON, nullable=False),
    sa.Column("factories", sa.JSON, nullable=False),
    sa.Column("domains", sa.JSON, nullable=False),
    sa.Column("secret_hash", sa.String(255), nullable=False),  # argon2id, never the secret
    sa.Column("status", sa.String(16), nullable=False, default=model.ACTIVE),
    sa.Column("created_at", UtcDateTime, nullable=False, default=utcnow),
    sa.Column("created_by", sa.String(64), nullable=False),
    sa.Column("created_by_name", sa.String(100), nullable=False),
    sa.Column("secret_rotated_at", UtcDateTime, nullable=True),
    sa.Column("revoked_at", UtcDateTime, nullable=True),
    sa.Column("revoked_by", sa.String(64), nullable=True),
    sa.Column("revoked_by_name", sa.String(100), nullable=True),
    # The revocation list every service polls is read through this index.
    sa.Index("ix_api_clients_status", "status"),
)

# Every change of a client, with who made it (CONTRACT: audited with the operator).
api_client_audit = sa.Table(
    "api_client_audit", metadata,
    sa.Column("id", BigId, primary_key=True, autoincrement=True),
    sa.Column("client_id", sa.String(64), nullable=False),
    sa.Column("action", sa.String(32), nullable=False),
    sa.Column("operator_id", sa.String(64), nullable=False),
    sa.Column("operator_name", sa.String(100), nullable=False),
    sa.Column("trace_id", sa.String(128), nullable=True),
    sa.Column("at", UtcDateTime, nullable=False, default=utcnow),
    sa.Column("details", sa.JSON, nullable=False),
    sa.Index("ix_api_client_audit_client_id_id", "client_id", "id"),
)

signing_keys = sa.Table(
    "signing_keys", metadata,
    sa.Column("kid", sa.String(64), primary_key=True),
    # One row per rotation; the unique number makes two concurrent first starts (or
    # rotations) create one key, not two.
    sa.Column("generation", sa.Integer, nullable=False, unique=True),
    sa.Column("algorithm", sa.String(16), nullable=False),
    sa.Column("public_jwk", sa.JSON, nullable=False),
    sa.Column("private_key", sa.LargeBinary, nullable=False),  # AES-256-GCM under the KEK
    sa.Column("created_at", UtcDateTime, nullable=False),
    sa.Column("active_from", UtcDateTime, nullable=False),
    sa.Column("retired_at", UtcDateTime, nullable=True),
)

mapper_registry = registry()
_mapped = False


def start_mappers() -> None:
    """Map the domain classes once per process."""
    global _mapped
    if _mapped:
        return
    mapper_registry.map_imperatively(model.ApiClient, api_clients)
    mapper_registry.map_imperatively(model.AuditEntry, api_client_audit)
    mapper_registry.map_imperatively(model.SigningKey, signing_keys)
    _mapped = True
