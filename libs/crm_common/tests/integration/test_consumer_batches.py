"""The consumer applies the deliveries that arrive together in one transaction, each event
in its own savepoint (real PostgreSQL and RabbitMQ)."""
from __future__ import annotations

import json
import threading
import time
import uuid

import pika
import pytest
import sqlalchemy as sa

from crm_common.consumer import EventConsumer, declare_queue, declare_topology
from crm_common.db import consumer_tables, make_engine, make_session_factory
from crm_common.events import make_event
from crm_testing import create_database, create_vhost, delete_vhost, drop_database, wait_for

metadata = sa.MetaData()
processed, versions = consumer_tables(metadata)
names = sa.Table("names", metadata, sa.Column("aggregate_id", sa.String(64), primary_key=True),
                 sa.Column("name", sa.String(100)), sa.Column("writes", sa.Integer))


@pytest.fixture(scope="module")
def env():
    url, amqp = create_database("crm_batches"), create_vhost("crm_batches")
    engine = make_engine(url)
    metadata.create_all(engine)
    yield engine, amqp
    engine.dispose()
    drop_database(url)
    delete_vhost(amqp)


def event(agg: str, version: int, name: str, event_id: str | None = None) -> dict:
    return make_event(event_type="customer.updated", producer="test", aggregate_type="customer",
                      aggregate_id=agg, aggregate_version=version, factory_id="F1", data={"name": name},
                      event_id=event_id)


def handler(session, ev):
    if ev["data"]["name"] == "boom":
        session.execute(sa.insert(names).values(aggregate_id=ev["aggregate_id"] + "-partial", name="x", writes=0))
        raise RuntimeError("handler failed")
    row = session.execute(sa.select(names.c.writes).where(names.c.aggregate_id == ev["aggregate_id"])).first()
    if row is None:
        session.execute(sa.insert(names).values(aggregate_id=ev["aggregate_id"], name=ev["data"]["name"], writes=1))
    else:
        session.execute(sa.update(names).where(names.c.aggregate_id == ev["aggregate_id"])
                        .values(name=ev["data"]["name"], writes=row.writes + 1))


def make_consumer(engine, amqp, queue, **kw):
    return EventConsumer(name=queue, queue=queue, bindings=["customer.*"], amqp_url=amqp,
                         session_factory=make_session_factory(engine), processed=processed, versions=versions,
                         handler=handler, **kw)


def state(engine, agg):
    with engine.connect() as conn:
        return conn.execute(sa.select(names.c.name, names.c.writes).where(names.c.aggregate_id == agg)).first()


def test_a_failing_event_in_a_batch_rolls_back_alone_and_the_others_commit(env):
    engine, amqp = env
    consumer = make_consumer(engine, amqp, f"batch.{uuid.uuid4().hex[:6]}")
    a, b = uuid.uuid4().hex[:8], uuid.uuid4().hex[:8]
    bad = event(b, 1, "boom")
    outcomes = consumer.apply_batch([event(a, 1, "first"), bad, event(a, 2, "second")])
    assert outcomes[0] == "applied" and isinstance(outcomes[1], RuntimeError) and outcomes[2] == "applied"
    assert tuple(state(engine, a)) == ("second", 2)
    assert state(engine, b + "-partial") is None  # the failing event's own writes are gone
    with engine.connect() as conn:
        seen = conn.execute(sa.select(processed.c.event_id).where(processed.c.consumer == consumer.name)).scalars().all()
    assert bad["event_id"] not in seen  # not marked processed: it will be redelivered and retried


def test_a_batch_dedupes_and_orders_within_its_own_transaction(env):
    engine, amqp = env
    consumer = make_consumer(engine, amqp, f"batch.{uuid.uuid4().hex[:6]}")
    agg = uuid.uuid4().hex[:8]
    newer = event(agg, 2, "newer")
    assert consumer.apply_batch([newer, newer, event(agg, 1, "older")]) == ["applied", "duplicate", "stale"]
    assert tuple(state(engine, agg)) == ("newer", 1)


def test_a_backlog_is_applied_in_batches_in_order_with_one_write_per_event(env):
    engine, amqp = env
    queue = f"batch.{uuid.uuid4().hex[:6]}"
    conn = pika.BlockingConnection(pika.URLParameters(amqp))
    ch = conn.channel()
    declare_queue(ch, queue, ["customer.*"])
    agg = uuid.uuid4().hex[:8]
    for version in range(1, 201):
        ch.basic_publish("crm.events", "customer.updated", json.dumps(event(agg, version, f"v{version}")).encode())
    consumer = make_consumer(engine, amqp, queue, batch_size=50)
    batches = []  # sizes of the transactions; a delivery that arrives alone is a batch of one
    original, alone = consumer.apply_batch, consumer._apply_each_alone
    consumer.apply_batch = lambda events: batches.append(len(events)) or original(events)
    consumer._apply_each_alone = lambda one: batches.append(1) or alone(one)
    thread = threading.Thread(target=consumer.run, daemon=True)
    thread.start()
    try:
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline and (state(engine, agg) is None or state(engine, agg).name != "v200"):
            time.sleep(0.05)
        assert tuple(state(engine, agg)) == ("v200", 200)
        assert sum(batches) == 200 and max(batches) > 1 and max(batches) <= 50
        assert wait_for(lambda: ch.queue_declare(queue, passive=True).method.message_count == 0)
    finally:
        consumer.stop_event.set()
        thread.join(timeout=10)
        conn.close()


