"""The event backbone under failure, end to end: 500 customer updates over 50 customers,
written through the gateway from several threads while the broker is stopped and started,
the sync consumer is SIGKILLed and restarted, or the customer outbox relay is SIGKILLed and
restarted. Every project and contract must end equal to its customer's final state, and
the sync history must hold each applied event exactly once.

One dedicated stack (customer-service, sync-worker, gateway, relay, consumer) for these
tests, on a private RabbitMQ node (``crm_testing.private.PrivateRabbit``), so that stopping
the broker or killing processes disturbs no other test: the shared RabbitMQ is never stopped."""
from __future__ import annotations

import threading
import time
import uuid
from collections import Counter
from concurrent.futures import ThreadPoolExecutor

import pika
import pytest
import requests
import sqlalchemy as sa

from crm_testing import Stack, auth_headers, wait_for
from crm_testing.private import PrivateRabbit

pytestmark = [pytest.mark.system, pytest.mark.slow]

SYNC_QUEUE = "sync-worker.customer-sync"
CONSUMER = "sync-worker.customer-sync"
CUSTOMERS, UPDATES, WRITERS = 50, 500, 5



def broker_accepts(amqp_url: str, queue: str | None = None) -> bool:
    try:
        conn = pika.BlockingConnection(pika.URLParameters(amqp_url))
    except (pika.exceptions.AMQPError, OSError):
        return False
    try:
        if queue:
            conn.channel().queue_declare(queue, passive=True)
        return True
    except pika.exceptions.AMQPError:
        return False
    finally:
        if conn.is_open:
            conn.close()


class Api:
    def __init__(self, base: str, factory: str):
        self.base = base
        self.session = requests.Session()
        self.session.headers.update(auth_headers(roles=["admin"], factories=[factory]))

    def call(self, method: str, path: str, **kw):
        kw.setdefault("timeout", 30)
        return self.session.request(method, self.base + path, **kw)

    def all_items(self, path: str) -> list[dict]:
        items, page = [], 1
        while True:
            data = self.call("GET", path, params={"page": page, "page_size": 100}).json()["data"]
            items += data["items"]
            if page >= data["total_pages"]:
                return items
            page += 1


@pytest.fixture(scope="module")
def chaos():
    with PrivateRabbit() as broker, Stack(services=["customer", "sync"], broker=broker,
                                          workers=["customer-relay", "sync-consumer"]) as stack:
        assert wait_for(lambda: broker_accepts(stack.amqp_url, SYNC_QUEUE), timeout=30), \
            stack.procs["sync-consumer"].tail()
        assert wait_for(lambda: '"relay_connected"' in stack.logs("customer-relay"), timeout=30), \
            stack.procs["customer-relay"].tail()
        factory = f"CH{uuid.uuid4().hex[:8].upper()}"
        api = Api(stack.gateway, factory)

        def linked_customer(i: int) -> dict:
            customer = api.call("POST", "/api/v1/customers", json={"customer": {
                "name": f"混沌客户{i:02d}-{factory}", "type": "company", "primary_contact_name": "初始联系人",
                "primary_contact_phone": "13800000000"}}).json()["data"]
            project = api.call("POST", "/api/v1/projects", json={"name": f"项目{i}", "customer_id": customer["id"]})
            contract = api.call("POST", "/api/v1/contracts", json={"contract_no": f"HT-{i:03d}",
                                                                    "customer_id": customer["id"]})
            assert project.status_code == 201 and contract.status_code == 201, (project.text, contract.text)
            return customer

        with ThreadPoolExecutor(WRITERS) as pool:
            customers = list(pool.map(linked_customer, range(CUSTOMERS)))
        yield {"stack": stack, "api": api, "factory": factory, "customers": customers, "broker": broker}
        api.session.close()  # no idle keep-alive connection for gunicorn to wait on at shutdown


def write_updates(api: Api, customers: list[dict], tag: str, disrupt) -> float:
    """UPDATES updates (name, contact, phone) from WRITERS threads, each owning a slice of
    the customers; ``disrupt()`` runs once a fifth of them are done, while the writes go on.
    Returns the seconds the writes took."""
    done, lock, errors = [0], threading.Lock(), []
    per_customer = UPDATES // len(customers)
    fifth = threading.Event()

    def writer(owned: list[dict]):
        for round_no in range(per_customer):
            for customer in owned:
                resp = api.call("PUT", f"/api/v1/customers/{customer['id']}", json={
                    "customer_name": f"{customer['name'].split('|')[0]}|{tag}-{round_no}",
                    "contact_person": f"联系人{tag}{round_no}",
                    "contact_phone": f"139{round_no:04d}{customer['id'] % 10000:04d}"})
                if resp.status_code != 200:
                    errors.append(resp.text)
                with lock:
                    done[0] += 1
                    if done[0] >= UPDATES // 5:
                        fifth.set()
                time.sleep(0.03)  # keep writing through the whole disruption

    started = time.monotonic()
    threads = [threading.Thread(target=writer, args=(customers[i::WRITERS],)) for i in range(WRITERS)]
    for t in threads:
        t.start()
    assert fifth.wait(60)
    disrupt()
    for t in threads:
        t.join()
    assert not errors, errors[:3]
    assert done[0] == UPDATES
    return time.monotonic() - started


