"""What views need from the composition root: a fresh unit of work and the service's
settings (``bootstrap.current()``)."""
from __future__ import annotations

from ..bootstrap import current
from ..service_layer.unit_of_work import AnalyticsUnitOfWork


def uow() -> AnalyticsUnitOfWork:
    return current().unit_of_work()


def timezone() -> str:
    return current().timezone


def backlog() -> dict | None:
    """The consumer queue's backlog as RabbitMQ reports it (``None`` when unknown)."""
    return current().queue_backlog()
