"""Worker liveness: the relay's and the consumer's loops touch their heartbeat file on every
turn (idle, reconnecting with backoff), and the liveness probe of deploy/docker/healthcheck.py
fails once a loop is stuck: a handler that never returns, a query waiting on a lock. Real
RabbitMQ and PostgreSQL; the probe runs as the container runs it."""
from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import uuid

import pika
import pytest
import sqlalchemy as sa

from crm_common.consumer import EventConsumer, declare_queue
from crm_common.db import UnitOfWork, consumer_tables, make_engine, make_session_factory, outbox_table
from crm_common.events import make_event
from crm_common.heartbeat import Heartbeat
from crm_common.relay import OutboxRelay
from crm_testing import create_database, create_vhost, delete_vhost, drop_database, free_port, repo_root, wait_for

PROBE = repo_root() / "deploy" / "docker" / "healthcheck.py"
STUCK_AFTER = 1.5  # --max-age of the probe in these tests (60 in the deployments)

metadata = sa.MetaData()
outbox = outbox_table(metadata)
processed, versions = consumer_tables(metadata)


def probe(path, max_age: float = STUCK_AFTER) -> subprocess.CompletedProcess:
    """``crm-healthcheck --heartbeat FILE --max-age SECONDS``, as the liveness probe runs it."""
    return subprocess.run([sys.executable, str(PROBE), "--heartbeat", str(path), "--max-age", str(max_age)],
                          capture_output=True, text=True, timeout=30)


def mtime(path) -> float:
    try:
        return os.stat(path).st_mtime
    except FileNotFoundError:
        return 0.0


def refreshed(path, times: int = 2, timeout: float = 15.0) -> bool:
    """The file's modification time moves forward ``times`` times: the loop keeps turning."""
    for _ in range(times):
        before = mtime(path)
        if not wait_for(lambda: mtime(path) > before, timeout=timeout):
            return False
    return True


def _event(aggregate_id: str) -> dict:
    return make_event(event_type="customer.updated", producer="test", aggregate_type="customer",
                      aggregate_id=aggregate_id, aggregate_version=1, factory_id="F1", data={})


@pytest.fixture()
def sqlite_engine(tmp_path):
    engine = make_engine(f"sqlite:///{tmp_path / 'worker.db'}")
    metadata.create_all(engine)
    yield engine
    engine.dispose()


def run_in_thread(loop) -> threading.Thread:
    thread = threading.Thread(target=loop.run, daemon=True)
    thread.start()
    return thread


def stop(loop, thread: threading.Thread) -> None:
    loop.stop_event.set()
    thread.join(timeout=30)
    assert not thread.is_alive(), "the loop did not stop"


def test_heartbeat_touches_its_file_at_most_once_per_interval_and_nothing_without_a_path(tmp_path):
    path = tmp_path / "heartbeat"
    heartbeat = Heartbeat(path, min_interval=3600)
    heartbeat.beat()
    first = mtime(path)
    assert first > 0
    os.utime(path, (first - 100, first - 100))
    heartbeat.beat()  # within the interval: no write
    assert mtime(path) == first - 100
    Heartbeat(None).beat()
    assert Heartbeat.from_env({}).path is None
    assert Heartbeat.from_env({"HEARTBEAT_FILE": str(path)}).path == path


def test_an_unwritable_heartbeat_does_not_stop_the_loop_and_the_probe_reports_it(tmp_path):
    missing_dir = tmp_path / "no-such-dir" / "heartbeat"
    Heartbeat(missing_dir).beat()  # logged, not raised
    result = probe(missing_dir)
    assert result.returncode == 1 and "no heartbeat" in result.stderr


