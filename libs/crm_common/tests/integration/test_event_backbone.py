"""Outbox relay and consumer base against the real PostgreSQL and RabbitMQ."""
from __future__ import annotations

import json
import threading
import uuid

import pika
import pytest
import sqlalchemy as sa

from crm_common.consumer import EventConsumer, declare_queue
from crm_common.db import UnitOfWork, consumer_tables, make_engine, make_session_factory, outbox_table
from crm_common.events import make_event
from crm_common.relay import OutboxRelay, outbox_backlog
from crm_testing import create_database, create_vhost, delete_vhost, drop_database, wait_for

metadata = sa.MetaData()
outbox = outbox_table(metadata)
processed, versions = consumer_tables(metadata)
applied = sa.Table("applied", metadata, sa.Column("aggregate_id", sa.String(64), primary_key=True),
                   sa.Column("name", sa.String(100)), sa.Column("version", sa.Integer))


@pytest.fixture(scope="module")
def env():
    url, amqp = create_database("crm_backbone"), create_vhost("crm_backbone")
    engine = make_engine(url)
    metadata.create_all(engine)
    yield engine, amqp
    engine.dispose()
    drop_database(url)
    delete_vhost(amqp)


def _event(agg: str, version: int, name: str) -> dict:
    return make_event(event_type="customer.updated", producer="test", aggregate_type="customer",
                      aggregate_id=agg, aggregate_version=version, factory_id="F1", data={"name": name})


def _handler(session, event):
    stmt = sa.select(applied).where(applied.c.aggregate_id == event["aggregate_id"])
    if session.execute(stmt).first() is None:
        session.execute(applied.insert().values(aggregate_id=event["aggregate_id"], name=event["data"]["name"],
                                                version=event["aggregate_version"]))
    else:
        session.execute(applied.update().where(applied.c.aggregate_id == event["aggregate_id"])
                        .values(name=event["data"]["name"], version=event["aggregate_version"]))



def test_relay_publishes_in_order_and_consumer_applies_once_newest_wins(env):
    engine, amqp = env
    queue = f"test.{uuid.uuid4().hex[:6]}"
    consumer = EventConsumer(name=queue, queue=queue, bindings=["customer.*"], amqp_url=amqp,
                             session_factory=make_session_factory(engine), processed=processed,
                             versions=versions, handler=_handler, failure_pause=0.05)
    # Declare the queue before publishing so nothing is routed nowhere.
    conn = pika.BlockingConnection(pika.URLParameters(amqp))
    declare_queue(conn.channel(), queue, ["customer.*"])
    conn.close()

    agg = uuid.uuid4().hex[:8]
    uow = UnitOfWork(make_session_factory(engine), outbox)
    with uow:
        for version in range(1, 21):
            uow.add_event(_event(agg, version, f"name-{version}"))
        uow.commit()
    assert outbox_backlog(engine, outbox)[0] >= 20

    relay = OutboxRelay(service=f"test-{queue}", engine=engine, outbox=outbox, amqp_url=amqp)
    threads = [threading.Thread(target=relay.run, daemon=True), threading.Thread(target=consumer.run, daemon=True)]
    for t in threads:
        t.start()
    try:
        assert wait_for(lambda: outbox_backlog(engine, outbox)[0] == 0)
        with engine.connect() as c:
            assert wait_for(lambda: c.execute(sa.select(applied.c.version).where(applied.c.aggregate_id == agg)).scalar() == 20)
        # A redelivered event changes nothing; an older version changes nothing.
        newest = _event(agg, 21, "name-21")
        assert consumer.apply(newest) == "applied"
        assert consumer.apply(newest) == "duplicate"
        assert consumer.apply(_event(agg, 5, "older")) == "stale"
        assert consumer.apply(_event(agg, 21, "same version, other id")) == "stale"
        with engine.connect() as c:
            assert c.execute(sa.select(applied.c.name).where(applied.c.aggregate_id == agg)).scalar() == "name-21"
    finally:
        relay.stop_event.set()
        consumer.stop_event.set()
        for t in threads:
            t.join(timeout=10)


