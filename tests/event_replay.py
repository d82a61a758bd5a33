"""Events as the system tests see them: what a service wrote to its outbox (what its relay
published), published again by hand (a replay), and waiting until the analytics consumer
has handled them."""
from __future__ import annotations

import json
import time

import pika
import sqlalchemy as sa


def connect(amqp_url: str, timeout: float = 30.0) -> pika.BlockingConnection:
    """A connection, retried while the shared local broker restarts."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            return pika.BlockingConnection(pika.URLParameters(amqp_url))
        except pika.exceptions.AMQPConnectionError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.5)


def publish(amqp_url: str, events: list[dict]) -> None:
    conn = connect(amqp_url)
    try:
        channel = conn.channel()
        channel.confirm_delivery()
        for event in events:
            channel.basic_publish("crm.events", event["event_type"], json.dumps(event, ensure_ascii=False).encode(),
                                  pika.BasicProperties(content_type="application/json", delivery_mode=2,
                                                       message_id=event["event_id"]))
    finally:
        conn.close()


def events_of(stack, service: str, factory: str) -> list[dict]:
    """Every event a service wrote to its outbox for the tenant (what its relay published)."""
    engine = sa.create_engine(stack.db_urls[service], poolclass=sa.pool.NullPool)
    with engine.connect() as conn:
        events = [json.loads(p) for p in conn.execute(sa.text("SELECT payload FROM outbox ORDER BY id")).scalars()]
    engine.dispose()
    return [e for e in events if e["factory_id"] == factory]


def wait_applied(stack, event_ids: list[str], timeout: float = 30.0, service: str = "analytics") -> None:
    """Until ``service``'s consumers have handled every one of ``event_ids`` (applied,
    duplicate or stale)."""
    wanted = set(event_ids)
    engine = sa.create_engine(stack.db_urls[service], poolclass=sa.pool.NullPool)
    deadline = time.monotonic() + timeout
    try:
        while time.monotonic() < deadline:
            with engine.connect() as conn:
                seen = set(conn.execute(sa.text("SELECT event_id FROM processed_events WHERE event_id = ANY(:ids)"),
                                        {"ids": list(wanted)}).scalars())
            if seen == wanted:
                return
            time.sleep(0.1)
    finally:
        engine.dispose()
    raise AssertionError(f"{len(wanted - seen)} event(s) never reached the {service} consumer")
