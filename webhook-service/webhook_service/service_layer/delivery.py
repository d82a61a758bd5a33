"""The delivery worker (``webhook-service deliver``): claim due deliveries, POST them signed,
record each outcome.

- Deliveries never wait for each other: a pool of ``WEBHOOK_CONCURRENCY`` threads sends,
  at most ``WEBHOOK_CONCURRENCY_PER_SUBSCRIPTION`` of them to one receiver, and the claim
  takes work subscription by subscription (the longest waiting first), so a slow or dead
  receiver holds at most its own share of the threads. Each subscription's next batch is
  claimed while the current one is being sent (one claim transaction per batch).
- A claim is a lease (``WEBHOOK_LEASE_SECONDS``) written in the database: a worker that
  dies mid-delivery leaves a lease that expires, and the delivery is claimed again (never
  lost); a delivery recorded ``delivered`` is never claimed again (never re-sent by a
  restart). Replicas claim disjoint rows (``FOR UPDATE SKIP LOCKED`` on PostgreSQL).
- A failure is retried after an exponential backoff with jitter, up to
  ``WEBHOOK_MAX_ATTEMPTS`` attempts, then the delivery is ``failed`` (redeliverable by
  hand). A receiver whose attempts keep failing is paused; a subscription whose deliveries
  keep failing is deactivated, with the reason in the API.
- Within one subscription, events of one aggregate go out in ``aggregate_version`` order
  (``DeliveryRepository.claim``).
"""
from __future__ import annotations

import datetime as dt
import random
import threading
import time
import uuid
from collections import defaultdict, deque
from concurrent.futures import ThreadPoolExecutor
from typing import Callable, Protocol

from prometheus_client import Counter, Histogram

from crm_common import logs
from crm_common.db import utcnow
from crm_common.metrics import gauge

from ..config import WebhookSettings
from ..domain import signing
from ..domain.model import AttemptResult, Job
from ..domain.targets import Target, TargetPolicy, TargetRefused
from .unit_of_work import WebhookUnitOfWork

log = logs.get_logger("webhook.deliver")

DELIVERIES = Counter("webhook_deliveries_total",
                     "Delivery attempts by outcome: delivered, retrying (failed, will retry), failed (given up)",
                     ["outcome"])
ATTEMPT_SECONDS = Histogram("webhook_delivery_attempt_seconds", "Duration of one POST to a receiver",
                            buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0))
EVENT_TO_DELIVERED = Histogram("webhook_event_to_delivered_seconds",
                               "Event occurred_at to its 2xx from the receiver",
                               buckets=(0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 300.0, 3600.0))
DEACTIVATED = Counter("webhook_subscriptions_deactivated_total", "Subscriptions deactivated after failing deliveries")
BACKLOG = gauge("webhook_backlog", "Pending deliveries (due: may be sent now)", ["kind"])
OLDEST_PENDING = gauge("webhook_oldest_pending_age_seconds", "Age of the oldest pending delivery", [])
IN_FLIGHT = gauge("webhook_in_flight", "Deliveries being sent by this process", [])
AWAITING_DOMAIN = gauge("webhook_events_awaiting_domain",
                        "Events held for domain-scoped subscriptions until their customer's domain is known", [])

USER_AGENT = "crm-webhooks/1"
LEASE_MARGIN_SECONDS = 2  # recording an outcome takes well under this


class Sender(Protocol):
    def post(self, target: Target, body: bytes, headers: dict[str, str]) -> AttemptResult: ...


def request_headers(job: Job, timestamp: int) -> dict[str, str]:
    """The headers of CONTRACT §6, signature over exactly the bytes sent."""
    return {"Content-Type": "application/json", "User-Agent": USER_AGENT,
            "X-CRM-Event-Id": job.event_id, "X-CRM-Event-Type": job.event_type,
            "X-CRM-Delivery-Id": str(job.delivery_id),
            "X-CRM-Signature": signing.signature_header(job.secret, job.body, timestamp)}


