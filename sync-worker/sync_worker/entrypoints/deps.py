"""What views need from the app: a fresh unit of work, and a way to ask customer-service
about a customer with the caller's own token, tenant and trace."""
from __future__ import annotations

from flask import current_app, request

from crm_common import logs
from crm_common.context import RequestContext

from ..service_layer.customers import FetchCustomer
from ..service_layer.unit_of_work import SyncUnitOfWork


def uow() -> SyncUnitOfWork:
    return current_app.extensions["uow_factory"]()


def customer_fetcher(ctx: RequestContext) -> FetchCustomer:
    client = current_app.extensions["customer_client"]
    authorization = request.headers.get("Authorization")
    trace = logs.trace_headers()
    return lambda customer_id: client.fetch(customer_id, factory_id=ctx.factory_id,
                                            authorization=authorization, trace_headers=trace)
