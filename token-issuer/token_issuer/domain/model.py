"""API clients, their audit trail and the issuer's signing keys: plain classes and rules,
no Flask, SQLAlchemy or crypto library here."""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

from crm_common.auth import ALL, ROLES
from crm_common.errors import Conflict, ValidationError

ACTIVE, REVOKED = "active", "revoked"
STATUSES = (ACTIVE, REVOKED)

# Audit actions, in the words an admin reads in the client's history.
CREATED, SECRET_ROTATED, REVOKED_ACTION = "created", "secret_rotated", "revoked"


@dataclass(frozen=True)
class Operator:
    """Who made a change: the admin's token (``sub``, ``name``) or the command line."""
    id: str
    name: str
    trace_id: str | None = None


@dataclass(frozen=True)
class Grant:
    """What a client's tokens allow: CONTRACT §3's ``roles``, ``factories``, ``domains``."""
    roles: tuple[str, ...]
    factories: tuple[str, ...]
    domains: tuple[str, ...]


def check_grant(roles, factories, domains) -> Grant:
    """A client's grant, refused field by field: roles from CONTRACT §3 only (any of them,
    ``admin`` included: the admin who creates the client chooses, and it is audited),
    factories and domains non-empty lists of codes or ``*``; duplicates dropped."""
    errors: dict[str, list[str]] = {}
    unknown = sorted(set(roles) - set(ROLES))
    if not roles:
        errors["roles"] = ["至少需要一个角色"]
    elif unknown:
        errors["roles"] = [f"未知角色：{', '.join(unknown)}；可选 {'/'.join(ROLES)}"]
    for name, values in (("factories", factories), ("domains", domains)):
        if not values:
            errors[name] = [f"至少需要一个取值（{ALL} 表示全部）"]
        elif any(not isinstance(v, str) or not v.strip() or len(v) > 64 for v in values):
            errors[name] = ["每个取值应为 1-64 个字符"]
    if errors:
        raise ValidationError("请求参数错误", errors=errors)
    return Grant(tuple(dict.fromkeys(roles)), tuple(dict.fromkeys(v.strip() for v in factories)),
                 tuple(dict.fromkeys(v.strip() for v in domains)))


@dataclass
class ApiClient:
    """An outside system's credential. The secret itself is never kept: only its slow hash."""
    client_id: str
    name: str
    roles: list[str]
    factories: list[str]
    domains: list[str]
    secret_hash: str
    created_at: dt.datetime
    created_by: str
    created_by_name: str
    status: str = ACTIVE
    secret_rotated_at: dt.datetime | None = None
    revoked_at: dt.datetime | None = None
    revoked_by: str | None = None
    revoked_by_name: str | None = None
    id: int | None = None

    @property
    def active(self) -> bool:
        return self.status == ACTIVE

    @property
    def subject(self) -> str:
        """The token's ``sub``: written into audit fields (``created_by``...) of the
        services, so that a change made by an integration is recognisable as one."""
        return f"client:{self.client_id}"

    def claims(self) -> dict:
        """CONTRACT §3 claims of this client's tokens (the issuer adds the registered ones)."""
        return {"sub": self.subject, "name": self.name, "roles": list(self.roles),
                "factories": list(self.factories), "domains": list(self.domains), "client_id": self.client_id}

    def rotate_secret(self, secret_hash: str, now: dt.datetime) -> None:
        """The old secret stops working at once; tokens already issued stay valid until
        they expire (revoke the client to stop those)."""
        if not self.active:
            raise Conflict("该 API 客户端已被吊销，不能更换密钥", error_code="CLIENT_REVOKED")
        self.secret_hash = secret_hash
        self.secret_rotated_at = now

    def revoke(self, operator: Operator, now: dt.datetime) -> bool:
        """False when it was revoked already (nothing changes, nothing is audited)."""
        if not self.active:
            return False
        self.status, self.revoked_at = REVOKED, now
        self.revoked_by, self.revoked_by_name = operator.id, operator.name
        return True


@dataclass
class AuditEntry:
    client_id: str
    action: str
    operator_id: str
    operator_name: str
    at: dt.datetime
    trace_id: str | None = None
    details: dict = field(default_factory=dict)
    id: int | None = None


@dataclass
class SigningKey:
    """One asymmetric key pair of the issuer. It signs from ``active_from`` until the next
    key's ``active_from`` (its ``retired_at``); its public half stays in the JWKS until the
    last token it signed has expired, then it may be pruned."""
    kid: str
    generation: int
    algorithm: str
    public_jwk: dict
    private_key: bytes  # encrypted with the key-encryption key (adapters.keystore)
    created_at: dt.datetime
    active_from: dt.datetime
    retired_at: dt.datetime | None = None

    def signs_at(self, now: dt.datetime) -> bool:
        return self.active_from <= now and (self.retired_at is None or now < self.retired_at)

    def published_at(self, now: dt.datetime, token_lifetime: dt.timedelta) -> bool:
        """In the JWKS: from creation (published before it signs, so that every verifier
        can know it by then) until its last possible token has expired."""
        return self.retired_at is None or now < self.retired_at + token_lifetime


def signing_key(keys: list[SigningKey], now: dt.datetime) -> SigningKey | None:
    """The key that signs now: the newest generation already active."""
    active = [k for k in keys if k.active_from <= now]
    return max(active, key=lambda k: k.generation) if active else None
