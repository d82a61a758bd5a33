"""Repositories over webhook-service's tables. Every statement takes bound parameters;
the claim is the one place where concurrency matters (see ``DeliveryRepository.claim``)."""
from __future__ import annotations

import dataclasses
import datetime as dt

import sqlalchemy as sa
from sqlalchemy.orm import Session

from crm_common.db import upsert
from crm_common.paging import offset_page

from ..domain.model import DELIVERED, FAILED, PENDING, Delivery, Job, Subscription
from ..domain.patterns import PING
from .orm import customer_domains, deliveries, events, subscriptions
from .wakeups import announce_new_deliveries

_SUBSCRIPTION_FIELDS = [f.name for f in dataclasses.fields(Subscription)]
_DELIVERY_FIELDS = [f.name for f in dataclasses.fields(Delivery)]


def _subscription(row) -> Subscription:
    values = {name: row._mapping[name] for name in _SUBSCRIPTION_FIELDS}
    values["events"], values["domains"] = list(values["events"]), list(values["domains"])
    return Subscription(**values)


def _delivery(row) -> Delivery:
    return Delivery(**{name: row._mapping[name] for name in _DELIVERY_FIELDS})


class SubscriptionRepository:
    def __init__(self, session: Session):
        self.session = session

    def add(self, sub: Subscription) -> Subscription:
        values = {name: getattr(sub, name) for name in _SUBSCRIPTION_FIELDS if name != "id"}
        sub.id = self.session.execute(sa.insert(subscriptions).values(**values)
                                      .returning(subscriptions.c.id)).scalar_one()
        return sub

    def save(self, sub: Subscription) -> None:
        values = {name: getattr(sub, name) for name in _SUBSCRIPTION_FIELDS
                  if name not in ("id", "factory_id", "secret", "created_at", "created_by", "created_by_name")}
        self.session.execute(sa.update(subscriptions).where(subscriptions.c.id == sub.id).values(**values))

    def get(self, factory_id: str, subscription_id: int) -> Subscription | None:
        row = self.session.execute(sa.select(subscriptions).where(
            subscriptions.c.id == subscription_id, subscriptions.c.factory_id == factory_id,
            subscriptions.c.deleted_at.is_(None))).first()
        return _subscription(row) if row else None

    def live(self, factory_id: str) -> list[Subscription]:
        """The tenant's subscriptions (not deleted), newest first."""
        rows = self.session.execute(sa.select(subscriptions).where(
            subscriptions.c.factory_id == factory_id, subscriptions.c.deleted_at.is_(None))
            .order_by(subscriptions.c.id.desc())).all()
        return [_subscription(r) for r in rows]

    def active(self, factory_id: str) -> list[Subscription]:
        rows = self.session.execute(sa.select(subscriptions).where(
            subscriptions.c.factory_id == factory_id, subscriptions.c.deleted_at.is_(None),
            subscriptions.c.active.is_(True))).all()
        return [_subscription(r) for r in rows]

    # --- what deliveries do to their subscription (concurrent workers: atomic updates) ---

    def note_success(self, subscription_id: int) -> None:
        s = subscriptions.c
        self.session.execute(sa.update(subscriptions).where(
            s.id == subscription_id,
            sa.or_(s.failed_attempts != 0, s.failed_deliveries != 0, s.paused_until.is_not(None)))
            .values(failed_attempts=0, failed_deliveries=0, paused_until=None))

    def note_failed_attempt(self, subscription_id: int) -> int:
        """One more failed attempt in a row; returns how many now."""
        return self.session.execute(sa.update(subscriptions).where(subscriptions.c.id == subscription_id)
                                    .values(failed_attempts=subscriptions.c.failed_attempts + 1)
                                    .returning(subscriptions.c.failed_attempts)).scalar_one()

    def note_failed_delivery(self, subscription_id: int) -> int:
        """One more delivery given up in a row; returns how many now."""
        return self.session.execute(sa.update(subscriptions).where(subscriptions.c.id == subscription_id)
                                    .values(failed_deliveries=subscriptions.c.failed_deliveries + 1)
                                    .returning(subscriptions.c.failed_deliveries)).scalar_one()

    def pause(self, subscription_id: int, until: dt.datetime) -> None:
        self.session.execute(sa.update(subscriptions).where(subscriptions.c.id == subscription_id)
                             .values(paused_until=until))

    def deactivate(self, subscription_id: int, now: dt.datetime, reason: str) -> bool:
        return self.session.execute(sa.update(subscriptions).where(
            subscriptions.c.id == subscription_id, subscriptions.c.active.is_(True))
            .values(active=False, deactivated_at=now, deactivated_reason=reason, updated_at=now,
                    updated_by="webhook-service", version=subscriptions.c.version + 1)).rowcount == 1


