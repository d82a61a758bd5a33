"""The claim query on both backends (PostgreSQL, and SQLite for make run): per-aggregate
order, leases that exclude a delivery while it is in flight and expire when its worker
died, delivered deliveries never claimed again, paused and inactive subscriptions left
alone, and concurrent claims on PostgreSQL taking disjoint rows."""
from __future__ import annotations

import datetime as dt
import threading
import uuid
from functools import partial

import pytest
import sqlalchemy as sa

from crm_common.db import make_engine, make_session_factory
from crm_common.migrations import upgrade_head
from webhook_service.adapters.orm import events
from webhook_service.cli import SERVICE_DIR
from webhook_service.domain.model import PENDING, Delivery, Subscription
from webhook_service.domain.patterns import PING
from webhook_service.service_layer.unit_of_work import WebhookUnitOfWork

T0 = dt.datetime(2026, 11, 21, 8, 0, tzinfo=dt.timezone.utc)


@pytest.fixture(params=["postgresql", "sqlite"])
def uow(request, pg_url, tmp_path):
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path}/claims.db"
        upgrade_head(SERVICE_DIR, url)
    else:
        url = pg_url
    engine = make_engine(url)
    yield partial(WebhookUnitOfWork, make_session_factory(engine))
    engine.dispose()


def add_subscription(uow, **overrides) -> int:
    with uow() as tx:
        sub = tx.subscriptions.add(Subscription(**{
            "factory_id": "F-" + uuid.uuid4().hex[:6], "url": "http://127.0.0.1:9/", "events": ["*"], "secret": "s",
            "all_domains": True, "domains": [], "created_at": T0, "updated_at": T0, **overrides}))
        tx.commit()
    return sub.id


def add_delivery(uow, sub_id, aggregate_id="c-1", version=1, due=T0, event_type="customer.updated") -> int:
    event_id = str(uuid.uuid4())
    with uow() as tx:
        tx.session.execute(sa.insert(events).values(
            event_id=event_id, factory_id="F", event_type=event_type, aggregate_type="customer",
            aggregate_id=aggregate_id, aggregate_version=version, awaiting_domain=False,
            payload='{"event_id": "%s"}' % event_id, received_at=T0))
        delivery = tx.deliveries.add(Delivery(
            subscription_id=sub_id, factory_id="F", event_id=event_id, event_type=event_type,
            aggregate_type="customer", aggregate_id=aggregate_id, aggregate_version=version, state=PENDING,
            next_attempt_at=due, created_at=T0))
        tx.commit()
    return delivery.id


def claim(uow, sub_id, now=T0, limit=10, lease=60):
    with uow() as tx:
        jobs = tx.deliveries.claim(sub_id, now, limit, str(uuid.uuid4()), now + dt.timedelta(seconds=lease))
        tx.commit()
    return jobs


def delivered(uow, job, now=T0):
    with uow() as tx:
        assert tx.deliveries.mark_delivered(job.delivery_id, now, 200, 5)
        tx.commit()


def test_later_versions_of_an_aggregate_wait_for_the_earlier_ones(uow):
    sub = add_subscription(uow)
    a1, a2, a3 = (add_delivery(uow, sub, "A", v) for v in (1, 2, 3))
    b1 = add_delivery(uow, sub, "B", 1)
    first = claim(uow, sub)
    assert sorted(j.delivery_id for j in first) == sorted([a1, b1])
    assert claim(uow, sub) == []  # a1 is in flight: a2 waits, and nothing is claimed twice
    for job in first:
        delivered(uow, job)
    [second] = claim(uow, sub)
    assert second.delivery_id == a2 and second.attempts == 1
    with uow() as tx:  # a2 fails and is retried in a minute: a3 still waits
        assert tx.deliveries.record_failure(a2, second.lease_token, status_code=500, error="HTTP 500",
                                            duration_ms=3, retry_at=T0 + dt.timedelta(minutes=1))
        tx.commit()
    assert claim(uow, sub) == []
    [retried] = claim(uow, sub, now=T0 + dt.timedelta(minutes=2))
    assert (retried.delivery_id, retried.attempts) == (a2, 2)
    with uow() as tx:  # given up: the later version goes on
        assert tx.deliveries.record_failure(a2, retried.lease_token, status_code=500, error="HTTP 500",
                                            duration_ms=3, retry_at=None)
        tx.commit()
    assert [j.delivery_id for j in claim(uow, sub, now=T0 + dt.timedelta(minutes=2))] == [a3]


def test_a_lease_of_a_dead_worker_expires_and_a_delivered_delivery_is_never_claimed_again(uow):
    sub = add_subscription(uow)
    d1, d2 = add_delivery(uow, sub, "A"), add_delivery(uow, sub, "B")
    crashed = claim(uow, sub, lease=30)  # this worker dies: nothing recorded
    assert {j.delivery_id for j in crashed} == {d1, d2}
    assert claim(uow, sub, now=T0 + dt.timedelta(seconds=29)) == []
    again = claim(uow, sub, now=T0 + dt.timedelta(seconds=31))
    assert {(j.delivery_id, j.attempts) for j in again} == {(d1, 2), (d2, 2)}
    for job in again:
        delivered(uow, job, now=T0 + dt.timedelta(seconds=32))
    assert claim(uow, sub, now=T0 + dt.timedelta(hours=1)) == []
    with uow() as tx:  # the dead worker's late failure report changes nothing
        assert not tx.deliveries.record_failure(d1, crashed[0].lease_token, status_code=None, error="x",
                                                duration_ms=1, retry_at=T0)
        tx.commit()


def test_a_paused_or_inactive_subscription_is_left_alone_but_a_ping_still_goes(uow):
    paused = add_subscription(uow, paused_until=T0 + dt.timedelta(minutes=5))
    inactive = add_subscription(uow, active=False)
    add_delivery(uow, paused)
    add_delivery(uow, inactive)
    ping = add_delivery(uow, inactive, aggregate_id="ping-1", event_type=PING)
    with uow() as tx:
        due = tx.deliveries.subscriptions_with_due_work(T0, 100)
    assert paused not in due and inactive in due
    assert claim(uow, paused) == []
    assert [j.delivery_id for j in claim(uow, inactive)] == [ping]
    assert len(claim(uow, paused, now=T0 + dt.timedelta(minutes=6))) == 1


def test_a_claim_takes_the_oldest_due_first_and_not_what_is_not_due(uow):
    sub = add_subscription(uow)
    late = add_delivery(uow, sub, "A", due=T0 - dt.timedelta(seconds=5))
    early = add_delivery(uow, sub, "B", due=T0 - dt.timedelta(seconds=50))
    add_delivery(uow, sub, "C", due=T0 + dt.timedelta(seconds=5))
    assert [j.delivery_id for j in claim(uow, sub, limit=1)] == [early]
    assert [j.delivery_id for j in claim(uow, sub)] == [late]


def test_concurrent_claims_on_postgresql_take_disjoint_deliveries(pg_url):
    engine = make_engine(pg_url, pool_size=10)
    uow = partial(WebhookUnitOfWork, make_session_factory(engine))
    sub = add_subscription(uow)
    ids = {add_delivery(uow, sub, f"agg-{i}") for i in range(200)}
    taken: list[int] = []
    lock, start = threading.Lock(), threading.Barrier(8)

    def worker():
        start.wait()
        while True:
            jobs = claim(uow, sub, limit=7)
            if not jobs:
                return
            with lock:
                taken.extend(j.delivery_id for j in jobs)

    threads = [threading.Thread(target=worker) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    engine.dispose()
    assert sorted(taken) == sorted(ids)  # every delivery claimed, none twice
