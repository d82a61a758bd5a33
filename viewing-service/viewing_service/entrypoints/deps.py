"""What views need from the app: a fresh unit of work and the wired adapters."""
from __future__ import annotations

from flask import current_app, request

from crm_common.context import RequestContext
from crm_common.web import settings_of

from ..adapters.customer_service import CustomerDirectory
from ..adapters.property_lookup import PropertyLookup
from ..service_layer.unit_of_work import ServiceUnitOfWork


def uow() -> ServiceUnitOfWork:
    return current_app.extensions["uow_factory"]()


def customers_for(ctx: RequestContext) -> CustomerDirectory:
    """customer-service with the caller's own token and tenant."""
    return current_app.extensions["customer_service"].for_caller(request.headers.get("Authorization"), ctx.factory_id)


def property_lookup() -> PropertyLookup | None:
    return current_app.extensions.get("property_lookup")


def timezone() -> str:
    return settings_of().app_timezone
