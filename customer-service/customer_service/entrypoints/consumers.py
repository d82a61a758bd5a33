"""The event consumer of customer-service (an entrypoint, like the views): each event the
queue delivers becomes a command for its handler, run in the service's unit of work joined
to the consumer's transaction (dedupe by ``event_id``, version order, commit, ack: the
shared ``crm_common`` consumer).

``customer-service consume``: queue ``customer-service.viewing-stats`` (its name predates
the order facts; renaming a live queue is an operations step), bound to the event types
registered below, dead letters in ``….dlq``."""
from __future__ import annotations

import datetime as dt
from decimal import Decimal

from crm_common.context import system_context
from crm_common.events import EventHandlers, InvalidEvent
from crm_common.workers import consumer_command

from ..adapters import orm
from ..bootstrap import bootstrap
from ..domain import commands
from ..service_layer import orders, viewing_stats
from ..service_layer.unit_of_work import CustomerUnitOfWork

QUEUE = "customer-service.viewing-stats"
handlers = EventHandlers()


def _context(event: dict, factory_id: str):
    actor = event.get("actor") or {}
    return system_context(factory_id, event.get("trace_id"), sub=actor.get("sub") or "system",
                          name=actor.get("name") or "system")


def _int(value, name: str) -> int:
    try:
        return int(value)
    except (TypeError, ValueError):
        raise InvalidEvent(f"{name} is not an integer: {value!r}") from None


@handlers.on("viewing.recorded", "viewing.updated")
def apply_viewing(uow: CustomerUnitOfWork, event: dict) -> None:
    """Seed 002: a viewing record's latest state counts for its customer."""
    data = event["data"]
    factory_id = event.get("factory_id") or data.get("factory_id")
    if not factory_id:
        raise InvalidEvent("viewing event lacks factory_id")
    customer_id = data.get("customer_id")
    viewing_stats.record_viewing(commands.RecordViewing(
        _context(event, factory_id), record_id=str(event["aggregate_id"]),
        customer_id=None if customer_id is None else _int(customer_id, "customer_id"),
        version=int(event["aggregate_version"]), commission=Decimal(str(data.get("commission") or 0)),
        viewing_status=data.get("viewing_status"), viewing_feedback=data.get("viewing_feedback")), uow)


@handlers.on("order.recorded", "order.updated")
def apply_order(uow: CustomerUnitOfWork, event: dict) -> None:
    """An order's latest state (analytics-service): open orders, last order date, figures."""
    data = event["data"]
    factory_id = event.get("factory_id") or data.get("factory_id")
    if not factory_id:
        raise InvalidEvent("order event lacks factory_id")
    try:
        command = commands.RecordOrder(
            factory_id=str(factory_id), order_id=str(data["order_id"]),
            customer_id=_int(data["customer_id"], "customer_id"), status=str(data["status"]),
            order_date=dt.date.fromisoformat(str(data["order_date"])[:10]),
            total_amount=Decimal(str(data.get("total_amount") or 0)), version=int(event["aggregate_version"]))
    except (KeyError, ValueError, ArithmeticError) as exc:
        raise InvalidEvent(f"order event lacks a usable {exc}") from None
    orders.record_order(command, uow)


def consume_command():
    return consumer_command(
        "customer", name=QUEUE, queue=QUEUE, bindings=handlers.bindings,
        processed=orm.processed_events, versions=orm.applied_versions,
        handler_factory=lambda _settings: handlers,
        unit_of_work=lambda settings: bootstrap(settings, database=False).joining)
