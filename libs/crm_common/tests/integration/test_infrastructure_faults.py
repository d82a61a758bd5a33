"""The relay and the consumer base under infrastructure faults, on a PRIVATE PostgreSQL
cluster (crm_testing.private) that these tests restart, fast and immediate, while both
run in this process: they recover by themselves, and every event committed to the outbox
is applied exactly once. Also: redeliveries caused by the infrastructure never count
toward the poison limit; handler failures do."""
from __future__ import annotations

import json
import threading
import uuid
from collections import Counter

import pika
import pytest
import sqlalchemy as sa

from crm_common.consumer import (
    EventConsumer,
    backstop_delivery_limit,
    declare_queue,
    declare_topology,
    queue_arguments,
)
from crm_common.db import UnitOfWork, consumer_tables, make_engine, make_session_factory, outbox_table
from crm_common.events import make_event
from crm_common.relay import OutboxRelay, outbox_backlog
from crm_testing import create_database, create_vhost, delete_vhost, drop_database, wait_for
from crm_testing.private import PrivatePostgres

pytestmark = [pytest.mark.slow]

metadata = sa.MetaData()
outbox = outbox_table(metadata)
processed, versions = consumer_tables(metadata)
applied_log = sa.Table("applied_log", metadata, sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
                       sa.Column("event_id", sa.String(64), nullable=False))


def _event(agg: str, version: int) -> dict:
    return make_event(event_type="customer.updated", producer="test", aggregate_type="customer",
                      aggregate_id=agg, aggregate_version=version, factory_id="F1", data={"v": version})


def _log_handler(session, event):
    session.execute(applied_log.insert().values(event_id=str(event["event_id"])))


def _consumer(queue, amqp, engine, handler=_log_handler, **kw):
    return EventConsumer(name=queue, queue=queue, bindings=["customer.*"], amqp_url=amqp,
                         session_factory=make_session_factory(engine), processed=processed,
                         versions=None, handler=handler, failure_pause=0.01, **kw)


def test_the_queue_delivery_limit_is_a_backstop_far_above_the_poison_limit():
    args = queue_arguments("q", 10)
    assert args["x-delivery-limit"] == backstop_delivery_limit(10) >= 1000


def test_relay_and_consumer_recover_from_postgres_restarts_without_losing_or_doubling_events():
    amqp = create_vhost("crm_pgfault")
    with PrivatePostgres() as pg:
        url = pg.create_database("crm_pgfault")
        engine = make_engine(url, pool_size=2)
        metadata.create_all(engine)
        queue = f"test.{uuid.uuid4().hex[:6]}"
        conn = pika.BlockingConnection(pika.URLParameters(amqp))
        declare_queue(conn.channel(), queue, ["customer.*"])
        conn.close()
        relay = OutboxRelay(service=f"pgfault-{queue}", engine=engine, outbox=outbox, amqp_url=amqp, max_backoff=1.0)
        consumer = _consumer(queue, amqp, engine, batch_size=10, prefetch=20)
        threads = [threading.Thread(target=relay.run, daemon=True), threading.Thread(target=consumer.run, daemon=True)]
        for t in threads:
            t.start()
        committed: list[str] = []
        stop = threading.Event()

        def writer():
            factory, n = make_session_factory(engine), 0
            while not stop.is_set():
                n += 1
                event = _event(f"a{n % 7}", n)
                try:
                    with UnitOfWork(factory, outbox) as uow:
                        uow.add_event(event)
                        uow.commit()
                    committed.append(event["event_id"])
                except sa.exc.SQLAlchemyError:
                    stop.wait(0.05)  # the database is restarting: this write was not acknowledged
                stop.wait(0.01)

        w = threading.Thread(target=writer, daemon=True)
        w.start()
        try:
            for mode in ("fast", "immediate", "fast", "immediate"):
                count = len(committed)
                assert wait_for(lambda: len(committed) >= count + 30, timeout=30)
                pg.restart(mode=mode)
            count = len(committed)
            assert wait_for(lambda: len(committed) >= count + 30, timeout=30), "writes never resumed"
            stop.set()
            w.join(timeout=10)

            def applied_ids():
                with engine.connect() as c:
                    return c.execute(sa.select(applied_log.c.event_id)).scalars().all()
            assert wait_for(lambda: len(set(applied_ids())) >= len(committed), timeout=60, interval=0.3), \
                f"{len(set(applied_ids()))} of {len(committed)} applied"
            assert wait_for(lambda: outbox_backlog(engine, outbox)[0] == 0, timeout=30)
            with engine.connect() as c:
                in_outbox = set(c.execute(sa.select(outbox.c.event_id)).scalars())
            counts = Counter(applied_ids())
            assert set(committed) <= in_outbox  # every acknowledged write committed its event
            assert set(counts) == in_outbox  # nothing lost, nothing invented
            assert [e for e, n in counts.items() if n > 1] == []  # nothing applied twice
            assert all(t.is_alive() for t in threads), "relay or consumer exited"
        finally:
            stop.set()
            relay.stop_event.set()
            consumer.stop_event.set()
            for t in threads:
                t.join(timeout=10)
            engine.dispose()
    delete_vhost(amqp)


