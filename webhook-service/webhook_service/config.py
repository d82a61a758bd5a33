"""webhook-service's own settings, read once from the environment next to the shared
``Settings`` (which holds ``WEBHOOK_DATABASE_URL``, ``CRM_ENV``, ``JWT_SECRET``, ...)."""
from __future__ import annotations

from dataclasses import dataclass

from crm_common.config import ConfigError, Settings

from .domain.retry import MIN_ATTEMPTS, RetryPolicy
from .domain.targets import TargetPolicy

CONTRACT_TIMEOUT_SECONDS = 10.0  # CONTRACT §6: a 2xx within 10 s is a success


@dataclass(frozen=True)
class WebhookSettings:
    retry: RetryPolicy
    timeout_seconds: float
    lease_seconds: float
    concurrency: int
    concurrency_per_subscription: int
    poll_seconds: float
    allowed_hosts: frozenset[str]
    production: bool
    max_subscriptions_per_tenant: int

    @classmethod
    def from_settings(cls, settings: Settings) -> "WebhookSettings":
        retry = RetryPolicy(
            max_attempts=settings.get_int("WEBHOOK_MAX_ATTEMPTS", MIN_ATTEMPTS),
            base_seconds=settings.get_float("WEBHOOK_RETRY_BASE_SECONDS", 30.0),
            cap_seconds=settings.get_float("WEBHOOK_RETRY_MAX_SECONDS", 3600.0),
            pause_after_failed_attempts=settings.get_int("WEBHOOK_PAUSE_AFTER_FAILED_ATTEMPTS", 5),
            deactivate_after_failed_deliveries=settings.get_int("WEBHOOK_DEACTIVATE_AFTER_FAILED_DELIVERIES", 10))
        values = cls(
            retry=retry,
            timeout_seconds=settings.get_float("WEBHOOK_TIMEOUT_SECONDS", CONTRACT_TIMEOUT_SECONDS),
            lease_seconds=settings.get_float("WEBHOOK_LEASE_SECONDS", 60.0),
            concurrency=settings.get_int("WEBHOOK_CONCURRENCY", 16),
            concurrency_per_subscription=settings.get_int("WEBHOOK_CONCURRENCY_PER_SUBSCRIPTION", 4),
            poll_seconds=settings.get_float("WEBHOOK_POLL_SECONDS", 0.2),
            allowed_hosts=frozenset(h.strip().lower() for h in (settings.get("WEBHOOK_ALLOWED_HOSTS") or "").split(",")
                                    if h.strip()),
            production=settings.env == "production",
            max_subscriptions_per_tenant=settings.get_int("WEBHOOK_MAX_SUBSCRIPTIONS_PER_TENANT", 100))
        values._validate()
        return values

    def _validate(self) -> None:
        if self.retry.max_attempts < MIN_ATTEMPTS:
            raise ConfigError(f"WEBHOOK_MAX_ATTEMPTS must be at least {MIN_ATTEMPTS} (CONTRACT §6)")
        if self.retry.base_seconds <= 0 or self.retry.cap_seconds < self.retry.base_seconds:
            raise ConfigError("WEBHOOK_RETRY_BASE_SECONDS must be > 0 and at most WEBHOOK_RETRY_MAX_SECONDS")
        if not 0 < self.timeout_seconds <= CONTRACT_TIMEOUT_SECONDS:
            raise ConfigError("WEBHOOK_TIMEOUT_SECONDS must be in (0, 10] (CONTRACT §6)")
        # A lease shorter than an attempt would let a second worker send a delivery that is
        # still in flight; the margin covers recording the outcome.
        if self.lease_seconds < self.timeout_seconds + 5:
            raise ConfigError("WEBHOOK_LEASE_SECONDS must exceed WEBHOOK_TIMEOUT_SECONDS by at least 5 s")
        if self.concurrency < 1 or not 1 <= self.concurrency_per_subscription <= self.concurrency:
            raise ConfigError("WEBHOOK_CONCURRENCY must be ≥ 1 and WEBHOOK_CONCURRENCY_PER_SUBSCRIPTION within 1..it")
        if self.retry.pause_after_failed_attempts < 1 or self.retry.deactivate_after_failed_deliveries < 1:
            raise ConfigError("WEBHOOK_PAUSE_AFTER_FAILED_ATTEMPTS and "
                              "WEBHOOK_DEACTIVATE_AFTER_FAILED_DELIVERIES must be ≥ 1")

    def target_policy(self) -> TargetPolicy:
        return TargetPolicy(production=self.production, allowed_hosts=self.allowed_hosts)