def test_declare_topology_creates_the_queue_so_earlier_events_wait_for_the_consumer(env):
    engine, amqp = env
    queue = f"batch.{uuid.uuid4().hex[:6]}"
    declare_topology(amqp, queue, ["customer.*"])
    conn = pika.BlockingConnection(pika.URLParameters(amqp))
    ch = conn.channel()
    ch.confirm_delivery()
    agg = uuid.uuid4().hex[:8]
    ch.basic_publish("crm.events", "customer.created", json.dumps(event(agg, 1, "before the consumer")).encode(),
                     mandatory=True)  # raises UnroutableError if no queue took it
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline and ch.queue_declare(queue, passive=True).method.message_count != 1:
        time.sleep(0.05)
    assert ch.queue_declare(queue, passive=True).method.message_count == 1
    assert ch.queue_declare(f"{queue}.dlq", passive=True).method.message_count == 0
    conn.close()
    consumer = make_consumer(engine, amqp, queue)
    thread = threading.Thread(target=consumer.run, daemon=True)
    thread.start()
    try:
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and state(engine, agg) is None:
            time.sleep(0.05)
        assert state(engine, agg).name == "before the consumer"
    finally:
        consumer.stop_event.set()
        thread.join(timeout=10)


def test_by_default_each_event_is_its_own_transaction(env):
    engine, amqp = env
    queue = f"batch.{uuid.uuid4().hex[:6]}"
    conn = pika.BlockingConnection(pika.URLParameters(amqp))
    ch = conn.channel()
    declare_queue(ch, queue, ["customer.*"])
    agg = uuid.uuid4().hex[:8]
    for version in range(1, 31):
        ch.basic_publish("crm.events", "customer.updated", json.dumps(event(agg, version, f"v{version}")).encode())
    consumer = make_consumer(engine, amqp, queue)
    singles, batches = [], []
    original_apply = consumer.apply
    consumer.apply = lambda ev: singles.append(ev["event_id"]) or original_apply(ev)
    consumer.apply_batch = lambda events: batches.append(len(events))
    thread = threading.Thread(target=consumer.run, daemon=True)
    thread.start()
    try:
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline and (state(engine, agg) is None or state(engine, agg).name != "v30"):
            time.sleep(0.05)
        assert tuple(state(engine, agg)) == ("v30", 30)
        assert len(singles) == 30 and batches == []
    finally:
        consumer.stop_event.set()
        thread.join(timeout=10)
        conn.close()


# --- set-based batches (handler_many) ----------------------------------------------------------

def handler_many(session, events):
    """The newest name of each aggregate, in one statement."""
    if any(ev["data"]["name"] == "boom" for ev in events):
        raise RuntimeError("one of them is poison")
    from crm_common.db import upsert
    upsert(session, names, [{"aggregate_id": ev["aggregate_id"], "name": ev["data"]["name"], "writes": 1}
                            for ev in events], index_elements=["aggregate_id"],
           set_=lambda table, excluded: {"name": excluded.name, "writes": table.c.writes + 1})


def test_a_set_based_batch_records_ids_and_versions_together_and_applies_only_the_newest(env):
    engine, amqp = env
    consumer = make_consumer(engine, amqp, f"many.{uuid.uuid4().hex[:6]}", handler_many=handler_many)
    a, b = uuid.uuid4().hex[:8], uuid.uuid4().hex[:8]
    seen = event(b, 1, "seen before")
    assert consumer.apply(seen) == "applied"
    v1, v3, v2 = event(a, 1, "one"), event(a, 3, "three"), event(a, 2, "two")
    outcomes = consumer.apply_batch([v1, v3, v3, v2, seen, event(b, 1, "same version, new id")])
    assert outcomes == ["stale", "applied", "duplicate", "stale", "duplicate", "stale"]
    assert tuple(state(engine, a)) == ("three", 1)          # one write for the whole batch
    with engine.connect() as conn:
        rows = dict(conn.execute(sa.select(processed.c.event_id, processed.c.applied)
                                 .where(processed.c.consumer == consumer.name)).all())
        version = conn.execute(sa.select(versions.c.version).where(
            versions.c.consumer == consumer.name, versions.c.aggregate_id == a)).scalar()
    assert version == 3 and rows[v3["event_id"]] is True and rows[v1["event_id"]] is False
    assert consumer.apply(event(a, 2, "late")) == "stale"   # the same rules as one by one afterwards


def test_a_poison_event_in_a_set_based_batch_fails_alone_when_the_batch_is_retried_one_by_one(env):
    engine, amqp = env
    consumer = make_consumer(engine, amqp, f"many.{uuid.uuid4().hex[:6]}", handler_many=handler_many)
    a, b = uuid.uuid4().hex[:8], uuid.uuid4().hex[:8]
    outcomes = consumer.apply_batch([event(a, 1, "fine"), event(b, 1, "boom")])
    assert outcomes[0] == "applied" and isinstance(outcomes[1], RuntimeError)
    assert tuple(state(engine, a)) == ("fine", 1) and state(engine, b) is None
