"""The customer-event consumer (``viewing-service consume``): queue
``viewing-service.customer-domains``. It keeps each customer's business domain, which
decides who may see the customer's viewing records (CONTRACT §3).

The shared ``EventConsumer`` parses, dedupes by ``event_id``, drops versions older than the
last applied one, opens the transaction and hands the handlers below a
``ServiceUnitOfWork`` joined to it; then it commits and acks."""
from __future__ import annotations

from typing import Callable

from crm_common.config import Settings
from crm_common.events import EventHandlers

from ..domain.commands import LearnCustomerDomain
from ..service_layer import viewing_records
from ..service_layer.unit_of_work import ServiceUnitOfWork

QUEUE = "viewing-service.customer-domains"
CONSUMER_NAME = QUEUE
# Each event upserts one row: deliveries that arrive together share a commit.
BATCH_SIZE = 50

handlers = EventHandlers()


@handlers.on("customer.created", "customer.updated", "customer.deleted")
def on_customer_event(uow: ServiceUnitOfWork, event: dict) -> None:
    data = event["data"]
    viewing_records.learn_customer_domain(LearnCustomerDomain(
        customer_id=int(event["aggregate_id"]), factory_id=str(event.get("factory_id") or data.get("factory_id")),
        business_domain=data.get("business_domain"), version=int(event["aggregate_version"])), uow)


BINDINGS = handlers.bindings


def handler_factory(settings: Settings) -> Callable[[ServiceUnitOfWork, dict], None]:
    return handlers  # needs nothing but the unit of work the consumer hands it


def unit_of_work(settings: Settings) -> Callable:
    return ServiceUnitOfWork.joining
