"""Idempotency-Key rules (bulk API), no database: what makes two requests "the same",
which keys are acceptable, how long a key is remembered, and who may replay one."""
from __future__ import annotations

import datetime as dt
import hashlib
import json
import re

from .errors import KeyOfAnotherUser, KeyReused

KEY_TTL = dt.timedelta(hours=24)
_KEY = re.compile(r"^[A-Za-z0-9._:\-]{1,128}$")


def valid_key(key: str) -> bool:
    return bool(_KEY.match(key or ""))


def request_fingerprint(endpoint: str, body) -> str:
    """SHA-256 of the endpoint and the canonical JSON body (key order and spacing ignored)."""
    canonical = json.dumps({"endpoint": endpoint, "body": body}, sort_keys=True,
                           ensure_ascii=False, separators=(",", ":"), default=str)
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


def expires_at(now: dt.datetime) -> dt.datetime:
    return now + KEY_TTL


def check_replay(*, stored_by: str | None, stored_fingerprint: str, caller: str, fingerprint: str) -> None:
    """A stored response replays only for the user who made it, with the same request."""
    if stored_by != caller:
        raise KeyOfAnotherUser()
    if stored_fingerprint != fingerprint:
        raise KeyReused()
