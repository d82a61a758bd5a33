"""Configuration from the environment only (12-factor).

Every variable of CONTRACT §2 is read here, once, into an immutable ``Settings``.
"""
from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path

DEV_JWT_SECRET = "dev-only-secret-change-me-0123456789abcdef"
# ``iss`` and ``aud`` of the token issuer's asymmetric tokens (JWT_ISSUER, JWT_AUDIENCE).
DEFAULT_JWT_ISSUER = "crm-token-issuer"
DEFAULT_JWT_AUDIENCE = "crm-api"

SERVICES = ("customer", "viewing", "analytics", "sync", "webhook", "issuer")
DEFAULT_PORTS = {"customer": 8001, "viewing": 8002, "analytics": 8003, "sync": 8004, "webhook": 8005, "issuer": 8006}


class ConfigError(RuntimeError):
    """The environment describes a configuration the process must refuse."""


def repo_root() -> Path:
    """The project root (where ``var/`` lives for the zero-configuration SQLite default)."""
    env = os.environ.get("CRM_HOME")
    if env:
        return Path(env)
    here = Path(__file__).resolve()
    for parent in here.parents:
        if (parent / "Procfile").exists() and (parent / "libs").is_dir():
            return parent
    return Path.cwd()


def _int(env: dict, name: str, default: int) -> int:
    raw = env.get(name)
    if raw in (None, ""):
        return default
    try:
        return int(raw)
    except ValueError as exc:
        raise ConfigError(f"{name} must be an integer, got {raw!r}") from exc


def _float(env: dict, name: str, default: float) -> float:
    raw = env.get(name)
    if raw in (None, ""):
        return default
    try:
        return float(raw)
    except ValueError as exc:
        raise ConfigError(f"{name} must be a number, got {raw!r}") from exc


def _flag(env: dict, name: str) -> bool:
    raw = (env.get(name) or "").strip().lower()
    if raw in ("", "0", "false", "no"):
        return False
    if raw in ("1", "true", "yes"):
        return True
    raise ConfigError(f"{name} must be 1 or 0, got {raw!r}")


def _jwt_secret(env: dict, production: bool, allow_hs256: bool) -> str | None:
    """The HS256 key, or ``None`` when HS256 tokens are refused (production without
    ALLOW_HS256=1: processes then verify only the token issuer's asymmetric tokens and hold
    no key that could sign one; a JWT_SECRET given anyway is not used)."""
    secret = env.get("JWT_SECRET") or None
    if not production:
        return secret or DEV_JWT_SECRET
    if not allow_hs256:
        return None
    if secret is None or secret == DEV_JWT_SECRET:
        raise ConfigError("JWT_SECRET must be set to a private key when CRM_ENV=production and ALLOW_HS256=1")
    if len(secret) < 32:
        raise ConfigError("JWT_SECRET must be at least 32 characters in production")
    return secret


def _domain_mapping(env: dict) -> dict[str, tuple[str, ...]]:
    """Role/position/department code -> extra business-domain codes (seed 003).

    ``DOMAIN_MAPPING`` holds JSON (``{"ROLE_STD_AGENT": ["GENERAL_WAREHOUSING"]}``);
    ``DOMAIN_MAPPING_FILE`` names a JSON file with the same shape.
    """
    raw = env.get("DOMAIN_MAPPING")
    path = env.get("DOMAIN_MAPPING_FILE")
    if not raw and path:
        raw = Path(path).read_text(encoding="utf-8")
    if not raw:
        return {"ROLE_STD_AGENT": ("GENERAL_WAREHOUSING",)}
    try:
        data = json.loads(raw)
    except json.JSONDecodeError as exc:
        raise ConfigError(f"DOMAIN_MAPPING is not valid JSON: {exc}") from exc
    out: dict[str, tuple[str, ...]] = {}
    for key, value in data.items():
        out[str(key)] = tuple([value] if isinstance(value, str) else [str(v) for v in value])
    return out


