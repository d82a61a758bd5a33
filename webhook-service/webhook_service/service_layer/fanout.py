"""The consumer's handler: one event in, one pending delivery per subscription that may
receive it, in the consumer's transaction (a unit of work joining it: the event is
acknowledged only once its deliveries are committed).

Who may receive an event:
- the tenant: the subscription's ``factory_id`` is the event's;
- the type: one of the subscription's patterns matches;
- the business domain of the event's customer: customer events carry it
  (``data.business_domain``); viewing and order events name only the customer, whose
  domain comes from the customer events consumed so far (``customer_domains``). While it is
  unknown the event is delivered at once to subscriptions of every domain and held for the
  domain-scoped ones, which receive it when the customer's next event tells its domain
  (never guessed: a wrong guess would leak it to another domain).
"""
from __future__ import annotations

import datetime as dt

from crm_common import logs
from crm_common.db import utcnow
from crm_common.events import json_dumps

from ..domain.model import PENDING, Delivery, Subscription
from .unit_of_work import WebhookUnitOfWork

log = logs.get_logger("webhook.fanout")

CUSTOMER = "customer"


def handle_event(uow: WebhookUnitOfWork, event: dict, now: dt.datetime | None = None) -> int:
    """Record the deliveries of ``event``; returns how many were recorded."""
    now = now or utcnow()
    factory_id = event.get("factory_id")
    if not factory_id:
        return 0
    with uow:
        recorded = _record(uow, factory_id, event, now)
        uow.commit()
    return recorded


def _record(uow: WebhookUnitOfWork, factory_id: str, event: dict, now: dt.datetime) -> int:
    customer_id, known, domain = _customer_and_domain(uow, factory_id, event, now)
    wanted = [s for s in uow.subscriptions.active(factory_id) if s.wants(event["event_type"])]
    now_targets = [s for s in wanted if s.all_domains or (known and s.receives_domain(domain))]
    held = not known and any(not s.all_domains for s in wanted)
    recorded = 0
    if now_targets or held:
        uow.events.add(event_id=str(event["event_id"]), factory_id=factory_id, event_type=event["event_type"],
                       aggregate_type=str(event["aggregate_type"]), aggregate_id=str(event["aggregate_id"]),
                       aggregate_version=int(event["aggregate_version"]), customer_id=customer_id,
                       business_domain=domain, awaiting_domain=held, occurred_at=_occurred_at(event),
                       payload=json_dumps(event), received_at=now)
        recorded += _add_deliveries(uow, now_targets, event, factory_id, now)
    if event["aggregate_type"] == CUSTOMER:
        recorded += _release_held(uow, factory_id, customer_id, domain, now)
    if recorded:
        uow.deliveries.announce()
    if held:
        log.info("webhook_event_held", customer_id=customer_id, reason="customer domain not known yet")
    return recorded


def _customer_and_domain(uow: WebhookUnitOfWork, factory_id: str, event: dict,
                         now: dt.datetime) -> tuple[str | None, bool, str | None]:
    """(customer id, whether its domain is known, the domain)."""
    data = event.get("data") or {}
    if event["aggregate_type"] == CUSTOMER:
        customer_id, domain = str(event["aggregate_id"]), data.get("business_domain")
        uow.customer_domains.remember(factory_id, customer_id, domain, int(event["aggregate_version"]), now)
        return customer_id, True, domain
    if data.get("customer_id") is None:
        return None, True, None  # belongs to no customer: subscriptions of every domain only
    customer_id = str(data["customer_id"])
    known, domain = uow.customer_domains.lookup(factory_id, customer_id)
    return customer_id, known, domain


def _add_deliveries(uow: WebhookUnitOfWork, targets: list[Subscription], event: dict, factory_id: str,
                    now: dt.datetime) -> int:
    for sub in targets:
        uow.deliveries.add(Delivery(
            subscription_id=sub.id, factory_id=factory_id, event_id=str(event["event_id"]),
            event_type=event["event_type"], aggregate_type=str(event["aggregate_type"]),
            aggregate_id=str(event["aggregate_id"]), aggregate_version=int(event["aggregate_version"]),
            state=PENDING, next_attempt_at=now, created_at=now))
    return len(targets)


def _release_held(uow: WebhookUnitOfWork, factory_id: str, customer_id: str, domain: str | None,
                  now: dt.datetime) -> int:
    """The customer's domain is known now: its held events go to the domain-scoped
    subscriptions of that domain (those of every domain had them already)."""
    held = uow.events.awaiting_domain(factory_id, customer_id)
    if not held:
        return 0
    scoped = [s for s in uow.subscriptions.active(factory_id) if not s.all_domains and s.receives_domain(domain)]
    released = 0
    for row in held:
        event = row._mapping
        targets = [s for s in scoped if s.wants(event["event_type"])
                   and not uow.deliveries.exists(s.id, event["event_id"])]
        released += _add_deliveries(uow, targets, dict(event), factory_id, now)
        uow.events.release(event["event_id"], domain)
    log.info("webhook_held_events_released", customer_id=customer_id, events=len(held), deliveries=released)
    return released


def _occurred_at(event: dict) -> dt.datetime | None:
    try:
        return dt.datetime.fromisoformat(str(event.get("occurred_at")).replace("Z", "+00:00"))
    except ValueError:
        return None
