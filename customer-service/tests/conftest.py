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
        assert_every_event_keeps_its_contract(url)


def assert_every_event_keeps_its_contract(url: str) -> None:
    """Every event the integration tests made customer-service write (the outbox of the
    run's database) validates against its declared contract (``events.CATALOG``)."""
    import json

    import sqlalchemy as sa

    from customer_service.events import CATALOG
    engine = sa.create_engine(url, poolclass=sa.pool.NullPool)
    with engine.connect() as conn:
        payloads = [json.loads(p) for p in conn.execute(sa.text("SELECT payload FROM outbox ORDER BY id")).scalars()]
    engine.dispose()
    for event in payloads:
        CATALOG.validate(event)


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


@pytest.fixture
def consume():
    """``consume(app, event)``: what ``customer-service consume`` does with one delivery
    (the same handlers and unit of work, the consumer's own transaction), minus the broker."""
    from crm_common.consumer import EventConsumer
    from crm_common.db import make_session_factory
    from customer_service.adapters import orm
    from customer_service.bootstrap import service_of
    from customer_service.entrypoints.consumers import QUEUE, handlers

    def apply(app, event: dict) -> str:
        service = service_of(app)
        consumer = EventConsumer(name=QUEUE, queue=QUEUE, bindings=handlers.bindings, amqp_url="amqp://unused",
                                 session_factory=make_session_factory(service.engine),
                                 processed=orm.processed_events, versions=orm.applied_versions,
                                 handler=handlers, unit_of_work=service.joining)
        return consumer.apply(event)
    return apply


@pytest.fixture
def order_event():
    """``order_event(factory, customer_id, order_id, status, ...)``: an order event as
    analytics-service publishes it (``order.recorded`` for version 1, else ``order.updated``)."""
    from crm_common.events import make_event

    def make(factory: str, customer_id, order_id: str, status: str = "PENDING", *, version: int = 1,
             order_date: str = "2026-01-10", total_amount=1000, aggregate_id: str | None = None) -> dict:
        return make_event(
            event_type="order.recorded" if version == 1 else "order.updated", producer="analytics-service",
            aggregate_type="order", aggregate_id=aggregate_id or f"{factory}-{order_id}", aggregate_version=version,
            factory_id=factory, data={"order_id": order_id, "factory_id": factory, "customer_id": str(customer_id),
                                      "order_date": order_date, "status": status, "payment_status": "UNPAID",
                                      "total_amount": total_amount})
    return make
