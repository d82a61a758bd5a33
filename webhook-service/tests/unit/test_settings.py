"""WEBHOOK_* settings: CONTRACT §6's floor (≥ 8 attempts, 10 s) is not configurable away."""
from __future__ import annotations

import pytest

from crm_common.config import ConfigError, Settings
from webhook_service.config import WebhookSettings


def settings(**env) -> WebhookSettings:
    return WebhookSettings.from_settings(Settings.from_env("webhook", {"WEBHOOK_DATABASE_URL": "sqlite://", **env}))


def test_defaults_follow_the_contract():
    s = settings()
    assert (s.retry.base_seconds, s.retry.max_attempts, s.timeout_seconds) == (30.0, 8, 10.0)
    assert s.lease_seconds > s.timeout_seconds and not s.production and s.allowed_hosts == frozenset()


def test_production_and_allowed_hosts_come_from_the_environment():
    s = settings(CRM_ENV="production", JWT_SECRET="x" * 40, WEBHOOK_ALLOWED_HOSTS="ERP.internal, hooks.local,")
    assert s.production and s.allowed_hosts == {"erp.internal", "hooks.local"}
    assert s.target_policy().production


@pytest.mark.parametrize("env, message", [
    ({"WEBHOOK_MAX_ATTEMPTS": "7"}, "at least 8"),
    ({"WEBHOOK_TIMEOUT_SECONDS": "11"}, r"\(0, 10\]"),
    ({"WEBHOOK_TIMEOUT_SECONDS": "10", "WEBHOOK_LEASE_SECONDS": "12"}, "LEASE"),
    ({"WEBHOOK_RETRY_BASE_SECONDS": "0"}, "BASE"),
    ({"WEBHOOK_CONCURRENCY": "2", "WEBHOOK_CONCURRENCY_PER_SUBSCRIPTION": "3"}, "CONCURRENCY"),
    ({"WEBHOOK_RETRY_BASE_SECONDS": "abc"}, "number"),
])
def test_unsafe_values_are_refused(env, message):
    with pytest.raises(ConfigError, match=message):
        settings(**env)
