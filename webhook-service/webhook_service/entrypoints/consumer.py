"""The event consumer (``webhook-service consume``): queue ``webhook-service.deliveries``
bound to every event (``#``).

The shared ``EventConsumer`` parses, dedupes by ``event_id``, opens the transaction, calls
``handle`` below, commits and acks. No ``aggregate_version`` filter (``versions=None``):
outside systems receive every event, not only the newest state; the delivery worker keeps
each aggregate's events in version order."""
from __future__ import annotations

from sqlalchemy.orm import Session

from crm_common.config import Settings

from ..service_layer import fanout
from ..service_layer.unit_of_work import EventTransaction

CONSUMER_NAME = "webhook-service.deliveries"
QUEUE = "webhook-service.deliveries"
BINDINGS = ["#"]


def handler_factory(_settings: Settings):
    def handle(session: Session, event: dict) -> None:
        fanout.handle_event(EventTransaction(session), event)
    return handle
