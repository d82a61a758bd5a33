"""Idempotency-Key rules (bulk API), no database: what makes two requests "the same",
which keys are acceptable, and how long a key is remembered."""
from __future__ import annotations

import datetime as dt
import hashlib
import json
import re

KEY_TTL = dt.timedelta(hours=24)
_KEY = re.compile(r"^[A-Za-z0-9._:\-]{1,128}$")
KEY_FORMAT_MESSAGE = "Idempotency-Key 应为 1-128 个字母、数字或 ._:- 字符"
KEY_REUSED_MESSAGE = "该 Idempotency-Key 已用于不同的请求内容"
IN_PROGRESS_MESSAGE = "相同 Idempotency-Key 的请求正在处理中，请稍后重试"


def valid_key(key: str) -> bool:
    return bool(_KEY.match(key or ""))


def request_fingerprint(endpoint: str, body) -> str:
    """SHA-256 of the endpoint and the canonical JSON body (key order and spacing ignored)."""
    canonical = json.dumps({"endpoint": endpoint, "body": body}, sort_keys=True,
                           ensure_ascii=False, separators=(",", ":"), default=str)
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


def expires_at(now: dt.datetime) -> dt.datetime:
    return now + KEY_TTL
