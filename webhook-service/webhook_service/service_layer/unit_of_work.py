"""webhook-service's unit of work: the shared one (no outbox: it publishes nothing) with
this service's repositories. ``EventTransaction`` gives the same repositories over the
transaction the event consumer opened (it dedupes and commits; handlers never commit)."""
from __future__ import annotations

from sqlalchemy.orm import Session

from crm_common.db import UnitOfWork

from ..adapters.repository import (CustomerDomainRepository, DeliveryRepository, EventRepository,
                                   SubscriptionRepository)


class _Repositories:
    session: Session

    def _bind_repositories(self) -> None:
        self.subscriptions = SubscriptionRepository(self.session)
        self.deliveries = DeliveryRepository(self.session)
        self.events = EventRepository(self.session)
        self.customer_domains = CustomerDomainRepository(self.session)


class WebhookUnitOfWork(UnitOfWork, _Repositories):
    def __enter__(self):
        super().__enter__()
        self._bind_repositories()
        return self


class EventTransaction(_Repositories):
    """Repositories over the consumer's open transaction."""

    def __init__(self, session: Session):
        self.session = session
        self._bind_repositories()
