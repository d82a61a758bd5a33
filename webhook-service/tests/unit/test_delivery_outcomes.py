"""What the delivery worker does with each attempt's outcome, with a fake unit of work
and a fake receiver (no I/O): headers and signature, retry schedule, giving up, pausing
a failing receiver, deactivating the subscription, pings sent once."""
from __future__ import annotations

import dataclasses
import datetime as dt
import hashlib
import hmac

import pytest

from crm_common.config import Settings
from webhook_service.config import WebhookSettings
from webhook_service.domain.model import AttemptResult, Job
from webhook_service.domain.patterns import PING
from webhook_service.domain.targets import TargetPolicy
from webhook_service.service_layer.delivery import DeliveryWorker

NOW = dt.datetime(2026, 11, 21, 8, 0, tzinfo=dt.timezone.utc)


class FakeSubscriptions:
    def __init__(self):
        self.failed_attempts = self.failed_deliveries = 0
        self.active, self.reason, self.paused_until = True, None, None

    def note_success(self, _sid):
        self.failed_attempts = self.failed_deliveries = 0
        self.paused_until = None

    def note_failed_attempt(self, _sid):
        self.failed_attempts += 1
        return self.failed_attempts

    def note_failed_delivery(self, _sid):
        self.failed_deliveries += 1
        return self.failed_deliveries

    def pause(self, _sid, until):
        self.paused_until = until

    def deactivate(self, _sid, _now, reason):
        was, self.active, self.reason = self.active, False, reason
        return was


class FakeDeliveries:
    def __init__(self):
        self.rows: dict[int, dict] = {}

    def mark_delivered(self, delivery_id, now, status_code, duration_ms):
        self.rows[delivery_id] = {"state": "delivered", "status": status_code}
        return True

    def release(self, jobs):
        for job in jobs:
            self.rows[job.delivery_id] = {"state": "released"}

    def record_failure(self, delivery_id, token, *, status_code, error, duration_ms, retry_at):
        self.rows[delivery_id] = {"state": "pending" if retry_at else "failed", "status": status_code,
                                  "error": error, "retry_at": retry_at}
        return True


class FakeUnitOfWork:
    def __init__(self):
        self.subscriptions, self.deliveries, self.commits = FakeSubscriptions(), FakeDeliveries(), 0

    def __call__(self):
        return self

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False

    def commit(self):
        self.commits += 1


class ScriptedReceiver:
    def __init__(self, *results: AttemptResult):
        self.results, self.calls = list(results), []

    def post(self, target, body, headers):
        self.calls.append((target, body, headers))
        return self.results.pop(0) if len(self.results) > 1 else self.results[0]


def worker(receiver, uow=None, **env) -> tuple[DeliveryWorker, FakeUnitOfWork]:
    uow = uow or FakeUnitOfWork()
    settings = WebhookSettings.from_settings(Settings.from_env("webhook", {
        "WEBHOOK_DATABASE_URL": "sqlite://", "WEBHOOK_RETRY_BASE_SECONDS": "30", **env}))
    return DeliveryWorker(uow_factory=uow, sender=receiver, targets=TargetPolicy(production=False), settings=settings,
                          clock=lambda: NOW, rand=lambda: 0.5), uow


def job(attempts=1, delivery_id=7, event_type="customer.updated") -> Job:
    return Job(delivery_id=delivery_id, subscription_id=3, lease_token="lease", attempts=attempts,
               url="http://127.0.0.1:9/hook", secret="whsec_k", event_id="e-1", event_type=event_type,
               body=b'{"event_id":"e-1"}', lease_expires_at=NOW + dt.timedelta(seconds=60))


OK = AttemptResult(200, None, 0.01)
DOWN = AttemptResult(503, "HTTP 503", 0.01)


def test_a_delivery_is_posted_with_the_contract_headers_and_a_valid_signature():
    receiver = ScriptedReceiver(OK)
    w, uow = worker(receiver)
    w.deliver(job())
    target, body, headers = receiver.calls[0]
    assert target.url == "http://127.0.0.1:9/hook" and body == b'{"event_id":"e-1"}'
    assert headers["Content-Type"] == "application/json"
    assert (headers["X-CRM-Event-Id"], headers["X-CRM-Event-Type"], headers["X-CRM-Delivery-Id"]) == (
        "e-1", "customer.updated", "7")
    t, v1 = (part.split("=", 1)[1] for part in headers["X-CRM-Signature"].split(","))
    assert v1 == hmac.new(b"whsec_k", f"{t}.".encode() + body, hashlib.sha256).hexdigest()
    assert uow.deliveries.rows[7] == {"state": "delivered", "status": 200}