class EventRepository:
    def __init__(self, session: Session):
        self.session = session

    def add(self, **values) -> None:
        self.session.execute(sa.insert(events).values(**values))

    def awaiting_domain(self, factory_id: str, customer_id: str) -> list:
        return self.session.execute(sa.select(events).where(
            events.c.factory_id == factory_id, events.c.customer_id == customer_id,
            events.c.awaiting_domain.is_(True)).order_by(events.c.received_at)).all()

    def release(self, event_id: str, domain: str | None) -> None:
        self.session.execute(sa.update(events).where(events.c.event_id == event_id)
                             .values(awaiting_domain=False, business_domain=domain))

    def count_awaiting_domain(self) -> int:
        return self.session.execute(sa.select(sa.func.count()).select_from(events)
                                    .where(events.c.awaiting_domain.is_(True))).scalar_one()


class CustomerDomainRepository:
    """Customer -> business domain, from customer events (newest version wins)."""

    def __init__(self, session: Session):
        self.session = session

    def remember(self, factory_id: str, customer_id: str, domain: str | None, version: int, now: dt.datetime) -> None:
        c = customer_domains.c
        upsert(self.session, customer_domains, {"factory_id": factory_id, "customer_id": customer_id,
                                                "business_domain": domain, "version": version, "updated_at": now},
               index_elements=[c.factory_id, c.customer_id], update=("business_domain", "version", "updated_at"),
               where=lambda table, excluded: table.c.version < excluded.version)

    def lookup(self, factory_id: str, customer_id: str) -> tuple[bool, str | None]:
        """(known, domain): unknown until a customer event of that customer arrived."""
        row = self.session.execute(sa.select(customer_domains.c.business_domain).where(
            customer_domains.c.factory_id == factory_id, customer_domains.c.customer_id == customer_id)).first()
        return (True, row[0]) if row else (False, None)


