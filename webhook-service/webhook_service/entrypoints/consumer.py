"""The event consumer (``webhook-service consume``): queue ``webhook-service.deliveries``
bound to every event type of CONTRACT §5.

The shared ``EventConsumer`` parses, dedupes by ``event_id``, opens the transaction, hands
``fanout.handle_event`` a unit of work joining it, commits and acks. No
``aggregate_version`` filter (``versions=None``): outside systems receive every event,
not only the newest state; the delivery worker keeps each aggregate's events in version
order."""
from __future__ import annotations

from crm_common.config import Settings
from crm_common.events import EVENT_TYPES, EventHandlers

from ..service_layer import fanout
from ..service_layer.unit_of_work import WebhookUnitOfWork

CONSUMER_NAME = "webhook-service.deliveries"
QUEUE = "webhook-service.deliveries"

handlers = EventHandlers()
handlers.on(*sorted(EVENT_TYPES))(fanout.handle_event)  # every type: subscribers choose with patterns
BINDINGS = handlers.bindings


def handler_factory(_settings: Settings) -> EventHandlers:
    return handlers


def unit_of_work(_settings: Settings):
    return WebhookUnitOfWork.joining
