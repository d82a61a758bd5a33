"""analytics-service against a real PostgreSQL database of its own (migrated to head):
the Flask app in-process, events applied through the consumer base without a broker."""
from __future__ import annotations

import uuid

import pytest

from analytics_service.adapters import orm
from analytics_service.app import create_app
from analytics_service.bootstrap import CONSUMER
from analytics_service.cli import SERVICE_DIR
from analytics_service.service_layer.projection import apply_many, handlers
from analytics_service.service_layer.unit_of_work import AnalyticsUnitOfWork
from crm_common.config import Settings
from crm_common.consumer import EventConsumer
from crm_common.db import make_engine, make_session_factory
from crm_common.events import make_event
from crm_testing import TEST_JWT_SECRET, auth_headers, migrated_database

from ..fake_customer_service import FakeCustomerService


@pytest.fixture(scope="session")
def database_url():
    with migrated_database(SERVICE_DIR, "crm_analytics_it") as url:
        yield url


@pytest.fixture(scope="session")
def engine(database_url):
    engine = make_engine(database_url)
    yield engine
    engine.dispose()


@pytest.fixture(scope="session")
def owner_service():
    """customer-service as analytics asks it (a fake of that contract, over HTTP)."""
    with FakeCustomerService() as fake:
        yield fake


@pytest.fixture(scope="session")
def app(database_url, owner_service):
    settings = Settings.from_env("analytics", {"ANALYTICS_DATABASE_URL": database_url, "JWT_SECRET": TEST_JWT_SECRET,
                                               "AMQP_URL": "amqp://guest:guest@127.0.0.1:1/%2F",
                                               "CUSTOMER_SERVICE_URL": owner_service.url,
                                               "CUSTOMER_SERVICE_TIMEOUT": "0.5", "ORDER_ELIGIBILITY_BUDGET": "2"})
    return create_app(settings)


@pytest.fixture(autouse=True)
def owner_answers_normally(owner_service):
    owner_service.mode = "ok"
    yield
    owner_service.mode = "ok"


class Customers:
    """Customers as both sides know them: the owner (the fake customer-service) and, once
    their event is applied, analytics' read model."""

    def __init__(self, consumer, owner):
        self.consumer, self.owner = consumer, owner

    def add(self, factory_id: str, customer_id: int | None = None, *, projected: bool = True,
            owner_state: dict | None = None, **fields) -> int:
        customer_id = customer_id or new_customer_id()
        self.owner.add(customer_id, factory_id, business_domain=fields.get("business_domain", "DEFAULT"),
                       **(owner_state or {}))
        if projected:
            self.consumer.apply(customer_event(factory_id, customer_id, 1, **fields))
        return customer_id


@pytest.fixture
def customers(consumer, owner_service):
    return Customers(consumer, owner_service)


@pytest.fixture(scope="session")
def consumer(engine):
    return EventConsumer(name=CONSUMER, queue=CONSUMER, bindings=[], amqp_url="amqp://unused",
                         session_factory=make_session_factory(engine), processed=orm.processed_events,
                         versions=orm.applied_versions, handler=handlers,
                         unit_of_work=AnalyticsUnitOfWork.joining)


@pytest.fixture(scope="session")
def batch_consumer(engine):
    """The consumer as ``analytics-service consume`` runs it on a backlog: set-based batches."""
    return EventConsumer(name=CONSUMER, queue=CONSUMER, bindings=[], amqp_url="amqp://unused",
                         session_factory=make_session_factory(engine), processed=orm.processed_events,
                         versions=orm.applied_versions, handler=handlers, handler_many=apply_many,
                         unit_of_work=AnalyticsUnitOfWork.joining, batch_size=200, prefetch=200)


@pytest.fixture(scope="session")
def unit_of_work(engine):
    return lambda: AnalyticsUnitOfWork(make_session_factory(engine))


@pytest.fixture
def factory() -> str:
    return f"F{uuid.uuid4().hex[:8].upper()}"


class Api:
    def __init__(self, client, **token):
        self.client, self.headers = client, auth_headers(**token)

    def __getattr__(self, method):
        def call(path, **kw):
            headers = {**self.headers, **kw.pop("headers", {})}
            return getattr(self.client, method)(path, headers=headers, **kw)
        return call


@pytest.fixture
def api_for(app):
    client = app.test_client()

    def make(roles=("admin",), factories=("*",), domains=("*",)):
        return Api(client, roles=list(roles), factories=list(factories), domains=list(domains))
    return make


_ids = iter(range(10_000_000, 10**9))


def new_customer_id() -> int:
    return next(_ids) + uuid.uuid4().int % 1000 * 1_000_000_000


def customer_event(factory_id: str, customer_id: int, version: int, **fields) -> dict:
    data = {"id": customer_id, "factory_id": factory_id, "name": f"客户{customer_id}", "type": "company",
            "industry_type": "餐饮", "status": "active", "rating": 3, "credit_limit": 0, "current_balance": 0,
            "payment_terms": 30, "debt_since": None, "business_domain": "DEFAULT",
            "created_at": "2026-01-05T02:00:00Z", "deleted_at": None, "version": version, **fields}
    kind = "customer.created" if version == 1 else ("customer.deleted" if data["deleted_at"] else "customer.updated")
    return make_event(event_type=kind, producer="customer-service", aggregate_type="customer",
                      aggregate_id=customer_id, aggregate_version=version, factory_id=factory_id, data=data)


def viewing_event(factory_id: str, record_id: str, version: int, **fields) -> dict:
    data = {"id": record_id, "factory_id": factory_id, "customer_id": None, "user_id": "u1",
            "viewing_time": "2026-03-01T04:00:00Z", "viewing_status": 1, "viewing_feedback": None,
            "commission": 0, "property_name": "小区", "business_type": "whole_rent", "version": version, **fields}
    return make_event(event_type="viewing.recorded" if version == 1 else "viewing.updated",
                      producer="viewing-service", aggregate_type="viewing_record", aggregate_id=record_id,
                      aggregate_version=version, factory_id=factory_id, data=data)
