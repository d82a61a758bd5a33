"""Client ids, client secrets and the slow hash the secrets are kept as.

Secrets are 256 random bits, shown once and stored only as an argon2id hash (argon2-cffi),
with OWASP's minimum parameters for argon2id (19 MiB, 2 passes, 1 lane): about 20-40 ms
of one core per check on this machine. The parameters are written into each hash, so
raising them later only needs ``needs_rehash`` at the next successful check.
"""
from __future__ import annotations

import re
import secrets
from functools import cached_property

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

CLIENT_ID_PREFIX = "ac_"       # API client
SECRET_PREFIX = "crm_cs_"      # recognisable by secret scanners in code and logs
CLIENT_ID_SHAPE = re.compile(r"[A-Za-z0-9_\-.]{1,64}")

TIME_COST, MEMORY_COST_KIB, PARALLELISM = 2, 19 * 1024, 1


def new_client_id() -> str:
    return CLIENT_ID_PREFIX + secrets.token_hex(10)


def new_client_secret() -> str:
    return SECRET_PREFIX + secrets.token_urlsafe(32)


def plausible_client_id(value: str) -> bool:
    """Worth looking up at all (bounded length, URL-safe characters)."""
    return bool(CLIENT_ID_SHAPE.fullmatch(value))


class SecretHasher:
    def __init__(self, time_cost: int = TIME_COST, memory_cost: int = MEMORY_COST_KIB,
                 parallelism: int = PARALLELISM):
        self._hasher = PasswordHasher(time_cost=time_cost, memory_cost=memory_cost, parallelism=parallelism)

    def hash(self, secret: str) -> str:
        return self._hasher.hash(secret)

    def verify(self, secret_hash: str | None, secret: str) -> bool:
        """Constant work whether or not the client exists: an unknown client's secret is
        checked against a dummy hash, so timing does not tell which client ids exist."""
        try:
            return self._hasher.verify(secret_hash or self._dummy_hash, secret) and secret_hash is not None
        except (VerificationError, InvalidHashError):
            return False

    @cached_property
    def _dummy_hash(self) -> str:
        return self._hasher.hash(secrets.token_urlsafe(32))
