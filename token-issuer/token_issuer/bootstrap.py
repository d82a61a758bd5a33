"""Wires the issuer's parts once per process (as the gateway's ``Gateway`` does), so that
views, commands and tests receive them instead of building them."""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Callable

from flask import current_app
from sqlalchemy.engine import Engine

from crm_common.bootstrap import build_uow_factory
from crm_common.config import ConfigError, Settings
from crm_common.db import utcnow

from .adapters import orm
from .adapters.guesslimit import GuessLimiter
from .adapters.keystore import ALGORITHMS, KeyEncryption, kek_from_settings
from .domain.credentials import SecretHasher
from .service_layer.unit_of_work import IssuerUnitOfWork


@dataclass
class Issuer:
    settings: Settings
    engine: Engine
    uow_factory: Callable[[], IssuerUnitOfWork]
    keys: KeyEncryption
    hasher: SecretHasher
    limiter: GuessLimiter
    token_ttl: int                  # seconds an access token lives (ISSUER_TOKEN_TTL)
    key_algorithm: str              # for new keys (ISSUER_KEY_ALGORITHM)
    activation_delay: int           # rotate-key: seconds a new key is published before it signs
    trusted_proxy_hops: int         # X-Forwarded-For entries added by our own proxies
    now: Callable[[], dt.datetime] = field(default=utcnow)

    @property
    def token_lifetime(self) -> dt.timedelta:
        """How long a signed token can be accepted: its lifetime plus the verifiers' leeway
        (a retired key stays in the JWKS that long)."""
        return dt.timedelta(seconds=self.token_ttl + self.settings.jwt_leeway_seconds)


def build_issuer(settings: Settings) -> Issuer:
    ttl = settings.get_int("ISSUER_TOKEN_TTL", 600)
    if not 60 <= ttl <= settings.jwt_max_ttl:
        raise ConfigError(f"ISSUER_TOKEN_TTL must be between 60 and JWT_MAX_TTL ({settings.jwt_max_ttl}) seconds")
    algorithm = settings.get("ISSUER_KEY_ALGORITHM", "EdDSA")
    if algorithm not in ALGORITHMS:
        raise ConfigError(f"ISSUER_KEY_ALGORITHM must be one of {'/'.join(ALGORITHMS)}")
    engine, uow_factory = build_uow_factory(settings, IssuerUnitOfWork, orm.start_mappers)
    return Issuer(settings=settings, engine=engine, uow_factory=uow_factory, keys=KeyEncryption(kek_from_settings(settings)),
                  hasher=SecretHasher(), limiter=GuessLimiter.from_settings(settings), token_ttl=ttl,
                  key_algorithm=algorithm,
                  activation_delay=settings.get_int("ISSUER_KEY_ACTIVATION_DELAY", 30),
                  trusted_proxy_hops=settings.get_int("TRUSTED_PROXY_HOPS", 1))


def issuer() -> Issuer:
    return current_app.extensions["issuer"]
