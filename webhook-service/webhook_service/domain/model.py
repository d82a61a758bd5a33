"""Subscriptions and deliveries, and the rules about who receives what (no I/O)."""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

from crm_common.auth import DomainScope

from . import patterns

PENDING, DELIVERED, FAILED = "pending", "delivered", "failed"
STATES = (PENDING, DELIVERED, FAILED)
ALL_DOMAINS = "*"


@dataclass
class Subscription:
    factory_id: str
    url: str
    events: list[str]
    secret: str = field(repr=False)  # never in a log line or a traceback
    all_domains: bool
    domains: list[str]
    description: str | None = None
    id: int | None = None
    active: bool = True
    deactivated_at: dt.datetime | None = None
    deactivated_reason: str | None = None
    failed_attempts: int = 0      # attempts in a row that failed (pauses the receiver)
    failed_deliveries: int = 0    # deliveries in a row given up (deactivates the subscription)
    paused_until: dt.datetime | None = None
    created_at: dt.datetime | None = None
    created_by: str | None = None
    created_by_name: str | None = None
    updated_at: dt.datetime | None = None
    updated_by: str | None = None
    version: int = 1
    deleted_at: dt.datetime | None = None

    def wants(self, event_type: str) -> bool:
        return patterns.matches(self.events, event_type)

    def receives_domain(self, domain: str | None) -> bool:
        """Whether an event of a customer in ``domain`` may reach this subscription (a
        customer without a domain reaches only subscriptions of every domain)."""
        return self.all_domains or (domain is not None and domain in self.domains)

    def visible_to(self, scope: DomainScope) -> bool:
        """A caller manages a subscription only when its own domains cover the
        subscription's (so it never sees deliveries of a domain it may not see)."""
        if scope.everything:
            return True
        return not self.all_domains and set(self.domains) <= set(scope.codes)

    @property
    def shown_domains(self) -> list[str]:
        return [ALL_DOMAINS] if self.all_domains else list(self.domains)


def domains_of(scope: DomainScope) -> tuple[bool, list[str]]:
    """What a new subscription carries: the creating token's business domains."""
    return (True, []) if scope.everything else (False, sorted(scope.codes))


@dataclass
class Delivery:
    subscription_id: int
    factory_id: str
    event_id: str
    event_type: str
    aggregate_type: str
    aggregate_id: str
    aggregate_version: int
    id: int | None = None
    state: str = PENDING
    attempts: int = 0
    next_attempt_at: dt.datetime | None = None
    last_attempt_at: dt.datetime | None = None
    last_status_code: int | None = None
    last_error: str | None = None
    last_duration_ms: int | None = None
    delivered_at: dt.datetime | None = None
    created_at: dt.datetime | None = None
    redelivery_of: int | None = None


@dataclass(frozen=True)
class Job:
    """One claimed delivery, with what sending it needs."""
    delivery_id: int
    subscription_id: int
    lease_token: str
    attempts: int           # including this one
    url: str
    secret: str = field(repr=False)
    event_id: str
    event_type: str
    body: bytes
    lease_expires_at: dt.datetime
    occurred_at: dt.datetime | None = None

    @property
    def is_ping(self) -> bool:
        return self.event_type == patterns.PING


@dataclass(frozen=True)
class AttemptResult:
    """What one POST gave: a status code (``None`` when no answer came) and, when it is
    not a success, why."""
    status_code: int | None
    error: str | None
    duration: float = 0.0

    @property
    def ok(self) -> bool:
        return self.error is None and self.status_code is not None and 200 <= self.status_code < 300
