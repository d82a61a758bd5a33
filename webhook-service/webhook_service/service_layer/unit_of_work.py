"""webhook-service's unit of work: the shared one (no outbox: it publishes nothing) with
this service's repositories, for requests, the delivery worker and, joined to the
consumer's transaction (``WebhookUnitOfWork.joining``), the event handler."""
from __future__ import annotations

from sqlalchemy.orm import Session

from crm_common.db import UnitOfWork

from ..adapters.repository import CustomerDomainRepository, DeliveryRepository, EventRepository, SubscriptionRepository


class WebhookUnitOfWork(UnitOfWork):
    def bind(self, session: Session) -> None:
        self.subscriptions = SubscriptionRepository(session)
        self.deliveries = DeliveryRepository(session)
        self.events = EventRepository(session)
        self.customer_domains = CustomerDomainRepository(session)