@dataclass(frozen=True)
class Settings:
    service: str
    env: str = "development"
    jwt_secret: str | None = DEV_JWT_SECRET  # None: HS256 tokens are refused
    allow_hs256: bool = True
    jwt_leeway_seconds: int = 10
    jwt_max_ttl: int = 86400
    jwt_issuer: str = DEFAULT_JWT_ISSUER
    jwt_audience: str = DEFAULT_JWT_AUDIENCE
    jwks_url: str = ""
    revocations_url: str = ""
    amqp_url: str = "amqp://guest:guest@localhost:5672/%2F"
    database_url: str = ""
    redis_url: str | None = None
    property_lookup_url: str | None = None
    app_timezone: str = "Asia/Shanghai"
    log_level: str = "INFO"
    gateway_port: int = 8080
    service_urls: dict[str, str] = field(default_factory=dict)
    max_request_bytes: int = 12 * 1024 * 1024
    upstream_connect_timeout: float = 2.0
    upstream_read_timeout: float = 30.0
    internal_http_timeout: float = 3.0
    domain_mapping: dict[str, tuple[str, ...]] = field(default_factory=dict)
    exchange: str = "crm.events"
    raw: dict[str, str] = field(default_factory=dict, repr=False)

    @classmethod
    def from_env(cls, service: str, environ: dict | None = None) -> "Settings":
        env = dict(os.environ if environ is None else environ)
        crm_env = env.get("CRM_ENV", "development")
        production = crm_env == "production"
        # HS256 (JWT_SECRET, `make token`) is for development and tests (CONTRACT §3).
        allow_hs256 = not production or _flag(env, "ALLOW_HS256")
        secret = _jwt_secret(env, production, allow_hs256)
        db_url = ""
        if service in SERVICES:
            db_url = normalize_database_url(env.get(f"{service.upper()}_DATABASE_URL") or default_sqlite_url(service))
        # Default internal URLs follow the ports a local stack was given (Procfile).
        urls = {
            name: env.get(f"{name.upper()}_SERVICE_URL") or f"http://127.0.0.1:{env.get(f'{name.upper()}_PORT') or port}"
            for name, port in DEFAULT_PORTS.items()
        }
        issuer_url = urls["issuer"].rstrip("/")
        return cls(
            service=service,
            env=crm_env,
            jwt_secret=secret,
            allow_hs256=allow_hs256,
            jwt_leeway_seconds=_int(env, "JWT_LEEWAY_SECONDS", 10),
            jwt_max_ttl=_int(env, "JWT_MAX_TTL", 86400),
            jwt_issuer=env.get("JWT_ISSUER") or DEFAULT_JWT_ISSUER,
            jwt_audience=env.get("JWT_AUDIENCE") or DEFAULT_JWT_AUDIENCE,
            jwks_url=env.get("JWKS_URL") or f"{issuer_url}/.well-known/jwks.json",
            revocations_url=env.get("REVOCATIONS_URL") or f"{issuer_url}/internal/revoked-clients",
            amqp_url=env.get("AMQP_URL") or "amqp://guest:guest@localhost:5672/%2F",
            database_url=db_url,
            redis_url=env.get("REDIS_URL") or None,
            property_lookup_url=env.get("PROPERTY_LOOKUP_URL") or None,
            app_timezone=env.get("APP_TIMEZONE") or "Asia/Shanghai",
            log_level=(env.get("LOG_LEVEL") or "INFO").upper(),
            gateway_port=_int(env, "GATEWAY_PORT", 8080),
            service_urls=urls,
            max_request_bytes=_int(env, "MAX_REQUEST_BYTES", 12 * 1024 * 1024),
            upstream_connect_timeout=_float(env, "UPSTREAM_CONNECT_TIMEOUT", 2.0),
            upstream_read_timeout=_float(env, "UPSTREAM_READ_TIMEOUT", 30.0),
            internal_http_timeout=_float(env, "INTERNAL_HTTP_TIMEOUT", 3.0),
            domain_mapping=_domain_mapping(env),
            exchange=env.get("EVENTS_EXCHANGE") or "crm.events",
            raw=env,
        )

    @property
    def production(self) -> bool:
        return self.env == "production"

    def get(self, name: str, default: str | None = None) -> str | None:
        """A service-specific variable not modelled above."""
        value = self.raw.get(name)
        return default if value in (None, "") else value

    def get_int(self, name: str, default: int) -> int:
        return _int(self.raw, name, default)

    def get_float(self, name: str, default: float) -> float:
        return _float(self.raw, name, default)


# Every PostgreSQL URL form a user may be handed ends in the one driver the services ship
# and test (psycopg2): SQLAlchemy 2.1 reads a bare postgresql:// as psycopg 3, and hosting
# providers hand out postgres://, which SQLAlchemy does not know at all.
_POSTGRES_SCHEMES = ("postgres", "postgresql", "postgresql+psycopg2", "postgresql+psycopg",
                     "postgresql+psycopg2cffi", "pgsql")


def normalize_database_url(url: str) -> str:
    """``postgres://``, ``postgresql://``, ``postgresql+psycopg://`` and
    ``postgresql+psycopg2://`` -> ``postgresql+psycopg2://`` (user, password, host, port,
    database and query kept byte for byte); ``sqlite:///...`` and anything else unchanged."""
    scheme, sep, rest = url.partition("://")
    if sep and scheme.lower() in _POSTGRES_SCHEMES:
        return "postgresql+psycopg2://" + rest
    return url


def default_sqlite_url(service: str) -> str:
    var = repo_root() / "var"
    var.mkdir(parents=True, exist_ok=True)
    return f"sqlite:///{var / (service + '.db')}"
