"""System tests: the real service set (gunicorn processes, PostgreSQL, RabbitMQ) driven
over HTTP through the gateway. One stack per test session; tests isolate themselves by
using their own factory ids."""
from __future__ import annotations

import uuid

import pytest
import requests

from crm_testing import Stack, auth_headers

# The per-role limits themselves (integrators 10/s) are proven in gateway/tests; here they
# are raised so that system tests driving many calls through one token do not trip them.
SYSTEM_TEST_RATE_LIMITS = '{"integrator": {"rate": 500, "burst": 1000}, "default": {"rate": 500, "burst": 1000}}'


# webhook-service retries within seconds instead of CONTRACT §6's 30 s base, so that the
# webhook tests (receiver down for 10 s, a SIGKILLed worker's lease) finish in reasonable time.
SYSTEM_TEST_WEBHOOKS = {"WEBHOOK_RETRY_BASE_SECONDS": "0.2", "WEBHOOK_RETRY_MAX_SECONDS": "2",
                        "WEBHOOK_MAX_ATTEMPTS": "30", "WEBHOOK_TIMEOUT_SECONDS": "5", "WEBHOOK_LEASE_SECONDS": "10",
                        "WEBHOOK_POLL_SECONDS": "0.05", "WEBHOOK_CONCURRENCY": "8"}


@pytest.fixture(scope="session")
def stack():
    with Stack(extra_env={"RATE_LIMITS": SYSTEM_TEST_RATE_LIMITS, **SYSTEM_TEST_WEBHOOKS}) as running:
        yield running


@pytest.fixture
def factory() -> str:
    """A tenant of this test alone."""
    return f"F{uuid.uuid4().hex[:8].upper()}"


class Client:
    """requests against the gateway with a token of the given roles and factory."""

    def __init__(self, base: str, **token):
        self.base = base
        self.session = requests.Session()
        self.session.headers.update(auth_headers(**token))

    def __getattr__(self, method):
        def call(path, **kw):
            kw.setdefault("timeout", 30)
            return self.session.request(method.upper(), self.base + path, **kw)
        return call


@pytest.fixture
def client_for(stack):
    def make(roles=("admin",), factories=("*",), domains=("*",), **kw) -> Client:
        return Client(stack.gateway, roles=roles, factories=factories, domains=domains, **kw)
    return make
