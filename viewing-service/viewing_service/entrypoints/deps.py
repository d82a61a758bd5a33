"""What views need from the app: the composition root, and customer-service as the caller
sees it (its own token and tenant)."""
from __future__ import annotations

from flask import Flask, current_app, request

from crm_common.context import RequestContext

from ..adapters.customer_service import CustomerDirectory
from ..bootstrap import ViewingService

_KEY = "viewing_service"


def install(app: Flask, service: ViewingService) -> ViewingService:
    app.extensions[_KEY] = service
    return service


def core(app: Flask | None = None) -> ViewingService:
    return (app or current_app).extensions[_KEY]


def customers_for(ctx: RequestContext) -> CustomerDirectory:
    return core().customers_for(ctx, request.headers.get("Authorization"))
