"""The delivery worker against real receivers on 127.0.0.1 and a real database: what a
receiver gets, retries and giving up, per-customer order, a slow receiver that delays no
one else, deactivation visible in the API, and two workers sharing the work."""
from __future__ import annotations

import json
import threading
import time

from crm_common.heartbeat import Heartbeat
from crm_testing import wait_for
from crm_testing.receiver import Behaviour, WebhookReceiver
from webhook_service.adapters.http_sender import HttpSender
from webhook_service.adapters.wakeups import DeliveryListener
from webhook_service.config import WebhookSettings
from webhook_service.service_layer.delivery import DeliveryWorker

V1 = "/api/v1/webhooks"


def test_a_receiver_gets_the_event_signed_with_the_contract_headers(consumer, subscribe, customer_events,
                                                                    receiver, start_worker, deliveries_of, factory):
    sub = subscribe(factory, "/signed", ["customer.*"])
    event = customer_events(factory).created()
    consumer.apply(event)
    start_worker()
    [call] = wait_for(lambda: receiver.accepted("/signed"), timeout=15)
    assert call.signature_ok is True
    assert json.loads(call.body) == event  # the §5 event as published
    assert call.headers["content-type"] == "application/json"
    assert (call.headers["x-crm-event-id"], call.headers["x-crm-event-type"]) == (event["event_id"], "customer.created")
    assert wait_for(lambda: deliveries_of(factory, sub["id"])[0]["state"] == "delivered", timeout=10)
    [logged] = deliveries_of(factory, sub["id"])
    assert call.headers["x-crm-delivery-id"] == str(logged["id"])
    assert (logged["attempts"], logged["last_status_code"]) == (1, 200)


def test_failures_are_retried_with_backoff_then_given_up_and_redelivered_by_hand(
        consumer, subscribe, customer_events, receiver, start_worker, deliveries_of, factory, client, headers_for):
    sub = subscribe(factory, "/down", ["customer.*"])
    receiver.behaviour["/down"] = Behaviour(fail_ratio=1.0)
    event = customer_events(factory).created()
    consumer.apply(event)
    start_worker(WEBHOOK_DEACTIVATE_AFTER_FAILED_DELIVERIES="5")
    assert wait_for(lambda: deliveries_of(factory, sub["id"])[0]["state"] == "failed", timeout=30)
    [failed] = deliveries_of(factory, sub["id"])
    assert (failed["attempts"], failed["last_status_code"], failed["last_error"]) == (8, 500, "HTTP 500")
    calls = receiver.snapshot("/down")
    assert len(calls) == 8 and {c.event_id for c in calls} == {event["event_id"]}
    gaps = [b.at - a.at for a, b in zip(calls, calls[1:])]
    # Backed off: each gap at least its backoff's lower bound (base 0.05 s doubling, capped at
    # 0.2 s here, -25 % jitter). A busy machine only makes gaps longer, never shorter.
    floors = [0.75 * min(0.2, 0.05 * 2 ** step) for step in range(len(gaps))]
    assert all(gap >= floor for gap, floor in zip(gaps, floors)), list(zip(gaps, floors))
    assert sum(gaps) >= sum(floors)

    receiver.behaviour["/down"] = Behaviour()
    resp = client.post(f"{V1}/{sub['id']}/deliveries/{failed['id']}/redeliver", headers=headers_for(factories=[factory]))
    assert resp.status_code == 202
    assert wait_for(lambda: receiver.accepted_event_ids("/down") == {event["event_id"]}, timeout=15)


def test_one_customers_events_arrive_in_version_order_while_the_first_one_keeps_failing(
        consumer, subscribe, customer_events, receiver, start_worker, factory):
    subscribe(factory, "/ordered", ["customer.*"])
    customer = customer_events(factory)
    others = [customer_events(factory) for _ in range(3)]

    def first_version_of_customer(call):
        return call.event["aggregate_id"] == str(customer.id) and call.event["aggregate_version"] == 1

    # The first three calls carrying the customer's version 1 fail; versions 2..5 must wait for it.
    receiver.behaviour["/ordered"] = Behaviour(fail_when=lambda call: first_version_of_customer(call) and len(
        [c for c in receiver.snapshot("/ordered") if first_version_of_customer(c)]) <= 3)
    consumer.apply(customer.created())
    for n in range(4):
        consumer.apply(customer.updated(name=f"名称{n}"))
    for other in others:
        consumer.apply(other.created())
    start_worker()
    assert wait_for(lambda: len(receiver.accepted("/ordered")) == 8, timeout=20)
    mine = [c.event["aggregate_version"] for c in receiver.snapshot("/ordered")
            if c.event["aggregate_id"] == str(customer.id)]
    assert mine == [1, 1, 1, 1, 2, 3, 4, 5]  # nothing of version 2+ before version 1 was accepted
    first_accepted = next(c.at for c in receiver.accepted("/ordered") if c.event["aggregate_id"] == str(customer.id))
    other_times = [c.at for c in receiver.accepted("/ordered") if c.event["aggregate_id"] != str(customer.id)]
    assert max(other_times) < first_accepted  # other customers did not wait for it