@pytest.mark.parametrize("attempts, delay", [(1, 30), (2, 60), (3, 120), (7, 1920)])
def test_a_failed_attempt_is_retried_after_an_exponential_delay(attempts, delay):
    w, uow = worker(ScriptedReceiver(DOWN))
    w.deliver(job(attempts=attempts))
    row = uow.deliveries.rows[7]
    assert row["state"] == "pending" and row["status"] == 503 and row["error"] == "HTTP 503"
    assert row["retry_at"] == NOW + dt.timedelta(seconds=delay)  # rand 0.5: no jitter


def test_the_eighth_failed_attempt_gives_the_delivery_up():
    w, uow = worker(ScriptedReceiver(DOWN))
    w.deliver(job(attempts=8))
    assert uow.deliveries.rows[7]["state"] == "failed" and uow.deliveries.rows[7]["retry_at"] is None
    assert uow.subscriptions.failed_deliveries == 1


def test_a_receiver_failing_again_and_again_is_paused_and_one_success_resumes_it():
    w, uow = worker(ScriptedReceiver(DOWN), WEBHOOK_PAUSE_AFTER_FAILED_ATTEMPTS="3")
    for n in range(2):
        w.deliver(job(delivery_id=n))
    assert uow.subscriptions.paused_until is None
    w.deliver(job(delivery_id=3))
    assert uow.subscriptions.paused_until == NOW + dt.timedelta(seconds=30)
    w.deliver(job(delivery_id=4))
    assert uow.subscriptions.paused_until == NOW + dt.timedelta(seconds=60)
    w.sender = ScriptedReceiver(OK)
    w.deliver(job(delivery_id=5))
    assert uow.subscriptions.paused_until is None and uow.subscriptions.failed_attempts == 0


def test_the_subscription_is_deactivated_after_the_configured_deliveries_given_up_in_a_row():
    w, uow = worker(ScriptedReceiver(AttemptResult(None, "无法连接：Connection refused")),
                    WEBHOOK_DEACTIVATE_AFTER_FAILED_DELIVERIES="3")
    for n in range(2):
        w.deliver(job(attempts=8, delivery_id=n))
    assert uow.subscriptions.active
    w.deliver(job(attempts=8, delivery_id=2))
    assert not uow.subscriptions.active
    assert "连续 3 次投递失败" in uow.subscriptions.reason and "Connection refused" in uow.subscriptions.reason


def test_a_success_between_failures_restarts_the_count_toward_deactivation():
    w, uow = worker(ScriptedReceiver(DOWN), WEBHOOK_DEACTIVATE_AFTER_FAILED_DELIVERIES="2")
    w.deliver(job(attempts=8, delivery_id=1))
    w.sender = ScriptedReceiver(OK)
    w.deliver(job(delivery_id=2))
    w.sender = ScriptedReceiver(DOWN)
    w.deliver(job(attempts=8, delivery_id=3))
    assert uow.subscriptions.active and uow.subscriptions.failed_deliveries == 1


def test_a_ping_is_tried_once_and_never_counts_against_the_subscription():
    w, uow = worker(ScriptedReceiver(DOWN), WEBHOOK_DEACTIVATE_AFTER_FAILED_DELIVERIES="1")
    w.deliver(job(event_type=PING))
    assert uow.deliveries.rows[7]["state"] == "failed"
    assert uow.subscriptions.active and uow.subscriptions.failed_attempts == 0


def test_a_target_refused_at_send_time_is_a_failed_attempt_without_any_request():
    receiver = ScriptedReceiver(OK)
    w, uow = worker(receiver)
    w.targets = TargetPolicy(production=True, resolver=lambda host, port: ["127.0.0.1"])  # DNS now says loopback
    w.deliver(dataclasses.replace(job(), url="https://hooks.example.com/hook"))
    assert receiver.calls == []
    assert uow.deliveries.rows[7]["state"] == "pending"
    assert "目标地址不允许" in uow.deliveries.rows[7]["error"] and "127.0.0.1" in uow.deliveries.rows[7]["error"]


def test_a_delivery_whose_lease_would_expire_during_the_attempt_is_handed_back_not_sent():
    receiver = ScriptedReceiver(OK)
    w, uow = worker(receiver)  # timeout 10 s: needs 12 s of lease left
    w.deliver(dataclasses.replace(job(), lease_expires_at=NOW + dt.timedelta(seconds=11)))
    assert receiver.calls == [] and uow.deliveries.rows[7] == {"state": "released"}
