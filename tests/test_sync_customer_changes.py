"""Issue 3 / seed 004 end to end: customer changes made through the gateway reach every
linked project and contract by way of the outbox relay, RabbitMQ and the sync consumer,
all running as real processes."""
from __future__ import annotations

import json
import time
import uuid

import pika
import pytest
import sqlalchemy as sa

from crm_testing import wait_for

pytestmark = pytest.mark.system

SYNC_QUEUE = "sync-worker.customer-sync"



def queue_exists(amqp_url: str, queue: str) -> bool:
    try:
        conn = pika.BlockingConnection(pika.URLParameters(amqp_url))
    except pika.exceptions.AMQPError:
        return False
    try:
        conn.channel().queue_declare(queue, passive=True)
        return True
    except pika.exceptions.ChannelClosedByBroker:
        return False
    finally:
        if conn.is_open:
            conn.close()


@pytest.fixture(autouse=True)
def pipeline_ready(stack):
    """The relay and the consumer processes are up and connected, and the consumer's queue
    exists (events are routed only once it does)."""
    assert wait_for(lambda: '"relay_connected"' in stack.logs("customer-relay"), timeout=30, interval=0.2), \
        stack.procs["customer-relay"].tail()
    assert wait_for(lambda: '"consumer_connected"' in stack.logs("sync-consumer")
                    and queue_exists(stack.amqp_url, SYNC_QUEUE), timeout=30, interval=0.2), \
        stack.procs["sync-consumer"].tail()


def create_customer(api, name=None, contact="张三", phone="13800138000") -> dict:
    resp = api.post("/api/v1/customers", json={"customer": {
        "name": name or f"客户-{uuid.uuid4().hex[:8]}", "type": "company",
        "primary_contact_name": contact, "primary_contact_phone": phone}})
    assert resp.status_code == 201, resp.text
    return resp.json()["data"]


def create_project(api, customer_id, name="项目") -> dict:
    resp = api.post("/api/v1/projects", json={"name": name, "customer_id": customer_id})
    assert resp.status_code == 201, resp.text
    return resp.json()["data"]


def create_contract(api, customer_id, project_id=None) -> dict:
    resp = api.post("/api/v1/contracts", json={"contract_no": f"HT-{uuid.uuid4().hex[:10]}",
                                               "customer_id": customer_id, "project_id": project_id})
    assert resp.status_code == 201, resp.text
    return resp.json()["data"]


def history(api, customer_id, **params) -> list[dict]:
    resp = api.get("/api/v1/sync/history", params={"customer_id": customer_id, "page_size": 100, **params})
    assert resp.status_code == 200, resp.text
    return resp.json()["data"]["items"]


def customer_fields_of(api, customer_id):
    projects = api.get("/api/v1/projects", params={"customer_id": customer_id, "page_size": 100}).json()["data"]["items"]
    contracts = api.get("/api/v1/contracts", params={"customer_id": customer_id, "page_size": 100}).json()["data"]["items"]
    return ([(p["customer_name"], p["customer_contact"], p["customer_phone"]) for p in projects],
            [(c["customer_name"], c["contact_person"], c["contact_phone"]) for c in contracts])