def test_a_slow_receiver_does_not_delay_deliveries_to_others(consumer, subscribe, customer_events, receiver,
                                                             start_worker, factory):
    subscribe(factory, "/slow", ["customer.*"])
    subscribe(factory, "/fast", ["customer.*"])
    receiver.behaviour["/slow"] = Behaviour(delay=5.0)
    for _ in range(10):
        consumer.apply(customer_events(factory).created())
    start_worker(WEBHOOK_CONCURRENCY="4", WEBHOOK_CONCURRENCY_PER_SUBSCRIPTION="2")
    assert wait_for(lambda: len(receiver.accepted("/fast")) == 10, timeout=30)
    # Counted, not timed: had the slow receiver held all four threads, the fast one would have
    # waited for at least four of its 5 s answers.
    assert len(receiver.accepted("/slow")) <= 2
    assert len(receiver.snapshot("/slow")) <= 4  # at most its share of the threads at a time


def test_a_subscription_whose_deliveries_keep_failing_is_deactivated_with_the_reason_in_the_api(
        consumer, subscribe, customer_events, start_worker, factory, client, headers_for):
    dead = WebhookReceiver()  # never started: the port refuses connections
    headers = headers_for(factories=[factory])
    sid = client.post(V1, json={"url": dead.url("/gone"), "events": ["customer.*"]}, headers=headers).get_json()["data"]["id"]
    for _ in range(3):
        consumer.apply(customer_events(factory).created())
    start_worker(WEBHOOK_DEACTIVATE_AFTER_FAILED_DELIVERIES="2")

    def subscription():
        return client.get(f"{V1}/{sid}", headers=headers).get_json()["data"]
    assert wait_for(lambda: subscription()["active"] is False, timeout=30)
    data = subscription()
    assert "连续 2 次投递失败" in data["deactivated_reason"] and "无法连接" in data["deactivated_reason"]
    assert data["deactivated_at"] and data["consecutive_failed_deliveries"] >= 2
    back = client.patch(f"{V1}/{sid}", json={"active": True}, headers=headers).get_json()["data"]
    assert back["active"] and back["consecutive_failed_deliveries"] == 0 and back["deactivated_reason"] is None


def test_two_workers_share_the_work_and_send_each_delivery_once(consumer, subscribe, customer_events, receiver,
                                                               start_worker, factory, deliveries_of):
    subs = [subscribe(factory, path, ["customer.*"]) for path in ("/r1", "/r2", "/r3")]
    for _ in range(40):
        consumer.apply(customer_events(factory).created())
    start_worker()
    start_worker()
    # Once every delivery is recorded as delivered, nothing can send it again.
    assert wait_for(lambda: all(d["state"] == "delivered" for sub in subs for d in deliveries_of(factory, sub["id"])),
                    timeout=30)
    delivery_ids = [c.delivery_id for c in receiver.snapshot()]
    assert len(delivery_ids) == len(set(delivery_ids)) == 120


def test_a_new_delivery_wakes_an_idle_worker_at_once(consumer, subscribe, customer_events, receiver, start_worker,
                                                     factory):
    subscribe(factory, "/wake", ["customer.*"])
    worker = start_worker(WEBHOOK_POLL_SECONDS="30")  # its poll alone would take 30 s
    assert worker.listener.listening.wait(10)
    event = customer_events(factory).created()
    recorded = time.time()
    consumer.apply(event)
    [call] = wait_for(lambda: receiver.accepted("/wake"), timeout=10)
    assert call.event_id == event["event_id"] and call.at - recorded < 15.0  # not the 30 s poll


def test_the_listener_hears_an_announcement_when_its_transaction_commits(engine, uow_factory):
    heard, stop = threading.Event(), threading.Event()
    listener = DeliveryListener(engine, heard.set, stop).start()
    try:
        assert heard.wait(10)  # it calls once on connecting (for what was announced before)
        heard.clear()
        with uow_factory() as uow:
            uow.deliveries.announce()
            uow.session.flush()
            assert not heard.wait(0.3)  # not before the commit
            uow.commit()
        assert heard.wait(5)
    finally:
        stop.set()
        listener.thread.join(timeout=5)


def test_the_worker_touches_its_heartbeat_file_every_turn_even_when_idle(uow_factory, settings, tmp_path):
    beat_file = tmp_path / "heartbeat"
    wh = WebhookSettings.from_settings(settings)
    worker = DeliveryWorker(uow_factory=uow_factory, sender=HttpSender(1, 1), targets=wh.target_policy(),
                            settings=wh, heartbeat=Heartbeat(beat_file, min_interval=0).beat)
    thread = threading.Thread(target=worker.run, daemon=True)
    thread.start()
    try:
        assert wait_for(beat_file.exists, timeout=10)
        first = beat_file.stat().st_mtime_ns
        assert wait_for(lambda: beat_file.stat().st_mtime_ns > first, timeout=10)
    finally:
        worker.stop()
        thread.join(timeout=10)
