"""What views need from the composition root (``bootstrap.current()``): a fresh unit of
work, the owner of customers acting for the caller, the settings they read."""
from __future__ import annotations

from flask import request

from crm_common.context import RequestContext

from ..bootstrap import current
from ..service_layer.owner import CustomerOwner
from ..service_layer.unit_of_work import AnalyticsUnitOfWork


def uow() -> AnalyticsUnitOfWork:
    return current().unit_of_work()


def owner(ctx: RequestContext) -> CustomerOwner:
    """customer-service, asked with the caller's own token, tenant and trace id."""
    return current().customer_service.acting_for(authorization=request.headers.get("Authorization"),
                                                 factory_id=ctx.factory_id, trace_id=ctx.trace_id)


def timezone() -> str:
    return current().timezone


def backlog() -> dict | None:
    """The consumer queue's backlog as RabbitMQ reports it (``None`` when unknown)."""
    return current().queue_backlog()
