"""Which events a subscription receives (CONTRACT §6): ``*`` (every event), a family such
as ``customer.*``, or an exact type of CONTRACT §5 (``viewing.recorded``)."""
from __future__ import annotations

from typing import Iterable

from crm_common.events import EVENT_TYPES

EVERYTHING = "*"
# Not a CONTRACT §5 event: what ``POST /api/v1/webhooks/{id}/ping`` sends, to every subscription.
PING = "webhook.ping"
MAX_PATTERNS = 20
FAMILIES = frozenset(event_type.split(".", 1)[0] for event_type in EVENT_TYPES)


def pattern_error(pattern: str) -> str | None:
    """Why ``pattern`` is not a valid subscription pattern (``None`` when it is)."""
    if pattern == EVERYTHING or pattern in EVENT_TYPES:
        return None
    if pattern.endswith(".*") and pattern[:-2] in FAMILIES:
        return None
    known = ", ".join([EVERYTHING, *sorted(f"{family}.*" for family in FAMILIES), *sorted(EVENT_TYPES)])
    return f"未知的事件类型或模式 {pattern!r}，可用：{known}"


def normalise(patterns: Iterable[str]) -> list[str]:
    """The patterns once each, in a stable order (what the API shows back)."""
    return sorted(set(patterns))


def matches(patterns: Iterable[str], event_type: str) -> bool:
    """Does a subscription with ``patterns`` receive ``event_type``? Pings reach everyone."""
    if event_type == PING:
        return True
    family = event_type.split(".", 1)[0]
    return any(p == EVERYTHING or p == event_type or p == f"{family}.*" for p in patterns)