def test_name_contact_and_phone_changes_reach_every_linked_project_and_contract_within_2s(stack, client_for, factory):
    api = client_for(roles=["sales_admin"], factories=[factory])
    customer = create_customer(api)
    other = create_customer(api)
    projects = [create_project(api, customer["id"], f"项目{i}") for i in range(3)]
    contracts = [create_contract(api, customer["id"], projects[0]["id"]), create_contract(api, customer["id"])]
    bystander = create_project(api, other["id"])

    trace = f"seed004-{uuid.uuid4().hex[:12]}"
    updated = api.put(f"/api/v1/customers/{customer['id']}", headers={"X-Request-ID": trace},
                      json={"customer_name": f"新客户名称-{uuid.uuid4().hex[:6]}", "contact_person": "新联系人",
                            "contact_phone": "13900000000"})
    assert updated.status_code == 200, updated.text
    new = updated.json()["data"]
    expected = (new["name"], "新联系人", "13900000000")

    # bounded, not timed: the propagation goal (seed 004's "within seconds") is make bench's
    # update -> project lag, which a test on a loaded 2-core CI machine cannot hold
    synced = wait_for(lambda: customer_fields_of(api, customer["id"]) == ([expected] * 3, [expected] * 2), timeout=60)
    assert synced, customer_fields_of(api, customer["id"])
    untouched = api.get(f"/api/v1/projects/{bystander['id']}").json()["data"]
    assert untouched["customer_name"] == other["name"] and untouched["version"] == 1

    entries = history(api, customer["id"])
    assert len(entries) == 1
    entry = entries[0]
    assert entry["trigger"] == "event" and entry["outcome"] == "success" and entry["trace_id"] == trace
    assert entry["changed_fields"] == ["name", "primary_contact_name", "primary_contact_phone"]
    assert entry["updated_fields"] == ["customer_name", "customer_contact", "customer_phone",
                                       "contact_person", "contact_phone"]
    assert sorted(entry["project_ids"]) == sorted(p["id"] for p in projects) and entry["project_count"] == 3
    assert sorted(entry["contract_ids"]) == sorted(c["id"] for c in contracts) and entry["contract_count"] == 2
    assert entry["customer_version"] == new["version"] and entry["synced_at"] and entry["event_id"]

    # Seed 004 §5 log lines, carrying the trace id of the customer update.
    lines = [json.loads(line) for line in stack.logs("sync-consumer").splitlines()
             if line.startswith("{") and trace in line]
    events = {line["event"] for line in lines}
    assert f"客户 {customer['id']} 信息已自动同步到 3 个项目: customer_name, customer_contact, customer_phone" in events
    assert f"客户 {customer['id']} 信息已自动同步到 2 个合同: customer_name, contact_person, contact_phone" in events
    assert all(line["trace_id"] == trace for line in lines)


def test_auto_sync_false_keeps_projects_and_contracts_as_they_were(client_for, factory):
    api = client_for(roles=["admin"], factories=[factory])
    customer = create_customer(api)
    project = create_project(api, customer["id"])
    contract = create_contract(api, customer["id"])
    resp = api.put(f"/api/v1/customers/{customer['id']}", params={"auto_sync": "false"},
                   json={"customer_name": f"不同步-{uuid.uuid4().hex[:6]}", "contact_phone": "13911112222"})
    assert resp.status_code == 200 and resp.json()["data"]["primary_contact_phone"] == "13911112222"
    skipped = wait_for(lambda: history(api, customer["id"]), timeout=5)
    assert [(e["outcome"], e["changed_fields"]) for e in skipped] == \
        [("skipped", ["name", "primary_contact_phone"])]
    old = (customer["name"], "张三", "13800138000")
    assert customer_fields_of(api, customer["id"]) == ([old], [old])
    assert api.get(f"/api/v1/projects/{project['id']}").json()["data"]["version"] == 1
    assert api.get(f"/api/v1/contracts/{contract['id']}").json()["data"]["version"] == 1

    # A manual sync then applies the customer's current state (seed 004 §3.2 result shape).
    manual = api.post(f"/api/v1/sync/customers/{customer['id']}")
    assert manual.status_code == 200, manual.text
    body = manual.json()
    assert body["message"] == "已同步 1 个项目的客户信息"
    assert body["data"]["updated_count"] == 1 and body["data"]["updated_projects"] == [project["id"]]
    assert body["data"]["updated_contracts"] == [contract["id"]] and body["data"]["source"] == "customer-service"
    assert body["data"]["updated_fields"] == ["customer_name", "customer_phone", "contact_phone"]
    now = (resp.json()["data"]["name"], "张三", "13911112222")
    assert customer_fields_of(api, customer["id"]) == ([now], [now])
    assert [e["trigger"] for e in history(api, customer["id"])] == ["manual", "event"]