def assert_converged_and_history_exact(chaos, timeout=90.0):
    api, stack, factory = chaos["api"], chaos["stack"], chaos["factory"]

    def mismatches():
        truth = {c["id"]: (c["name"], c["primary_contact_name"], c["primary_contact_phone"])
                 for c in api.all_items("/api/v1/customers")}
        bad = [p["id"] for p in api.all_items("/api/v1/projects")
               if (p["customer_name"], p["customer_contact"], p["customer_phone"]) != truth[p["customer_id"]]]
        bad += [-c["id"] for c in api.all_items("/api/v1/contracts")
                if (c["customer_name"], c["contact_person"], c["contact_phone"]) != truth[c["customer_id"]]]
        return bad

    started = time.monotonic()
    assert wait_for(lambda: not mismatches(), timeout=timeout, interval=0.5), \
        f"not converged: {mismatches()[:10]}\n{stack.procs['sync-consumer'].tail(20)}"
    print(f"converged {time.monotonic() - started:.1f}s after the last write")

    ids = [str(c["id"]) for c in chaos["customers"]]
    final_versions = {c["id"]: c["version"] for c in api.all_items("/api/v1/customers")}
    sync_db = sa.create_engine(stack.db_urls["sync"], poolclass=sa.pool.NullPool)
    customer_db = sa.create_engine(stack.db_urls["customer"], poolclass=sa.pool.NullPool)
    try:
        with sync_db.connect() as conn:
            history = conn.execute(sa.text(
                "SELECT event_id, customer_id, customer_version FROM sync_history "
                "WHERE factory_id = :f AND trigger = 'event' AND outcome = 'success'"), {"f": factory}).all()
            processed = conn.execute(sa.text(
                "SELECT event_id, applied FROM processed_events WHERE consumer = :c "
                "AND event_type = 'customer.updated' AND aggregate_id = ANY(:ids)"), {"c": CONSUMER, "ids": ids}).all()
        with customer_db.connect() as conn:
            published = conn.execute(sa.text(
                "SELECT event_id FROM outbox WHERE event_type = 'customer.updated' AND aggregate_id = ANY(:ids)"),
                {"ids": ids}).scalars().all()
    finally:
        sync_db.dispose()
        customer_db.dispose()

    counts = Counter(row.event_id for row in history)
    assert [e for e, n in counts.items() if n > 1] == [], "an event was recorded twice"
    applied = {row.event_id for row in processed if row.applied}
    assert set(counts) == applied, "history and applied events differ"
    assert {row.event_id for row in processed} == set(published), "an event was lost or invented"
    newest = {}
    for row in history:
        newest[row.customer_id] = max(newest.get(row.customer_id, 0), row.customer_version)
    assert newest == final_versions, "some customer's last update never reached its projects"
    # The API shows the same: each event once, for one customer.
    one = chaos["customers"][0]["id"]
    shown = [e["event_id"] for e in api.all_items(f"/api/v1/sync/history?customer_id={one}&trigger=event")]
    assert len(shown) == len(set(shown)) == counts_for(history, one)


def counts_for(history, customer_id) -> int:
    return sum(1 for row in history if row.customer_id == customer_id)


def test_updates_written_while_the_broker_is_stopped_and_started_all_arrive_once(chaos):
    stack = chaos["stack"]

    def bounce_broker():
        try:
            chaos["broker"].stop_app()  # the private node: no other test run is on it
            time.sleep(3)  # sleep-ok: the broker stays down for a while on purpose
        finally:
            chaos["broker"].start_app()
        assert wait_for(lambda: broker_accepts(stack.amqp_url), timeout=60)

    print(f"writes took {write_updates(chaos['api'], chaos['customers'], 'broker', bounce_broker):.1f}s")
    assert_converged_and_history_exact(chaos)
    assert "relay_broker_unavailable" in stack.logs("customer-relay")
    assert "consumer_broker_unavailable" in stack.logs("sync-consumer")


def test_updates_written_while_the_sync_consumer_is_killed_and_restarted_all_arrive_once(chaos):
    stack = chaos["stack"]

    def kill_consumer():
        stack.procs["sync-consumer"].kill()  # SIGKILL, mid-transaction or not
        time.sleep(1)
        stack.start_worker("sync-consumer")

    print(f"writes took {write_updates(chaos['api'], chaos['customers'], 'consumer', kill_consumer):.1f}s")
    assert_converged_and_history_exact(chaos)


def test_updates_written_while_the_relay_is_killed_and_restarted_all_arrive_once(chaos):
    stack = chaos["stack"]

    def kill_relay():
        stack.procs["customer-relay"].kill()  # SIGKILL, possibly between confirm and mark
        time.sleep(1)
        stack.start_worker("customer-relay")

    print(f"writes took {write_updates(chaos['api'], chaos['customers'], 'relay', kill_relay):.1f}s")
    assert_converged_and_history_exact(chaos)
