"""Contact formats shared by every surface (pure functions, no framework)."""
from __future__ import annotations

import re

MOBILE_PHONE_RE = re.compile(r"^1[3-9]\d{9}$")
# Landline: optional area code (0 + 2-3 digits, optional dash), 7-8 digits, optional extension.
LANDLINE_RE = re.compile(r"^(0\d{2,3}-?)?\d{7,8}(-\d{1,6})?$")


def is_mobile_phone(value: str | None) -> bool:
    return bool(value and MOBILE_PHONE_RE.match(value))


def is_phone(value: str | None) -> bool:
    """A mainland mobile number or a landline (seed 001: 11位手机号或固话格式)."""
    return bool(value and (MOBILE_PHONE_RE.match(value) or LANDLINE_RE.match(value)))