def test_batch_manual_sync_reports_each_customer(client_for, factory):
    api = client_for(roles=["factory_admin"], factories=[factory])
    customers = [create_customer(api) for _ in range(2)]
    for customer in customers:
        create_project(api, customer["id"])
        api.put(f"/api/v1/customers/{customer['id']}", params={"auto_sync": "false"}, json={"contact_person": "批量"})
    resp = api.post("/api/v1/sync/customers", json={"customer_ids": [c["id"] for c in customers] + [987654321]})
    assert resp.status_code == 207 and resp.json()["code"] == 2070
    data = resp.json()["data"]
    assert (data["succeeded"], data["failed"], data["updated_count"]) == (2, 1, 2)
    assert data["results"][2] == {"customer_id": 987654321, "success": False,
                                  "message": "客户 987654321 不存在或已被删除", "code": 4040}


def test_unknown_or_other_tenants_customer_is_404_naming_customer_id(client_for, factory):
    owner = client_for(roles=["admin"], factories=[factory])
    customer = create_customer(owner)
    stranger = client_for(roles=["admin"], factories=["X" + factory])
    for api, customer_id in ((owner, 987654321), (stranger, customer["id"])):
        resp = api.post("/api/v1/projects", json={"name": "p", "customer_id": customer_id})
        assert resp.status_code == 404, resp.text
        assert resp.json()["code"] == 4040 and resp.json()["errors"] == {"customer_id": ["客户不存在或已被删除"]}


def test_customer_updates_succeed_while_sync_is_down_or_failing_and_projects_catch_up(stack, client_for, factory):
    """Asynchronous by construction: the customer update commits in customer-service; the
    sync happens later in another process, so its failure cannot fail or undo the update."""
    api = client_for(roles=["admin"], factories=[factory])
    consumer = stack.procs["sync-consumer"]
    consumer.kill()  # SIGKILL
    try:
        # A customer the worker has not heard of: its project is filled from customer-service.
        customer = create_customer(api, contact="初始联系人")
        project = create_project(api, customer["id"])
        assert project["customer_contact"] == "初始联系人"
        started = time.monotonic()
        resp = api.put(f"/api/v1/customers/{customer['id']}", json={"contact_person": "同步停机时改的"})
        assert resp.status_code == 200 and time.monotonic() - started < 2
        assert api.get(f"/api/v1/customers/{customer['id']}").json()["data"]["primary_contact_name"] == "同步停机时改的"
        assert api.get(f"/api/v1/projects/{project['id']}").json()["data"]["customer_contact"] == "初始联系人"
    finally:
        stack.start_worker("sync-consumer")
    assert wait_for(lambda: api.get(f"/api/v1/projects/{project['id']}").json()["data"]["customer_contact"]
                    == "同步停机时改的", timeout=20)

    # Now make the sync itself fail (its table is gone): the update still succeeds and
    # stays; the worker logs seed 004's error line, and catches up once repaired.
    failures_logged = stack.logs("sync-consumer").count("客户信息自动同步失败")
    engine = sa.create_engine(stack.db_urls["sync"], poolclass=sa.pool.NullPool)
    with engine.begin() as conn:
        conn.execute(sa.text("ALTER TABLE contracts RENAME TO contracts_unavailable"))
    try:
        resp = api.put(f"/api/v1/customers/{customer['id']}", json={"contact_person": "同步失败时改的"})
        assert resp.status_code == 200, resp.text
        assert wait_for(lambda: stack.logs("sync-consumer").count("客户信息自动同步失败") > failures_logged, timeout=10)
        assert api.get(f"/api/v1/customers/{customer['id']}").json()["data"]["primary_contact_name"] == "同步失败时改的"
    finally:
        with engine.begin() as conn:
            conn.execute(sa.text("ALTER TABLE contracts_unavailable RENAME TO contracts"))
        engine.dispose()
    assert wait_for(lambda: api.get(f"/api/v1/projects/{project['id']}").json()["data"]["customer_contact"]
                    == "同步失败时改的", timeout=10)
    outcomes = [e["outcome"] for e in history(api, customer["id"])]
    assert outcomes[0] == "success" and "failed" in outcomes
