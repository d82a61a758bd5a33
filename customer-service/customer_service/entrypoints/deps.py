"""What views need from the app: a fresh unit of work and the request context."""
from __future__ import annotations

from flask import current_app

from ..service_layer.unit_of_work import CustomerUnitOfWork


def uow() -> CustomerUnitOfWork:
    return current_app.extensions["uow_factory"]()


def cache():
    """The optional Redis read cache (``None`` when ``REDIS_URL`` is unset)."""
    return current_app.extensions.get("customer_cache")