def test_unparseable_message_is_dead_lettered_and_the_consumer_goes_on(env):
    engine, amqp = env
    queue = f"test.{uuid.uuid4().hex[:6]}"
    consumer = EventConsumer(name=queue, queue=queue, bindings=["customer.*"], amqp_url=amqp,
                             session_factory=make_session_factory(engine), processed=processed,
                             versions=versions, handler=_handler)
    conn = pika.BlockingConnection(pika.URLParameters(amqp))
    ch = conn.channel()
    declare_queue(ch, queue, ["customer.*"])
    agg = uuid.uuid4().hex[:8]
    ch.basic_publish("crm.events", "customer.updated", b"{not json")
    ch.basic_publish("crm.events", "customer.updated", json.dumps({"event_id": "x"}).encode())
    ch.basic_publish("crm.events", "customer.updated", json.dumps(_event(agg, 1, "ok")).encode())
    thread = threading.Thread(target=consumer.run, daemon=True)
    thread.start()
    try:
        with engine.connect() as c:
            assert wait_for(lambda: c.execute(sa.select(applied.c.name).where(applied.c.aggregate_id == agg)).scalar() == "ok")
        assert wait_for(lambda: ch.queue_declare(f"{queue}.dlq", passive=True).method.message_count == 2)
    finally:
        consumer.stop_event.set()
        thread.join(timeout=10)
        conn.close()


def test_a_message_that_keeps_failing_is_dead_lettered_after_bounded_redelivery(env):
    engine, amqp = env
    queue = f"test.{uuid.uuid4().hex[:6]}"
    calls = []

    def failing(session, event):
        calls.append(event["event_id"])
        raise RuntimeError("boom")

    consumer = EventConsumer(name=queue, queue=queue, bindings=["customer.*"], amqp_url=amqp,
                             session_factory=make_session_factory(engine), processed=processed,
                             versions=versions, handler=failing, max_deliveries=3, failure_pause=0.01)
    conn = pika.BlockingConnection(pika.URLParameters(amqp))
    ch = conn.channel()
    declare_queue(ch, queue, ["customer.*"], max_deliveries=3)
    ch.basic_publish("crm.events", "customer.updated", json.dumps(_event(uuid.uuid4().hex[:8], 1, "x")).encode())
    thread = threading.Thread(target=consumer.run, daemon=True)
    thread.start()
    try:
        assert wait_for(lambda: ch.queue_declare(f"{queue}.dlq", passive=True).method.message_count == 1, timeout=20)
        assert 3 <= len(calls) <= 5
    finally:
        consumer.stop_event.set()
        thread.join(timeout=10)
        conn.close()


def test_an_event_no_queue_is_bound_for_is_kept_not_dropped(env):
    engine, amqp = env
    from crm_common.broker import declare_exchange
    conn = pika.BlockingConnection(pika.URLParameters(amqp))
    ch = conn.channel()
    declare_exchange(ch)
    before = ch.queue_declare("crm.events.unrouted", passive=True).method.message_count
    ch.basic_publish("crm.events", "order.recorded", json.dumps(_event("x", 1, "n")).encode())
    assert wait_for(lambda: ch.queue_declare("crm.events.unrouted", passive=True).method.message_count == before + 1)
    conn.close()


def test_relay_prunes_published_rows_past_retention_in_batches_and_never_unsent_ones(env):
    import datetime as dt
    engine, amqp = env
    with engine.begin() as conn:
        conn.execute(sa.delete(outbox))
    now = dt.datetime.now(dt.timezone.utc)
    old, recent = now - dt.timedelta(hours=200), now - dt.timedelta(hours=1)
    rows = []
    for i in range(25):  # 10 old and published, 5 old but never published, 10 recent published
        published = old if i < 10 else (None if i < 15 else recent)
        rows.append({"event_id": str(uuid.uuid4()), "event_type": "customer.updated", "aggregate_type": "customer",
                     "aggregate_id": f"p{i}", "aggregate_version": 1, "payload": "{}", "created_at": old,
                     "published_at": published, "attempts": 0})
    with engine.begin() as conn:
        conn.execute(sa.insert(outbox), rows)
    relay = OutboxRelay(service="prune-test", engine=engine, outbox=outbox, amqp_url=amqp,
                        retention_hours=168, prune_batch=4)
    assert relay.prune_published() == 10
    with engine.connect() as conn:
        left = conn.execute(sa.select(outbox.c.aggregate_id, outbox.c.published_at)).all()
    assert len(left) == 15 and all(r.published_at is None or r.published_at > old for r in left)
    assert relay.prune_published() == 0