class DeliveryRepository:
    def __init__(self, session: Session):
        self.session = session

    def add(self, delivery: Delivery) -> Delivery:
        values = {name: getattr(delivery, name) for name in _DELIVERY_FIELDS if name != "id"}
        delivery.id = self.session.execute(sa.insert(deliveries).values(**values)
                                           .returning(deliveries.c.id)).scalar_one()
        return delivery

    def announce(self) -> None:
        """Wake the delivery workers when this transaction commits."""
        announce_new_deliveries(self.session)

    def get(self, subscription_id: int, delivery_id: int) -> Delivery | None:
        row = self.session.execute(sa.select(deliveries).where(
            deliveries.c.id == delivery_id, deliveries.c.subscription_id == subscription_id)).first()
        return _delivery(row) if row else None

    def exists(self, subscription_id: int, event_id: str) -> bool:
        return self.session.execute(sa.select(deliveries.c.id).where(
            deliveries.c.subscription_id == subscription_id, deliveries.c.event_id == event_id,
            deliveries.c.redelivery_of.is_(None))).first() is not None

    def page(self, subscription_id: int, *, state: str | None, event_id: str | None,
             page: int, page_size: int) -> tuple[list[Delivery], int]:
        """Newest first."""
        where = [deliveries.c.subscription_id == subscription_id]
        if state:
            where.append(deliveries.c.state == state)
        if event_id:
            where.append(deliveries.c.event_id == event_id)
        rows, total = offset_page(self.session, sa.select(deliveries).where(*where).order_by(deliveries.c.id.desc()),
                                  page, page_size, scalars=False)
        return [_delivery(r) for r in rows], total

    def give_up_pending(self, subscription_id: int, now: dt.datetime, reason: str) -> int:
        return self.session.execute(sa.update(deliveries).where(
            deliveries.c.subscription_id == subscription_id, deliveries.c.state == PENDING)
            .values(state=FAILED, next_attempt_at=None, lease_token=None, lease_expires_at=None,
                    last_error=reason)).rowcount

    # --- the delivery worker -----------------------------------------------------------------

    @staticmethod
    def _claimable(now: dt.datetime):
        """Pending, due, not leased (or its lease expired: the worker holding it died), and
        its subscription can receive (live, not paused; active, or the delivery is a ping)."""
        d, s = deliveries.c, subscriptions.c
        return [d.state == PENDING, d.next_attempt_at <= now,
                sa.or_(d.lease_expires_at.is_(None), d.lease_expires_at <= now),
                sa.exists().where(s.id == d.subscription_id, s.deleted_at.is_(None),
                                  sa.or_(s.active.is_(True), d.event_type == PING),
                                  sa.or_(s.paused_until.is_(None), s.paused_until <= now))]

    def subscriptions_with_due_work(self, now: dt.datetime, limit: int) -> list[int]:
        """Subscriptions with claimable deliveries, the longest waiting first."""
        return list(self.session.execute(
            sa.select(deliveries.c.subscription_id).where(*self._claimable(now))
            .group_by(deliveries.c.subscription_id)
            .order_by(sa.func.min(deliveries.c.next_attempt_at)).limit(limit)).scalars())

    def claim(self, subscription_id: int, now: dt.datetime, limit: int, token: str,
              lease_until: dt.datetime) -> list[Job]:
        """Lease up to ``limit`` claimable deliveries of one subscription, oldest due first,
        skipping any whose aggregate has an earlier version still pending (per-aggregate
        order: the later one waits while the earlier one is in flight or retrying).

        On PostgreSQL the rows are locked with ``FOR UPDATE SKIP LOCKED``, so concurrent
        workers claim disjoint sets without waiting for each other; the lease condition is
        checked again in the UPDATE, which is what protects SQLite (one writer at a time).
        The attempt is counted at claim time: a worker that dies mid-delivery has used it."""
        d = deliveries
        earlier = deliveries.alias("earlier")
        earlier_pending = sa.exists().where(
            earlier.c.subscription_id == d.c.subscription_id, earlier.c.aggregate_type == d.c.aggregate_type,
            earlier.c.aggregate_id == d.c.aggregate_id, earlier.c.state == PENDING,
            earlier.c.aggregate_version < d.c.aggregate_version)
        ids = list(self.session.execute(
            sa.select(d.c.id).where(d.c.subscription_id == subscription_id, *self._claimable(now), ~earlier_pending)
            .order_by(d.c.next_attempt_at, d.c.id).limit(limit)
            .with_for_update(skip_locked=True, of=d)).scalars())
        if not ids:
            return []
        self.session.execute(sa.update(d).where(
            d.c.id.in_(ids), d.c.state == PENDING,
            sa.or_(d.c.lease_expires_at.is_(None), d.c.lease_expires_at <= now))
            .values(lease_token=token, lease_expires_at=lease_until, attempts=d.c.attempts + 1,
                    last_attempt_at=now))
        rows = self.session.execute(
            sa.select(d.c.id, d.c.subscription_id, d.c.attempts, d.c.event_id, d.c.event_type,
                      subscriptions.c.url, subscriptions.c.secret, events.c.payload, events.c.occurred_at)
            .join(subscriptions, subscriptions.c.id == d.c.subscription_id)
            .join(events, events.c.event_id == d.c.event_id)
            .where(d.c.lease_token == token).order_by(d.c.next_attempt_at, d.c.id)).all()
        return [Job(delivery_id=r.id, subscription_id=r.subscription_id, lease_token=token, attempts=r.attempts,
                    url=r.url, secret=r.secret, event_id=r.event_id, event_type=r.event_type,
                    body=r.payload.encode("utf-8"), lease_expires_at=lease_until, occurred_at=r.occurred_at)
                for r in rows]

    def release(self, jobs: list[Job]) -> None:
        """Hand back claimed deliveries that were not sent (their attempt not counted)."""
        for job in jobs:
            self.session.execute(sa.update(deliveries).where(
                deliveries.c.id == job.delivery_id, deliveries.c.lease_token == job.lease_token,
                deliveries.c.state == PENDING)
                .values(lease_token=None, lease_expires_at=None, attempts=deliveries.c.attempts - 1))

    def mark_delivered(self, delivery_id: int, now: dt.datetime, status_code: int, duration_ms: int) -> bool:
        """A 2xx counts even when the lease was lost meanwhile: the receiver has it."""
        return self.session.execute(sa.update(deliveries).where(
            deliveries.c.id == delivery_id, deliveries.c.state == PENDING)
            .values(state=DELIVERED, delivered_at=now, next_attempt_at=None, lease_token=None,
                    lease_expires_at=None, last_status_code=status_code, last_error=None,
                    last_duration_ms=duration_ms)).rowcount == 1

    def record_failure(self, delivery_id: int, token: str, *, status_code: int | None, error: str,
                       duration_ms: int, retry_at: dt.datetime | None) -> bool:
        """Schedule the next attempt (``retry_at``) or give up (``None``). Only the holder
        of the lease records a failure: a lost lease means another worker owns it now."""
        return self.session.execute(sa.update(deliveries).where(
            deliveries.c.id == delivery_id, deliveries.c.lease_token == token, deliveries.c.state == PENDING)
            .values(state=PENDING if retry_at else FAILED, next_attempt_at=retry_at, lease_token=None,
                    lease_expires_at=None, last_status_code=status_code, last_error=error[:500],
                    last_duration_ms=duration_ms)).rowcount == 1

    def backlog(self, now: dt.datetime) -> tuple[int, int, dt.datetime | None]:
        """(pending, due now, oldest pending's creation time) of the deliveries that can still
        go out: those of a deactivated or deleted subscription wait for a person, not for
        the worker, and would keep the backlog alerts firing."""
        d, s = deliveries.c, subscriptions.c
        live = sa.exists().where(s.id == d.subscription_id, s.deleted_at.is_(None),
                                 sa.or_(s.active.is_(True), d.event_type == PING))
        pending, oldest = self.session.execute(sa.select(sa.func.count(), sa.func.min(d.created_at))
                                               .where(d.state == PENDING, live)).one()
        due = self.session.execute(sa.select(sa.func.count()).select_from(deliveries)
                                   .where(d.state == PENDING, d.next_attempt_at <= now, live)).scalar_one()
        if oldest is not None and oldest.tzinfo is None:
            oldest = oldest.replace(tzinfo=dt.timezone.utc)
        return pending, due, oldest
