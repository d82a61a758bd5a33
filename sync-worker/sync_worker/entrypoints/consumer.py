"""The customer-event consumer (``sync-worker consume``): queue ``sync-worker.customer-sync``.

The shared ``EventConsumer`` parses, dedupes by ``event_id``, drops versions older than
the last applied one, binds the event's ``trace_id`` to the log, opens the transaction and
hands the handlers below a ``SyncUnitOfWork`` joined to it; then it commits and acks. A
failing sync is logged, recorded as failed, and retried by redelivery (then
dead-lettered); the customer update it follows was committed by customer-service long
before, so it is never undone."""
from __future__ import annotations

import datetime as dt
from typing import Callable

from crm_common.config import Settings
from crm_common.events import EventHandlers

from ..bootstrap import SyncWorker, bootstrap
from ..domain.commands import ApplyCustomerChange
from ..domain.model import CustomerInfo
from ..service_layer import sync
from ..service_layer.unit_of_work import SyncUnitOfWork

CONSUMER_NAME = "sync-worker.customer-sync"
QUEUE = "sync-worker.customer-sync"
# Deliveries that arrive together share one commit (a savepoint each): the handler locks
# only one customer's rows, so batches cannot deadlock with other writers.
BATCH_SIZE = 50

handlers = EventHandlers()


def customer_change(event: dict) -> ApplyCustomerChange:
    """The event as a command (CONTRACT §5 envelope, ``data``: the customer after the change)."""
    actor = event.get("actor") or {}
    return ApplyCustomerChange(
        customer=CustomerInfo.from_customer_data(event["data"], event.get("factory_id")),
        event_type=event["event_type"], event_id=str(event["event_id"]),
        customer_version=int(event["aggregate_version"]),
        changed_fields=tuple(str(name) for name in event.get("changed_fields") or ()),
        options=dict(event.get("options") or {}), occurred_at=_instant(event.get("occurred_at")),
        trace_id=event.get("trace_id"), actor_id=actor.get("sub"), actor_name=actor.get("name"))


def _instant(text) -> dt.datetime | None:
    try:
        return dt.datetime.fromisoformat(str(text).replace("Z", "+00:00")) if text else None
    except ValueError:
        return None


@handlers.on("customer.created", "customer.updated", "customer.deleted")
def on_customer_event(uow: SyncUnitOfWork, event: dict) -> None:
    sync.apply_customer_change(customer_change(event), uow)


BINDINGS = handlers.bindings


def make_handler(worker: SyncWorker) -> Callable[[SyncUnitOfWork, dict], None]:
    """The consumer's ``handler(uow, event)``; a failure is also recorded in the history
    through a unit of work of its own (the event's transaction is rolled back)."""
    def handle(uow: SyncUnitOfWork, event: dict) -> None:
        try:
            handlers(uow, event)
        except Exception as exc:
            if handlers.handles(event["event_type"]):
                sync.record_failed_change(customer_change(event), worker.uow(), exc)
            raise
    return handle


def handler_factory(settings: Settings) -> Callable[[SyncUnitOfWork, dict], None]:
    return make_handler(bootstrap(settings, pool_size=1))


def unit_of_work(settings: Settings) -> Callable:
    return SyncUnitOfWork.joining
