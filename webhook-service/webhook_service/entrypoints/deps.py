"""What views need from the app: a fresh unit of work and the service's wiring."""
from __future__ import annotations

from flask import current_app

from ..bootstrap import Webhooks
from ..service_layer.unit_of_work import WebhookUnitOfWork


def webhooks() -> Webhooks:
    return current_app.extensions["webhooks"]


def uow() -> WebhookUnitOfWork:
    return current_app.extensions["uow_factory"]()