class DeliveryWorker:
    def __init__(self, *, uow_factory: Callable[[], WebhookUnitOfWork], sender: Sender, targets: TargetPolicy,
                 settings: WebhookSettings, clock: Callable[[], dt.datetime] = utcnow,
                 rand: Callable[[], float] = random.random, heartbeat: Callable[[], None] | None = None):
        self.uow_factory, self.sender, self.targets, self.settings = uow_factory, sender, targets, settings
        self.clock, self.rand = clock, rand
        self.heartbeat = heartbeat or (lambda: None)
        self.stop_event = threading.Event()
        self._wake = threading.Event()
        self._lock = threading.Lock()
        # Per subscription: deliveries being sent, and claimed ones waiting for a free slot
        # (claimed ahead in batches, so that a claim costs one transaction per batch).
        self._in_flight: dict[int, int] = defaultdict(int)
        self._queued: dict[int, deque[Job]] = defaultdict(deque)
        self._pool = ThreadPoolExecutor(max_workers=settings.concurrency, thread_name_prefix="deliver")
        # Subscriptions with due work, as last asked: when, and after how many wake-ups (one
        # arriving while the question runs makes the next turn ask again).
        self._candidates: list[int] = []
        self._candidates_at = float("-inf")
        self._wakeups = 0
        self._candidates_after = -1
        self._last_backlog = 0.0

    def wake_for_new(self) -> None:
        """New deliveries were recorded: look for due work now, not at the next poll."""
        self._wakeups += 1
        self._wake.set()

    @property
    def per_subscription(self) -> int:
        return self.settings.concurrency_per_subscription

    # --- the loop ------------------------------------------------------------------------------

    def run(self) -> None:
        log.info("deliver_started", concurrency=self.settings.concurrency, per_subscription=self.per_subscription)
        while not self.stop_event.is_set():
            self.heartbeat()
            try:
                claimed = self.claim_and_send()
                if time.monotonic() - self._last_backlog > 5:
                    self.observe_backlog()
            except Exception as exc:  # noqa: BLE001 - the database may be away: try again shortly
                log.warning("deliver_claim_failed", error=type(exc).__name__)
                claimed = 0
            if not claimed:
                self._wake.wait(self.settings.poll_seconds)  # a finished delivery wakes it early
                self._wake.clear()
        self._release_queued()
        self._pool.shutdown(wait=True)  # finish (and record) what is in flight
        log.info("deliver_stopped")

    def claim_and_send(self) -> int:
        """Claim what may be sent soon and start what may be sent now; returns how many
        were claimed. A subscription holds at most twice its sending slots (in flight plus
        a batch waiting), and is refilled only once its waiting batch has started, so
        claims come in batches; the process holds at most twice ``WEBHOOK_CONCURRENCY``."""
        free = 2 * self.settings.concurrency - self.held()
        if free <= 0:
            return 0
        now = self.clock()
        wakeups = self._wakeups
        if wakeups != self._candidates_after or time.monotonic() - self._candidates_at >= self.settings.poll_seconds:
            # Which subscriptions have due work: asked per poll interval or new deliveries, not
            # after every finished delivery (those only refill the subscriptions known here).
            with self.uow_factory() as uow:
                self._candidates = uow.deliveries.subscriptions_with_due_work(now, limit=max(free, 16))
            self._candidates_at, self._candidates_after = time.monotonic(), wakeups
        claimed = 0
        for subscription_id in list(self._candidates):
            held = self.held(subscription_id)
            if held > self.per_subscription:
                continue  # its next batch is still waiting to be sent
            room = min(free - claimed, 2 * self.per_subscription - held)
            with self.uow_factory() as uow:
                jobs = uow.deliveries.claim(subscription_id, now, room, str(uuid.uuid4()),
                                            now + dt.timedelta(seconds=self.settings.lease_seconds))
                uow.commit()
            if len(jobs) < room:
                self._candidates.remove(subscription_id)  # nothing more due there for now
            with self._lock:
                self._queued[subscription_id].extend(jobs)
            claimed += len(jobs)
            if claimed >= free:
                break
        self._dispatch()
        return claimed

    def _dispatch(self) -> None:
        """Start waiting deliveries while sending slots are free, in total and per
        subscription, one subscription after the other."""
        with self._lock:
            started = True
            while started and sum(self._in_flight.values()) < self.settings.concurrency:
                started = False
                for subscription_id, queue in list(self._queued.items()):
                    if not queue:
                        del self._queued[subscription_id]
                    elif self._in_flight[subscription_id] < self.per_subscription \
                            and sum(self._in_flight.values()) < self.settings.concurrency:
                        job = queue.popleft()
                        self._in_flight[subscription_id] += 1
                        self._pool.submit(self._send_then_dispatch, job)
                        started = True
            IN_FLIGHT.set(sum(self._in_flight.values()))

    def _send_then_dispatch(self, job: Job) -> None:
        try:
            self.deliver(job)
        finally:
            with self._lock:
                self._in_flight[job.subscription_id] -= 1
                if self._in_flight[job.subscription_id] <= 0:
                    del self._in_flight[job.subscription_id]
            self._dispatch()
            self._wake.set()

    def _release_queued(self) -> None:
        """Stopping: hand back what was claimed but not started, for another worker now
        rather than after the lease."""
        with self._lock:
            jobs = [job for queue in self._queued.values() for job in queue]
            self._queued.clear()
        if jobs:
            try:
                with self.uow_factory() as uow:
                    uow.deliveries.release(jobs)
                    uow.commit()
            except Exception as exc:  # noqa: BLE001 - their leases expire instead
                log.warning("deliver_release_failed", error=type(exc).__name__, deliveries=len(jobs))

    def held(self, subscription_id: int | None = None) -> int:
        """Claimed by this process and not yet recorded (in flight or waiting)."""
        with self._lock:
            if subscription_id is not None:
                return self._in_flight.get(subscription_id, 0) + len(self._queued.get(subscription_id, ()))
            return sum(self._in_flight.values()) + sum(len(q) for q in self._queued.values())

    # --- one delivery --------------------------------------------------------------------------

    def deliver(self, job: Job) -> AttemptResult:
        """Send one claimed delivery and record what happened. Recording may fail (database
        away): the lease then expires and the delivery is sent again (at least once)."""
        margin = dt.timedelta(seconds=self.settings.timeout_seconds + LEASE_MARGIN_SECONDS)
        if self.clock() + margin > job.lease_expires_at:
            # It waited too long for a slot: another worker may claim it before this attempt
            # could end. Handed back instead of sent (never two senders at once).
            try:
                with self.uow_factory() as uow:
                    uow.deliveries.release([job])
                    uow.commit()
            except Exception as exc:  # noqa: BLE001 - its lease expires instead
                log.warning("deliver_release_failed", error=type(exc).__name__, deliveries=1)
            return AttemptResult(None, "lease too short", 0.0)
        try:
            target = self.targets.check(job.url)
        except TargetRefused as exc:
            result = AttemptResult(None, f"目标地址不允许：{exc}")
        else:
            result = self.sender.post(target, job.body, request_headers(job, int(time.time())))
        ATTEMPT_SECONDS.observe(result.duration)
        try:
            self.record(job, result)
        except Exception as exc:  # noqa: BLE001 - logged; the expiring lease retries it
            log.error("deliver_record_failed", delivery_id=job.delivery_id, error=type(exc).__name__)
        return result

    def record(self, job: Job, result: AttemptResult) -> None:
        now = self.clock()
        duration_ms = int(result.duration * 1000)
        policy = self.settings.retry
        with self.uow_factory() as uow:
            if result.ok:
                if uow.deliveries.mark_delivered(job.delivery_id, now, result.status_code, duration_ms):
                    uow.subscriptions.note_success(job.subscription_id)
                outcome = "delivered"
            else:
                gives_up = job.is_ping or policy.gives_up(job.attempts)
                retry_at = None if gives_up else now + dt.timedelta(seconds=policy.retry_delay(job.attempts, self.rand))
                recorded = uow.deliveries.record_failure(job.delivery_id, job.lease_token,
                                                         status_code=result.status_code, error=result.error,
                                                         duration_ms=duration_ms, retry_at=retry_at)
                if recorded and not job.is_ping:
                    self._count_failure(uow, job, result, gives_up, now)
                outcome = "failed" if gives_up else "retrying"
            uow.commit()
        DELIVERIES.labels(outcome).inc()
        if result.ok and job.occurred_at is not None:
            EVENT_TO_DELIVERED.observe(max(0.0, (now - job.occurred_at).total_seconds()))
        log.info("webhook_delivery_attempt", delivery_id=job.delivery_id, subscription_id=job.subscription_id,
                 event_id=job.event_id, attempt=job.attempts, outcome=outcome, status_code=result.status_code,
                 error=result.error, duration_ms=duration_ms)

    def _count_failure(self, uow: WebhookUnitOfWork, job: Job, result: AttemptResult, gave_up: bool,
                       now: dt.datetime) -> None:
        """A receiver failing again and again is paused; a subscription whose deliveries
        keep being given up is deactivated (reason visible in the API)."""
        policy = self.settings.retry
        pause = policy.pause(uow.subscriptions.note_failed_attempt(job.subscription_id), self.rand)
        if pause is not None:
            uow.subscriptions.pause(job.subscription_id, now + dt.timedelta(seconds=pause))
        if not gave_up:
            return
        failed_in_a_row = uow.subscriptions.note_failed_delivery(job.subscription_id)
        if policy.deactivates(failed_in_a_row):
            reason = f"连续 {failed_in_a_row} 次投递失败，已自动停用（最近一次：{result.error}）"
            if uow.subscriptions.deactivate(job.subscription_id, now, reason[:500]):
                DEACTIVATED.inc()
                log.warning("webhook_subscription_deactivated", subscription_id=job.subscription_id,
                            failed_deliveries=failed_in_a_row)

    # --- metrics -------------------------------------------------------------------------------

    def observe_backlog(self) -> None:
        now = self.clock()
        with self.uow_factory() as uow:
            pending, due, oldest = uow.deliveries.backlog(now)
            awaiting_domain = uow.events.count_awaiting_domain()
        AWAITING_DOMAIN.set(awaiting_domain)
        BACKLOG.labels("pending").set(pending)
        BACKLOG.labels("due").set(due)
        OLDEST_PENDING.set((now - oldest).total_seconds() if oldest else 0.0)
        self._last_backlog = time.monotonic()

    def stop(self) -> None:
        self.stop_event.set()
        self._wake.set()