def test_consumer_heartbeat_is_fresh_while_idle_and_goes_stale_while_its_handler_is_stuck(tmp_path, sqlite_engine):
    amqp = create_vhost("crm_heartbeat")
    path = tmp_path / "heartbeat"
    entered, release = threading.Event(), threading.Event()

    def stuck_handler(_session, _event):
        entered.set()
        release.wait(60)  # bounded, so a failing test cannot hang the run

    queue = f"test.{uuid.uuid4().hex[:6]}"
    consumer = EventConsumer(name=queue, queue=queue, bindings=["customer.*"], amqp_url=amqp,
                             session_factory=make_session_factory(sqlite_engine), processed=processed,
                             versions=versions, handler=stuck_handler,
                             heartbeat=Heartbeat(path, min_interval=0.2))
    thread = run_in_thread(consumer)
    connection = pika.BlockingConnection(pika.URLParameters(amqp))
    try:
        assert refreshed(path), "an idle consumer keeps its heartbeat fresh"
        assert probe(path).returncode == 0
        channel = connection.channel()
        declare_queue(channel, queue, ["customer.*"])
        channel.basic_publish("crm.events", "customer.updated", json.dumps(_event("stuck")).encode())
        assert entered.wait(15), "the handler was called"
        result = wait_for(lambda: (r := probe(path)).returncode == 1 and r, timeout=15)
        assert result, "the probe fails while the handler is stuck"
        assert "stuck" in result.stderr
        release.set()
        assert wait_for(lambda: probe(path).returncode == 0, timeout=15), "fresh again once the handler returns"
    finally:
        release.set()
        connection.close()
        stop(consumer, thread)
        delete_vhost(amqp)


def test_relay_heartbeat_goes_stale_while_its_query_waits_on_a_lock_and_recovers(tmp_path):
    url, amqp = create_database("crm_heartbeat"), create_vhost("crm_heartbeat")
    engine = make_engine(url)
    metadata.create_all(engine)
    path = tmp_path / "heartbeat"
    relay = OutboxRelay(service=f"heartbeat-{uuid.uuid4().hex[:6]}", engine=engine, outbox=outbox, amqp_url=amqp,
                        heartbeat=Heartbeat(path, min_interval=0.2))
    thread = run_in_thread(relay)
    locker = engine.connect()
    try:
        assert refreshed(path), "an idle relay keeps its heartbeat fresh"
        assert probe(path).returncode == 0
        transaction = locker.begin()
        locker.execute(sa.text("LOCK TABLE outbox IN ACCESS EXCLUSIVE MODE"))  # its next read waits
        assert wait_for(lambda: probe(path).returncode == 1, timeout=15), "stale while the relay waits on the lock"
        transaction.rollback()
        assert wait_for(lambda: probe(path).returncode == 0, timeout=15), "fresh again once the lock is gone"
        with UnitOfWork(make_session_factory(engine), outbox) as uow:  # and it still publishes
            uow.add_event(_event("after-the-lock"))
            uow.commit()
        with engine.connect() as conn:
            assert wait_for(lambda: conn.execute(sa.text(
                "SELECT count(*) FROM outbox WHERE published_at IS NULL")).scalar() == 0, timeout=15)
    finally:
        locker.close()
        stop(relay, thread)
        engine.dispose()
        drop_database(url)
        delete_vhost(amqp)


@pytest.mark.parametrize("kind", ["relay", "consumer"])
def test_heartbeat_stays_fresh_while_the_loop_reconnects_with_backoff(kind, tmp_path, sqlite_engine):
    """No broker at all: the loop keeps retrying, which is not being stuck (a restart would
    not help), so the probe keeps passing."""
    nowhere = f"amqp://guest:guest@127.0.0.1:{free_port()}/%2F"
    path = tmp_path / "heartbeat"
    heartbeat = Heartbeat(path, min_interval=0.2)
    if kind == "relay":
        loop = OutboxRelay(service="heartbeat-nowhere", engine=sqlite_engine, outbox=outbox, amqp_url=nowhere,
                           max_backoff=1.0, heartbeat=heartbeat)
    else:
        loop = EventConsumer(name="nowhere", queue="test.nowhere", bindings=["customer.*"], amqp_url=nowhere,
                             session_factory=make_session_factory(sqlite_engine), processed=processed,
                             versions=versions, handler=lambda s, e: None, heartbeat=heartbeat)
    thread = run_in_thread(loop)
    try:
        assert refreshed(path, times=3), f"the {kind} touches its heartbeat between reconnect attempts"
        assert probe(path, max_age=30).returncode == 0
    finally:
        stop(loop, thread)
