"""webhook-service tests: ``unit/`` touch no I/O; ``integration/`` run the Flask app, the
consumer's handler and the delivery worker in-process against a real PostgreSQL database
created for this run and real HTTP receivers on 127.0.0.1 (the broker part of the consumer
is proven in libs/crm_common/tests and tests/)."""
from __future__ import annotations

import threading
import uuid
from functools import partial

import pytest

from crm_common.config import Settings
from crm_common.consumer import EventConsumer
from crm_common.db import make_engine, make_session_factory
from crm_common.events import make_event
from crm_testing import TEST_JWT_SECRET, auth_headers, migrated_database
from crm_testing.receiver import WebhookReceiver

FAST_RETRIES = {"WEBHOOK_RETRY_BASE_SECONDS": "0.05", "WEBHOOK_RETRY_MAX_SECONDS": "0.2",
                "WEBHOOK_POLL_SECONDS": "0.02", "WEBHOOK_TIMEOUT_SECONDS": "3", "WEBHOOK_LEASE_SECONDS": "8"}


@pytest.fixture(scope="session")
def pg_url():
    from webhook_service.cli import SERVICE_DIR
    with migrated_database(SERVICE_DIR, "crm_webhook_it") as url:
        yield url


def webhook_settings(url: str, **env) -> Settings:
    return Settings.from_env("webhook", {"WEBHOOK_DATABASE_URL": url, "JWT_SECRET": TEST_JWT_SECRET,
                                         "AMQP_URL": "amqp://guest:guest@127.0.0.1:1/%2F", **FAST_RETRIES, **env})


@pytest.fixture(scope="session")
def settings_with(pg_url):
    """``settings_with(**env)``: the test settings on this run's database, plus ``env``."""
    return partial(webhook_settings, pg_url)


@pytest.fixture(scope="session")
def settings(settings_with):
    return settings_with()


@pytest.fixture(scope="session")
def app(settings):
    from webhook_service.app import create_app
    return create_app(settings)


@pytest.fixture
def client(app):
    return app.test_client()


@pytest.fixture(scope="session")
def engine(pg_url):
    engine = make_engine(pg_url, pool_size=20)
    yield engine
    engine.dispose()


@pytest.fixture(scope="session")
def consumer(settings, engine):
    """The real consumer (event_id dedupe, transaction) and handler; events are handed to
    ``consumer.apply`` directly instead of through the broker."""
    from webhook_service.adapters import orm
    from webhook_service.entrypoints import consumer as entry
    return EventConsumer(name=entry.CONSUMER_NAME, queue=entry.QUEUE, bindings=entry.BINDINGS,
                         amqp_url="amqp://unused", session_factory=make_session_factory(engine),
                         processed=orm.processed_events, versions=None, handler=entry.handler_factory(settings),
                         unit_of_work=entry.unit_of_work(settings))


@pytest.fixture
def uow_factory(engine):
    from webhook_service.service_layer.unit_of_work import WebhookUnitOfWork
    return partial(WebhookUnitOfWork, make_session_factory(engine))


@pytest.fixture
def start_worker(uow_factory, pg_url, engine):
    """``start_worker(**env)``: a delivery worker running in a thread, woken by new
    deliveries (as ``deliver`` runs it), stopped at the end of the test."""
    from webhook_service.adapters.http_sender import HttpSender
    from webhook_service.adapters.wakeups import DeliveryListener
    from webhook_service.config import WebhookSettings
    from webhook_service.service_layer.delivery import DeliveryWorker
    running = []

    def start(**env):
        wh = WebhookSettings.from_settings(webhook_settings(pg_url, **env))
        worker = DeliveryWorker(uow_factory=uow_factory, sender=HttpSender(wh.timeout_seconds, 4),
                                targets=wh.target_policy(), settings=wh)
        worker.listener = DeliveryListener(engine, worker.wake_for_new, worker.stop_event).start()
        thread = threading.Thread(target=worker.run, daemon=True)
        thread.start()
        running.append((worker, thread))
        return worker

    yield start
    for worker, thread in running:
        worker.stop()
        thread.join(timeout=15)


@pytest.fixture
def receiver():
    with WebhookReceiver() as running:
        yield running


@pytest.fixture
def factory() -> str:
    return f"F{uuid.uuid4().hex[:8].upper()}"


@pytest.fixture
def headers_for():
    def make(roles=("admin",), factories=("*",), domains=("*",), **kw):
        return auth_headers(roles=roles, factories=factories, domains=domains, **kw)
    return make


@pytest.fixture
def subscribe(client, headers_for, receiver):
    """``subscribe(factory, path, events, domains=("*",))`` through the API; registers the
    secret with the receiver; returns the created subscription (``secret`` included)."""
    def make(factory, path="/hook", events=("customer.*",), domains=("*",), roles=("admin",)):
        resp = client.post("/api/v1/webhooks", json={"url": receiver.url(path), "events": list(events)},
                           headers=headers_for(roles=roles, factories=[factory], domains=list(domains)))
        assert resp.status_code == 201, resp.get_json()
        data = resp.get_json()["data"]
        receiver.secrets[path] = data["secret"]
        return data
    return make


_ids = iter(range(10_000_000, 99_999_999))


class CustomerEvents:
    """The customer events customer-service would publish for one customer."""

    def __init__(self, factory_id: str, domain: str | None = "D1"):
        self.id = next(_ids)
        self.version = 0
        self.state = {"id": self.id, "factory_id": factory_id, "name": f"客户{self.id}", "business_domain": domain}

    def _event(self, event_type, changed=()):
        self.version += 1
        return make_event(event_type=event_type, producer="customer-service", aggregate_type="customer",
                          aggregate_id=self.id, aggregate_version=self.version, factory_id=self.state["factory_id"],
                          trace_id=uuid.uuid4().hex, actor={"sub": "u-1", "name": "张三"},
                          changed_fields=changed, data=dict(self.state, version=self.version))

    def created(self):
        return self._event("customer.created")

    def updated(self, **changes):
        self.state.update(changes)
        return self._event("customer.updated", changed=list(changes))


def viewing_event(factory_id: str, customer_id: int, record_id: int | None = None, version: int = 1):
    return make_event(event_type="viewing.recorded" if version == 1 else "viewing.updated",
                      producer="viewing-service", aggregate_type="viewing_record",
                      aggregate_id=record_id or next(_ids), aggregate_version=version, factory_id=factory_id,
                      data={"customer_id": customer_id, "property_name": "万科城", "factory_id": factory_id})


@pytest.fixture
def customer_events():
    return CustomerEvents


@pytest.fixture
def viewing_events():
    return viewing_event


@pytest.fixture
def deliveries_of(client, headers_for):
    """``deliveries_of(factory, subscription_id)``: its delivery log as the API shows it
    (oldest first), read with a token that sees every domain."""
    def read(factory, subscription_id, **query):
        resp = client.get(f"/api/v1/webhooks/{subscription_id}/deliveries", query_string={"page_size": 100, **query},
                          headers=headers_for(factories=[factory]))
        assert resp.status_code == 200, resp.get_json()
        return list(reversed(resp.get_json()["data"]["items"]))
    return read
