"""viewing-service tests: ``unit/`` touch no I/O; ``integration/`` run the Flask app
in-process on a real PostgreSQL database, against the real customer-service (a gunicorn
process with its own database) and the fake third-party property service (a process)."""
from __future__ import annotations

import sys
import uuid

import pytest
import requests

from crm_common.config import Settings
from crm_testing import TEST_JWT_SECRET, Process, Stack, auth_headers, base_env, free_port, migrated_database, repo_root


@pytest.fixture(scope="session")
def customer_service():
    """The real customer-service (and its database), nothing else."""
    stack = Stack(services=["customer"], workers=[], gateway=False).start()
    yield stack
    stack.stop()


@pytest.fixture(scope="session")
def property_service():
    port = free_port()
    proc = Process("fake-property", [sys.executable, str(repo_root() / "tests" / "fake_property_service.py"),
                                     "--port", str(port)], base_env(),
                   ready_url=f"http://127.0.0.1:{port}/healthz").start()
    yield f"http://127.0.0.1:{port}"
    proc.stop()


@pytest.fixture
def property_mode(property_service):
    def switch(mode: str):
        requests.post(f"{property_service}/_mode", json={"mode": mode}, timeout=5).raise_for_status()
    yield switch
    switch("ok")


@pytest.fixture(scope="session")
def pg_url():
    from viewing_service.cli import SERVICE_DIR
    with migrated_database(SERVICE_DIR, "crm_viewing_it") as url:
        yield url


def make_app(pg_url: str, customer_url: str, **env):
    from viewing_service.app import create_app
    settings = Settings.from_env("viewing", {"VIEWING_DATABASE_URL": pg_url, "JWT_SECRET": TEST_JWT_SECRET,
                                             "AMQP_URL": "amqp://guest:guest@127.0.0.1:5672/%2F",
                                             "CUSTOMER_SERVICE_URL": customer_url, **env})
    return create_app(settings)


def close_app(app) -> None:
    """Drop pooled connections (a kept-alive connection would hold gunicorn's graceful stop)."""
    from viewing_service.entrypoints.deps import core
    core(app).close()


@pytest.fixture(scope="session")
def app(pg_url, customer_service):
    app = make_app(pg_url, customer_service.url("customer"))
    yield app
    close_app(app)


@pytest.fixture(scope="session")
def enriching_app(pg_url, customer_service, property_service):
    app = make_app(pg_url, customer_service.url("customer"), PROPERTY_LOOKUP_URL=f"{property_service}/properties")
    yield app
    close_app(app)


@pytest.fixture(scope="session")
def consumer(app):
    """The real customer-event consumer (dedupe, ordering, transaction, handlers); events
    are handed to ``consumer.apply`` directly instead of through the broker."""
    from crm_common.consumer import EventConsumer
    from crm_common.db import make_session_factory
    from viewing_service.adapters import orm
    from viewing_service.entrypoints import consumer as entry
    from viewing_service.entrypoints.deps import core
    return EventConsumer(name=entry.CONSUMER_NAME, queue=entry.QUEUE, bindings=entry.BINDINGS,
                         amqp_url="amqp://unused", session_factory=make_session_factory(core(app).engine),
                         processed=orm.processed_events, versions=orm.applied_versions,
                         handler=entry.handler_factory(core(app).settings), unit_of_work=entry.unit_of_work(None))


def customer_event(customer_id: int, factory: str, domain: str | None, version: int,
                   event_type: str = "customer.updated") -> dict:
    """What customer-service publishes for a customer (only what viewing-service reads matters)."""
    from crm_common.events import make_event
    return make_event(event_type=event_type, producer="customer-service", aggregate_type="customer",
                      aggregate_id=customer_id, aggregate_version=version, factory_id=factory,
                      changed_fields=["business_domain"],
                      data={"id": customer_id, "factory_id": factory, "business_domain": domain, "version": version})


@pytest.fixture
def client(app):
    return app.test_client()


@pytest.fixture
def factory() -> str:
    return f"F{uuid.uuid4().hex[:8].upper()}"


@pytest.fixture
def headers_for():
    def make(roles=("integrator",), factories=("*",), domains=("*",), **kw):
        return auth_headers(roles=roles, factories=factories, domains=domains, **kw)
    return make
