"""customer-service tests: ``unit/`` touch no I/O; ``integration/`` run the Flask app
in-process against a real PostgreSQL database created and dropped for this run."""
from __future__ import annotations

import uuid

import pytest

from crm_common.config import Settings
from crm_testing import TEST_JWT_SECRET, auth_headers, migrated_database


@pytest.fixture(scope="session")
def pg_url():
    from customer_service.cli import SERVICE_DIR
    with migrated_database(SERVICE_DIR, "crm_customer_it") as url:
        yield url


@pytest.fixture(scope="session")
def app(pg_url):
    from customer_service.app import create_app
    settings = Settings.from_env("customer", {"CUSTOMER_DATABASE_URL": pg_url, "JWT_SECRET": TEST_JWT_SECRET,
                                              "AMQP_URL": "amqp://guest:guest@127.0.0.1:5672/%2F"})
    return create_app(settings)


@pytest.fixture
def factory() -> str:
    return f"F{uuid.uuid4().hex[:8].upper()}"


@pytest.fixture
def client(app):
    return app.test_client()


@pytest.fixture
def headers_for():
    def make(roles=("admin",), factories=("*",), domains=("*",), **kw):
        return auth_headers(roles=roles, factories=factories, domains=domains, **kw)
    return make