@pytest.fixture
def shared_env():
    url, amqp = create_database("crm_poison"), create_vhost("crm_poison")
    engine = make_engine(url)
    metadata.create_all(engine)
    yield engine, amqp
    engine.dispose()
    drop_database(url)
    delete_vhost(amqp)


def test_database_outage_redeliveries_do_not_dead_letter_a_valid_event(shared_env):
    """The consumer's database connection drops under the handler 9 times (3x the poison
    limit): each delivery is handed back and none counts; then the event is applied once and
    the dead-letter queue stays empty (the queue's delivery limit alone would have
    dead-lettered it after 3)."""
    engine, amqp = shared_env
    queue = f"test.{uuid.uuid4().hex[:6]}"
    outages = [0]

    def handler(session, event):
        if outages[0] < 9:
            outages[0] += 1
            raise sa.exc.OperationalError("UPDATE", {}, Exception("server closed the connection unexpectedly"))
        _log_handler(session, event)

    consumer = _consumer(queue, amqp, engine, handler=handler, max_deliveries=3)
    conn = pika.BlockingConnection(pika.URLParameters(amqp))
    ch = conn.channel()
    declare_queue(ch, queue, ["customer.*"], max_deliveries=3)
    event = _event(uuid.uuid4().hex[:8], 1)
    ch.basic_publish("crm.events", "customer.updated", json.dumps(event).encode())
    thread = threading.Thread(target=consumer.run, daemon=True)
    thread.start()
    try:
        with engine.connect() as c:
            assert wait_for(lambda: c.execute(sa.select(sa.func.count()).select_from(applied_log)
                                              .where(applied_log.c.event_id == event["event_id"])).scalar() == 1,
                            timeout=60, interval=0.2)
        assert outages[0] == 9
        assert ch.queue_declare(f"{queue}.dlq", passive=True).method.message_count == 0
    finally:
        consumer.stop_event.set()
        thread.join(timeout=10)
        conn.close()


def test_handler_failures_alone_reach_the_poison_limit(shared_env):
    """A handler that fails twice then succeeds (limit 3) is applied; one that always
    fails is dead-lettered after exactly 3 handler failures."""
    engine, amqp = shared_env
    queue = f"test.{uuid.uuid4().hex[:6]}"
    good, bad = _event(uuid.uuid4().hex[:8], 1), _event(uuid.uuid4().hex[:8], 1)
    calls = Counter()

    def handler(session, event):
        calls[event["event_id"]] += 1
        if event["event_id"] == bad["event_id"] or calls[event["event_id"]] <= 2:
            raise RuntimeError("boom")
        _log_handler(session, event)

    consumer = _consumer(queue, amqp, engine, handler=handler, max_deliveries=3)
    conn = pika.BlockingConnection(pika.URLParameters(amqp))
    ch = conn.channel()
    declare_queue(ch, queue, ["customer.*"], max_deliveries=3)
    for event in (good, bad):
        ch.basic_publish("crm.events", "customer.updated", json.dumps(event).encode())
    thread = threading.Thread(target=consumer.run, daemon=True)
    thread.start()
    try:
        assert wait_for(lambda: ch.queue_declare(f"{queue}.dlq", passive=True).method.message_count == 1, timeout=30)
        method, _props, body = ch.basic_get(f"{queue}.dlq", auto_ack=True)
        assert json.loads(body)["event_id"] == bad["event_id"]
        assert calls[bad["event_id"]] == 3
        with engine.connect() as c:
            assert wait_for(lambda: c.execute(sa.select(applied_log.c.event_id)).scalars().all().count(good["event_id"]) == 1)
        assert calls[good["event_id"]] == 3
    finally:
        consumer.stop_event.set()
        thread.join(timeout=10)
        conn.close()


def test_a_queue_declared_by_an_older_release_with_delivery_limit_10_is_kept_and_consumed(shared_env):
    engine, amqp = shared_env
    queue = f"test.{uuid.uuid4().hex[:6]}"
    conn = pika.BlockingConnection(pika.URLParameters(amqp))
    ch = conn.channel()
    declare_queue(ch, queue, ["customer.*"])
    ch.queue_delete(queue)
    ch.queue_declare(queue=queue, durable=True, arguments={  # as the previous release declared it
        "x-queue-type": "quorum", "x-dead-letter-exchange": "", "x-dead-letter-routing-key": f"{queue}.dlq",
        "x-delivery-limit": 10})
    declare_topology(amqp, queue, ["customer.*"])  # the deploy step does not fail ...
    event = _event(uuid.uuid4().hex[:8], 1)
    ch.basic_publish("crm.events", "customer.updated", json.dumps(event).encode())
    consumer = _consumer(queue, amqp, engine)
    thread = threading.Thread(target=consumer.run, daemon=True)
    thread.start()
    try:  # ... and the consumer consumes it as it is
        with engine.connect() as c:
            assert wait_for(lambda: event["event_id"] in c.execute(sa.select(applied_log.c.event_id)).scalars().all(),
                            timeout=30)
    finally:
        consumer.stop_event.set()
        thread.join(timeout=10)
        conn.close()
