"""analytics-service's consumer draining a backlog, in process (``make bench-analytics`` runs
the real ``analytics-service consume`` process instead; this one is steadier on a shared
machine: no process start-up, no gunicorn).

N ``customer.created`` events are published to a fresh RabbitMQ vhost first, then
``EventConsumer.run`` (the analytics wiring: set-based batches of 200) drains them into a
fresh, migrated analytics database. Prints events/s and the consumer's CPU seconds.

    .venv/bin/python bench/analytics_consumer.py [--events 3000]
"""
from __future__ import annotations

import argparse
import json
import os
import threading
import time

import pika
import sqlalchemy as sa

from analytics_service.adapters import orm
from analytics_service.bootstrap import CONSUMER_BATCH_SIZE
from analytics_service.cli import SERVICE_DIR
from analytics_service.service_layer.projection import apply_many, handlers
from analytics_service.service_layer.unit_of_work import AnalyticsUnitOfWork
from crm_common.consumer import EventConsumer, declare_queue
from crm_common.db import make_engine, make_session_factory
from crm_common.events import make_event
from crm_testing import create_vhost, delete_vhost, migrated_database

QUEUE = "bench.analytics"


def backlog(amqp: str, n: int) -> None:
    conn = pika.BlockingConnection(pika.URLParameters(amqp))
    channel = conn.channel()
    declare_queue(channel, QUEUE, handlers.bindings)
    channel.confirm_delivery()
    for i in range(n):
        cid = 10**9 + i
        event = make_event(event_type="customer.created", producer="customer-service", aggregate_type="customer",
                           aggregate_id=cid, aggregate_version=1, factory_id="BENCH-F2",
                           data={"id": cid, "factory_id": "BENCH-F2", "name": f"事件客户{i}", "type": "company",
                                 "rating": 1 + i % 5, "credit_limit": 1000, "current_balance": -(i % 700),
                                 "debt_since": "2026-01-01T00:00:00Z", "payment_terms": 30, "version": 1})
        channel.basic_publish("crm.events", event["event_type"], json.dumps(event).encode(),
                              pika.BasicProperties(content_type="application/json", delivery_mode=2,
                                                   message_id=event["event_id"]))
    conn.close()


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--events", type=int, default=3000)
    args = p.parse_args(argv)
    amqp = create_vhost("crm_bench")
    try:
        with migrated_database(SERVICE_DIR, "crm_bench_consumer") as url:
            engine = make_engine(url)
            backlog(amqp, args.events)
            consumer = EventConsumer(
                name=QUEUE, queue=QUEUE, bindings=handlers.bindings, amqp_url=amqp,
                session_factory=make_session_factory(engine), processed=orm.processed_events,
                versions=orm.applied_versions, handler=handlers, handler_many=apply_many,
                unit_of_work=AnalyticsUnitOfWork.joining, batch_size=CONSUMER_BATCH_SIZE, prefetch=CONSUMER_BATCH_SIZE)

            def stop_when_drained():
                deadline = time.monotonic() + 600
                while time.monotonic() < deadline:
                    with engine.connect() as conn:
                        if conn.execute(sa.select(sa.func.count()).select_from(orm.processed_events)).scalar() \
                                >= args.events:
                            break
                    time.sleep(0.05)
                consumer.stop_event.set()

            threading.Thread(target=stop_when_drained, daemon=True).start()
            started, cpu = time.perf_counter(), time.process_time()
            consumer.run()
            seconds = time.perf_counter() - started
            print(json.dumps({"events": args.events, "seconds": round(seconds, 2),
                              "events_per_second": round(args.events / seconds, 1),
                              "consumer_cpu_seconds": round(time.process_time() - cpu, 2),
                              "load_average_1m": round(os.getloadavg()[0], 2)}))
            engine.dispose()
    finally:
        delete_vhost(amqp)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
