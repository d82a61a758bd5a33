"""CONTRACT §5 delivery guarantees of the sync consumer, proven with crafted messages
published straight to the running stack's ``crm.events`` exchange: a message that cannot
be parsed is dead-lettered and the worker goes on; a redelivered event changes nothing;
an older version arriving after a newer one changes nothing."""
from __future__ import annotations

import json
import uuid

import pika
import pytest

from crm_common.events import make_event
from crm_testing import wait_for

pytestmark = pytest.mark.system

SYNC_QUEUE = "sync-worker.customer-sync"



class Broker:
    """A publisher on the stack's vhost."""

    def __init__(self, amqp_url: str):
        self.connection = pika.BlockingConnection(pika.URLParameters(amqp_url))
        self.channel = self.connection.channel()
        self.channel.confirm_delivery()

    def publish(self, body: bytes, routing_key: str = "customer.updated", message_id: str | None = None):
        self.channel.basic_publish("crm.events", routing_key, body, properties=pika.BasicProperties(
            content_type="application/json", delivery_mode=pika.DeliveryMode.Persistent, message_id=message_id),
            mandatory=True)

    def publish_event(self, event: dict):
        self.publish(json.dumps(event, ensure_ascii=False).encode(), event["event_type"], event["event_id"])

    def take_from_dead_letters(self, marker: bytes) -> bytes | None:
        """Remove and return our message from the DLQ, leaving anything else there."""
        others, found = [], None
        while True:
            method, _props, body = self.channel.basic_get(f"{SYNC_QUEUE}.dlq", auto_ack=False)
            if method is None:
                break
            if marker in body and found is None:
                self.channel.basic_ack(method.delivery_tag)
                found = body
            else:
                others.append(method.delivery_tag)
        for tag in others:
            self.channel.basic_nack(tag, requeue=True)
        return found

    def close(self):
        if self.connection.is_open:
            self.connection.close()


@pytest.fixture
def broker(stack):
    def ready():
        try:
            b = Broker(stack.amqp_url)
            b.channel.queue_declare(SYNC_QUEUE, passive=True)
            return b
        except pika.exceptions.AMQPError:
            return None
    b = wait_for(ready, timeout=30, interval=0.2)
    assert b is not None, "the sync consumer never declared its queue"
    yield b
    b.close()


@pytest.fixture
def linked_customer(client_for, factory):
    """A customer with one project, and a way to craft its next events."""
    api = client_for(roles=["admin"], factories=[factory])
    customer = api.post("/api/v1/customers", json={"customer": {
        "name": f"投递-{uuid.uuid4().hex[:8]}", "type": "company", "primary_contact_name": "张三",
        "primary_contact_phone": "13800138000"}}).json()["data"]
    project = api.post("/api/v1/projects", json={"name": "p", "customer_id": customer["id"]}).json()["data"]

    def event(version: int, name: str, event_id: str | None = None) -> dict:
        data = {**customer, "name": name, "version": version}
        return make_event(event_type="customer.updated", producer="customer-service", aggregate_type="customer",
                          aggregate_id=customer["id"], aggregate_version=version, factory_id=factory,
                          trace_id=uuid.uuid4().hex, actor={"sub": "crafted", "name": "测试"},
                          changed_fields=["name"], options={"auto_sync": True}, data=data, event_id=event_id)

    def project_now() -> dict:
        return api.get(f"/api/v1/projects/{project['id']}").json()["data"]

    def history() -> list[dict]:
        return api.get("/api/v1/sync/history", params={"customer_id": customer["id"]}).json()["data"]["items"]

    return {"customer": customer, "event": event, "project": project_now, "history": history, "api": api}


def consumer_outcome(stack, event_id: str) -> str | None:
    for line in stack.logs("sync-consumer").splitlines():
        if event_id in line and '"event_applied"' in line:
            return json.loads(line)["outcome"]
    return None


def test_an_unparseable_message_is_dead_lettered_and_the_worker_keeps_going(stack, broker, linked_customer):
    marker = uuid.uuid4().hex.encode()
    garbage = b"{this is not json " + marker
    broker.publish(garbage)
    broker.publish(json.dumps({"event_id": marker.decode(), "note": "lacks every other key"}).encode())
    # A good event right behind them is applied.
    good = linked_customer["event"](linked_customer["customer"]["version"] + 1, f"之后的好事件-{marker[:6].decode()}")
    broker.publish_event(good)
    assert wait_for(lambda: linked_customer["project"]()["customer_name"] == good["data"]["name"], timeout=10)
    assert wait_for(lambda: broker.take_from_dead_letters(garbage) == garbage, timeout=10)
    assert wait_for(lambda: broker.take_from_dead_letters(b'"note": "lacks every other key"'), timeout=10)
    assert stack.procs["sync-consumer"].alive()
    assert "event_invalid_dead_lettered" in stack.logs("sync-consumer")


def test_a_redelivered_event_changes_nothing(stack, broker, linked_customer):
    version = linked_customer["customer"]["version"] + 1
    event = linked_customer["event"](version, f"只应用一次-{uuid.uuid4().hex[:6]}")
    broker.publish_event(event)
    assert wait_for(lambda: consumer_outcome(stack, event["event_id"]) == "applied", timeout=10)
    before = linked_customer["project"]()
    assert before["customer_name"] == event["data"]["name"]

    broker.publish_event(event)  # the same event again, as after a lost ack
    assert wait_for(lambda: [line for line in stack.logs("sync-consumer").splitlines()
                             if event["event_id"] in line and '"outcome": "duplicate"' in line], timeout=10)
    after = linked_customer["project"]()
    assert after["version"] == before["version"] and after["updated_at"] == before["updated_at"]
    assert [e["event_id"] for e in linked_customer["history"]()] == [event["event_id"]]


def test_an_older_version_after_a_newer_one_changes_nothing(stack, broker, linked_customer):
    base = linked_customer["customer"]["version"]
    newer = linked_customer["event"](base + 10, f"新版本-{uuid.uuid4().hex[:6]}")
    older = linked_customer["event"](base + 5, f"旧版本-{uuid.uuid4().hex[:6]}")
    broker.publish_event(newer)
    assert wait_for(lambda: consumer_outcome(stack, newer["event_id"]) == "applied", timeout=10)
    before = linked_customer["project"]()
    broker.publish_event(older)
    assert wait_for(lambda: consumer_outcome(stack, older["event_id"]) == "stale", timeout=10)
    after = linked_customer["project"]()
    assert after["customer_name"] == newer["data"]["name"] and after["version"] == before["version"]
    assert [e["event_id"] for e in linked_customer["history"]()] == [newer["event_id"]]
