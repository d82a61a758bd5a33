"""The viewing-statistics consumer on real PostgreSQL (its transaction, without the broker):
each record counts once with its latest commission, lead status moves as seed 002 says,
redeliveries and stale versions change nothing, and each customer change writes its
``customer.updated`` event in the same transaction."""
from __future__ import annotations

import json
import uuid

import pytest
import sqlalchemy as sa

from crm_common.consumer import EventConsumer
from crm_common.db import make_session_factory
from crm_common.events import make_event
from customer_service.adapters import orm
from customer_service.bootstrap import service_of
from customer_service.entrypoints.consumers import QUEUE, handlers


@pytest.fixture
def consumer(app):
    """The consume command's consumer, minus the broker: the same handlers and unit of work."""
    return EventConsumer(name=QUEUE, queue=QUEUE, bindings=handlers.bindings, amqp_url="amqp://unused",
                         session_factory=make_session_factory(service_of(app).engine),
                         processed=orm.processed_events, versions=orm.applied_versions,
                         handler=handlers, unit_of_work=service_of(app).joining)


@pytest.fixture
def customer(client, headers_for, factory):
    def make(status=None):
        body = {"userId": f"u-{uuid.uuid4().hex[:8]}"}
        if status:
            body["status"] = status
        resp = client.post("/api/external/customers", json=body,
                           headers=headers_for(roles=["integrator"], factories=[factory]))
        return resp.get_json()["data"]["id"]
    return make


def viewing(factory, customer_id, record_id, version, *, commission=0, status=1, feedback=None, event_id=None):
    return make_event(event_type="viewing.recorded" if version == 1 else "viewing.updated",
                      producer="viewing-service", aggregate_type="viewing_record", aggregate_id=record_id,
                      aggregate_version=version, factory_id=factory, event_id=event_id,
                      actor={"sub": "int-1", "name": "接口"},
                      data={"id": record_id, "factory_id": factory, "customer_id": customer_id,
                            "user_id": "u", "commission": commission, "viewing_status": status,
                            "viewing_feedback": feedback, "viewing_time": "2024-08-15T14:00:00.000Z"})


def detail(client, headers_for, factory, cid):
    return client.get(f"/api/v1/customers/{cid}", headers=headers_for(factories=[factory])).get_json()["data"]


def record_id() -> str:
    return str(uuid.uuid4().int % 10**12)


def test_each_record_counts_once_with_its_latest_commission(consumer, customer, client, headers_for, factory):
    cid = customer()
    a, b = record_id(), record_id()
    assert consumer.apply(viewing(factory, cid, a, 1, commission=1000)) == "applied"
    assert consumer.apply(viewing(factory, cid, b, 1, commission=500)) == "applied"
    assert consumer.apply(viewing(factory, cid, a, 2, commission=3000)) == "applied"
    c = detail(client, headers_for, factory, cid)
    assert c["viewing_count"] == 2 and c["total_commission"] == 3500


def test_redelivered_and_stale_events_change_nothing(app, consumer, customer, client, headers_for, factory):
    cid = customer()
    a = record_id()
    first = viewing(factory, cid, a, 1, commission=100)
    assert consumer.apply(viewing(factory, cid, a, 2, commission=200)) == "applied"
    assert consumer.apply(first) == "stale"
    second = viewing(factory, cid, a, 3, commission=300)
    assert consumer.apply(second) == "applied"
    assert consumer.apply(second) == "duplicate"
    c = detail(client, headers_for, factory, cid)
    assert c["viewing_count"] == 1 and c["total_commission"] == 300


def test_a_confirmed_viewing_books_the_customer_and_a_deal_closes_it(consumer, customer, client, headers_for, factory):
    cid = customer()
    consumer.apply(viewing(factory, cid, record_id(), 1, status=2))
    assert detail(client, headers_for, factory, cid)["lead_status"] == 3
    consumer.apply(viewing(factory, cid, record_id(), 1, status=4, feedback=1, commission=3000))
    assert detail(client, headers_for, factory, cid)["lead_status"] == 4
    consumer.apply(viewing(factory, cid, record_id(), 1, status=2))
    assert detail(client, headers_for, factory, cid)["lead_status"] == 4


def test_a_settled_customer_stays_settled_and_a_silent_one_gets_booked(consumer, customer, client, headers_for, factory):
    settled, silent = customer(status=5), customer(status=2)
    consumer.apply(viewing(factory, settled, record_id(), 1, status=2, feedback=1, commission=10))
    consumer.apply(viewing(factory, silent, record_id(), 1, status=2))
    assert detail(client, headers_for, factory, settled)["lead_status"] == 5
    assert detail(client, headers_for, factory, settled)["total_commission"] == 10
    assert detail(client, headers_for, factory, silent)["lead_status"] == 3


def test_every_customer_change_writes_its_event_in_the_same_transaction(app, consumer, customer, factory):
    cid = customer()
    consumer.apply(viewing(factory, cid, record_id(), 1, status=2, commission=800))
    with service_of(app).engine.connect() as conn:
        rows = conn.execute(sa.text("SELECT payload FROM outbox WHERE aggregate_id = :id ORDER BY id"),
                            {"id": str(cid)}).scalars().all()
    events = [json.loads(r) for r in rows]
    assert [e["event_type"] for e in events] == ["customer.created", "customer.updated"]
    update = events[1]
    assert update["aggregate_version"] == 2 and update["actor"]["sub"] == "int-1"
    assert sorted(update["changed_fields"]) == ["lead_status", "total_commission", "viewing_count"]
    assert update["data"]["viewing_count"] == 1 and update["data"]["total_commission"] == 800
    assert update["data"]["lead_status"] == 3


def test_a_viewing_that_changes_nothing_writes_no_event(app, consumer, customer, factory):
    cid = customer()
    rid = record_id()
    consumer.apply(viewing(factory, cid, rid, 1, commission=0))
    consumer.apply(viewing(factory, cid, rid, 2, commission=0))
    with service_of(app).engine.connect() as conn:
        types = conn.execute(sa.text("SELECT event_type FROM outbox WHERE aggregate_id = :id ORDER BY id"),
                             {"id": str(cid)}).scalars().all()
    assert types == ["customer.created", "customer.updated"]  # the first viewing: count 0 -> 1


def test_a_viewing_of_another_tenants_customer_is_ignored(consumer, customer, client, headers_for, factory):
    cid = customer()
    assert consumer.apply(viewing("ELSEWHERE", cid, record_id(), 1, commission=99)) == "applied"
    assert detail(client, headers_for, factory, cid)["viewing_count"] == 0
