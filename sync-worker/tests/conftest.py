"""sync-worker tests: ``unit/`` touch no I/O; ``integration/`` run the Flask app and the
consumer's handler in-process against a real PostgreSQL database created for this run
(the broker part of the consumer is proven in libs/crm_common/tests and tests/)."""
from __future__ import annotations

import json
import threading
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from crm_common.config import Settings
from crm_common.consumer import EventConsumer
from crm_common.db import make_engine, make_session_factory
from crm_common.events import make_event
from crm_testing import TEST_JWT_SECRET, auth_headers, free_port, migrated_database


class FakeCustomerService:
    """Plays customer-service's ``GET /api/v1/customers/{id}`` for in-process tests and
    remembers the headers it was asked with."""

    def __init__(self):
        self.customers: dict[int, dict] = {}
        self.requests: list[dict] = []
        self.down = False
        self.before_answer = None  # called with the customer id before each answer, if set
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self):  # noqa: N802
                fake.requests.append({"path": self.path, **{k.lower(): v for k, v in self.headers.items()}})
                customer_id = int(self.path.rstrip("/").rsplit("/", 1)[1])
                customer = fake.customers.get(customer_id)
                if fake.before_answer is not None:
                    fake.before_answer(customer_id)
                if fake.down:
                    status, body = 503, {"success": False, "code": 5030, "message": "down"}
                elif customer is None or customer["factory_id"] != self.headers.get("X-Factory-Id"):
                    status, body = 404, {"success": False, "code": 4040, "message": "客户不存在或已被删除"}
                else:
                    status, body = 200, {"success": True, "code": 2000, "message": "操作成功", "data": customer}
                raw = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(raw)))
                self.end_headers()
                self.wfile.write(raw)

            def log_message(self, *args):
                pass

        self.port = free_port()
        self.server = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def close(self):
        self.server.shutdown()


@pytest.fixture(scope="session")
def pg_url():
    from sync_worker.cli import SERVICE_DIR
    with migrated_database(SERVICE_DIR, "crm_sync_it") as url:
        yield url


@pytest.fixture(scope="session")
def customer_service():
    fake = FakeCustomerService()
    yield fake
    fake.close()


@pytest.fixture(scope="session")
def settings(pg_url, customer_service):
    return Settings.from_env("sync", {"SYNC_DATABASE_URL": pg_url, "JWT_SECRET": TEST_JWT_SECRET,
                                      "CUSTOMER_SERVICE_URL": customer_service.url,
                                      "INTERNAL_HTTP_TIMEOUT": "1",
                                      "AMQP_URL": "amqp://guest:guest@127.0.0.1:1/%2F"})


@pytest.fixture(scope="session")
def app(settings):
    from sync_worker.app import create_app
    return create_app(settings)


@pytest.fixture(scope="session")
def engine(pg_url):
    engine = make_engine(pg_url)
    yield engine
    engine.dispose()


@pytest.fixture(scope="session")
def consumer(settings, engine):
    """The real consumer (dedupe, ordering, transaction) and handler; events are handed to
    ``consumer.apply`` directly instead of through the broker."""
    from sync_worker.adapters import orm
    from sync_worker.entrypoints import consumer as entry
    return EventConsumer(name=entry.CONSUMER_NAME, queue=entry.QUEUE, bindings=entry.BINDINGS,
                         amqp_url="amqp://unused", session_factory=make_session_factory(engine),
                         processed=orm.processed_events, versions=orm.applied_versions,
                         handler=entry.handler_factory(settings), unit_of_work=entry.unit_of_work(settings))


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


_ids = iter(range(10_000_000, 99_999_999))


class CustomerEvents:
    """Builds the customer events customer-service would publish for one customer."""

    def __init__(self, factory_id: str, **fields):
        self.id = next(_ids)
        self.version = 0
        self.state = {"id": self.id, "factory_id": factory_id, "name": f"客户{self.id}",
                      "primary_contact_name": "张三", "primary_contact_phone": "13800138000",
                      "business_domain": "DEFAULT", "notes": None, "deleted_at": None, **fields}

    def _event(self, event_type, changed=(), options=None, trace_id=None):
        self.version += 1
        self.state["version"] = self.version
        return make_event(event_type=event_type, producer="customer-service", aggregate_type="customer",
                          aggregate_id=self.id, aggregate_version=self.version, factory_id=self.state["factory_id"],
                          trace_id=trace_id or uuid.uuid4().hex, actor={"sub": "u-1", "name": "张三"},
                          changed_fields=changed, options=options, data=dict(self.state))

    def created(self):
        return self._event("customer.created")

    def updated(self, auto_sync=True, trace_id=None, **changes):
        self.state.update(changes)
        return self._event("customer.updated", changed=list(changes), options={"auto_sync": auto_sync},
                           trace_id=trace_id)

    def deleted(self):
        self.state["deleted_at"] = "2026-01-01T00:00:00Z"
        return self._event("customer.deleted", changed=["deleted_at"])


@pytest.fixture
def customer_events():
    return CustomerEvents
